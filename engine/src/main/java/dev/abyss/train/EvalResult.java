package dev.abyss.train;

/**
 * Test-set figures.
 *
 * @param confusion confusion[label][predicted] counts
 */
public record EvalResult(int samples, double meanLoss, int correct, int[][] confusion,
    double seconds) {
  public double accuracy() {
    return samples == 0 ? 0 : (double) correct / samples;
  }

  /** Accuracy on the samples of each class (NaN where a class has none). */
  public double[] perClassAccuracy() {
    double[] a = new double[confusion.length];
    for (int c = 0; c < a.length; c++) {
      int tot = 0;
      for (int v : confusion[c]) {
        tot += v;
      }
      a[c] = tot == 0 ? Double.NaN : (double) confusion[c][c] / tot;
    }
    return a;
  }
}
