package dev.abyss.train;

import dev.abyss.kernel.Activation;

/**
 * A naive double-precision implementation of the whole residual net (DESIGN §1), written
 * independently of the engine: the oracle for finite differences and for "evaluates the
 * same loss".
 *
 * <p>core[l] holds layer l: W (w x w, W[in][out]) then b (w). head: W1 (784 x w), b1,
 * W2 (w x 10), b2.
 */
final class ReferenceNet {
  final int w;
  final Activation act;
  final double alpha;
  final double[][] core;
  final double[] head;

  ReferenceNet(int w, Activation act, double alpha, double[][] core, double[] head) {
    this.w = w;
    this.act = act;
    this.alpha = alpha;
    this.core = core;
    this.head = head;
  }

  /** Mean cross-entropy over the samples; x is (n, 784) pixel values in [0, 1]. */
  double loss(double[][] x, int[] labels) {
    double total = 0;
    for (int s = 0; s < x.length; s++) {
      double[] h = new double[w];
      for (int j = 0; j < w; j++) {
        double z = head[784 * w + j];
        for (int p = 0; p < 784; p++) {
          z += x[s][p] * head[p * w + j];
        }
        h[j] = Math.tanh(z);
      }
      for (double[] layer : core) {
        double[] nh = h.clone();
        for (int o = 0; o < w; o++) {
          double z = layer[w * w + o];
          for (int i = 0; i < w; i++) {
            z += h[i] * layer[i * w + o];
          }
          nh[o] += alpha * act.applyDouble(z);
        }
        h = nh;
      }
      int w2 = 784 * w + w;
      int b2 = w2 + 10 * w;
      double[] logits = new double[10];
      double m = Double.NEGATIVE_INFINITY;
      for (int c = 0; c < 10; c++) {
        logits[c] = head[b2 + c];
        for (int i = 0; i < w; i++) {
          logits[c] += h[i] * head[w2 + i * 10 + c];
        }
        m = Math.max(m, logits[c]);
      }
      double sum = 0;
      for (int c = 0; c < 10; c++) {
        sum += Math.exp(logits[c] - m);
      }
      total += Math.log(sum) + m - logits[labels[s]];
    }
    return total / x.length;
  }
}
