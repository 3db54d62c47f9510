package dev.abyss.train;

/**
 * What one training step saw, before its update.
 *
 * @param step the global step index (0-based: the number of steps applied before it)
 * @param lossSum summed cross-entropy over the batch
 * @param correct correct predictions in the batch
 * @param batch the batch size
 * @param seconds wall time of the step
 */
public record StepResult(long step, double lossSum, int correct, int batch, double seconds) {
  public double meanLoss() {
    return lossSum / batch;
  }
}
