package dev.abyss.nn;

/** Softmax cross-entropy over 10 classes, mean over the batch. */
public final class SoftmaxCrossEntropy {
  private SoftmaxCrossEntropy() {}

  /** Summed loss (double) and the count of correct argmax predictions. */
  public record Result(double lossSum, int correct) {}

  /**
   * Loss of each sample and, when {@code dl} is not null, the gradient of the mean loss.
   *
   * @param logits (B, 10) sample-major, read-only
   * @param labels (B) class indices
   * @param dl (B, 10) written: (softmax - onehot) / n; may be null
   * @param predictions (B) written with the argmax when not null
   */
  public static Result forwardBackward(
      float[] logits, int n, int[] labels, float[] dl, int[] predictions) {
    int c = HeadParams.CLASSES;
    double loss = 0;
    int correct = 0;
    float inv = 1f / n;
    for (int b = 0; b < n; b++) {
      int o = b * c;
      float m = logits[o];
      int arg = 0;
      for (int k = 1; k < c; k++) {
        if (logits[o + k] > m) {
          m = logits[o + k];
          arg = k;
        }
      }
      float sum = 0f;
      for (int k = 0; k < c; k++) {
        sum += (float) Math.exp(logits[o + k] - m);
      }
      int y = labels[b];
      loss += Math.log(sum) - (logits[o + y] - m);
      if (arg == y) {
        correct++;
      }
      if (predictions != null) {
        predictions[b] = arg;
      }
      if (dl != null) {
        for (int k = 0; k < c; k++) {
          float pk = (float) Math.exp(logits[o + k] - m) / sum;
          dl[o + k] = (pk - (k == y ? 1f : 0f)) * inv;
        }
      }
    }
    return new Result(loss, correct);
  }
}
