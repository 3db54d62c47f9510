package dev.abyss.train;

/**
 * What one training step saw, before its update.
 *
 * @param step the global step index (0-based: the number of steps applied before it)
 * @param lossSum summed cross-entropy over the batch
 * @param correct correct predictions in the batch
 * @param batch the batch size
 * @param seconds wall time of the step
 * @param diagnostics gradient-flow figures, on the steps that measured them (else null)
 * @param phases where the step's time went, thread by thread (null where not timed)
 */
public record StepResult(long step, double lossSum, int correct, int batch, double seconds,
    Diagnostics diagnostics, Phases phases) {

  public StepResult(long step, double lossSum, int correct, int batch, double seconds) {
    this(step, lossSum, correct, batch, seconds, null, null);
  }

  public double meanLoss() {
    return lossSum / batch;
  }

  /** The same result with diagnostics attached. */
  public StepResult with(Diagnostics d) {
    return new StepResult(step, lossSum, correct, batch, seconds, d, phases);
  }
}
