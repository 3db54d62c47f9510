package dev.abyss.nn;

import dev.abyss.kernel.TanhMath;

/**
 * The residual net's head: input projection {@code h0 = tanh(x W1 + b1)} and classifier
 * {@code logits = h_L W2 + b2}, with W = {@code head.mid}. Core activations h are (B, W)
 * feature-major (element (b, j) at {@code j * B + b}).
 */
public final class ResidualHead {
  private ResidualHead() {}

  /**
   * h0 = tanh(x W1 + b1).
   *
   * @param x (B, 784) sample-major, read-only
   * @param h0 (B, W) written
   * @param acc (W) scratch
   */
  public static void inputForward(HeadParams hp, float[] x, int batch, float[] h0, float[] acc) {
    int w = hp.mid;
    float[] p = hp.p;
    for (int b = 0; b < batch; b++) {
      System.arraycopy(p, hp.b1, acc, 0, w);
      int xo = b * HeadParams.INPUTS;
      for (int px = 0; px < HeadParams.INPUTS; px++) {
        float xv = x[xo + px];
        if (xv != 0f) { // MNIST is mostly zeros; skipping them is exact
          int row = hp.w1 + px * w;
          for (int j = 0; j < w; j++) {
            acc[j] += xv * p[row + j];
          }
        }
      }
      for (int j = 0; j < w; j++) {
        h0[j * batch + b] = TanhMath.tanh(acc[j]);
      }
    }
  }

  /**
   * Gradients of W1, b1 from dh0.
   *
   * @param h0 (B, W) the input projection's output, read-only
   * @param dh0 (B, W) read-only
   * @param grad receives gW1 and gb1 (its first layer is overwritten)
   * @param g (B, W) scratch
   */
  public static void inputBackward(HeadParams hp, float[] x, int batch, float[] h0, float[] dh0,
      HeadParams grad, float[] g) {
    int w = hp.mid;
    int n = w * batch;
    for (int k = 0; k < n; k++) {
      g[k] = dh0[k] * (1f - h0[k] * h0[k]);
    }
    java.util.Arrays.fill(grad.p, grad.w1, grad.w2, 0f);
    for (int b = 0; b < batch; b++) {
      int xo = b * HeadParams.INPUTS;
      for (int px = 0; px < HeadParams.INPUTS; px++) {
        float xv = x[xo + px];
        if (xv != 0f) {
          int row = grad.w1 + px * w;
          for (int j = 0; j < w; j++) {
            grad.p[row + j] += xv * g[j * batch + b];
          }
        }
      }
    }
    for (int j = 0; j < w; j++) {
      float s = 0f;
      for (int b = 0; b < batch; b++) {
        s += g[j * batch + b];
      }
      grad.p[grad.b1 + j] = s;
    }
  }

  /**
   * logits = h W2 + b2.
   *
   * @param h (B, W) read-only
   * @param logits (B, 10) sample-major, written
   */
  public static void classifierForward(HeadParams hp, float[] h, int batch, float[] logits) {
    int w = hp.mid;
    int c = HeadParams.CLASSES;
    float[] p = hp.p;
    for (int b = 0; b < batch; b++) {
      for (int k = 0; k < c; k++) {
        float s = p[hp.b2 + k];
        for (int i = 0; i < w; i++) {
          s += h[i * batch + b] * p[hp.w2 + i * c + k];
        }
        logits[b * c + k] = s;
      }
    }
  }

  /**
   * Gradients of W2, b2 and of h, with W2 as it is now (call before updating it).
   *
   * @param h (B, W) read-only
   * @param dl (B, 10) read-only
   * @param grad receives gW2 and gb2 (its second layer is overwritten)
   * @param dh (B, W) written
   */
  public static void classifierBackward(HeadParams hp, float[] h, int batch, float[] dl,
      HeadParams grad, float[] dh) {
    int w = hp.mid;
    int c = HeadParams.CLASSES;
    float[] p = hp.p;
    for (int i = 0; i < w; i++) {
      for (int k = 0; k < c; k++) {
        float s = 0f;
        for (int b = 0; b < batch; b++) {
          s += h[i * batch + b] * dl[b * c + k];
        }
        grad.p[grad.w2 + i * c + k] = s;
      }
    }
    for (int k = 0; k < c; k++) {
      float s = 0f;
      for (int b = 0; b < batch; b++) {
        s += dl[b * c + k];
      }
      grad.p[grad.b2 + k] = s;
    }
    for (int i = 0; i < w; i++) {
      for (int b = 0; b < batch; b++) {
        float s = 0f;
        for (int k = 0; k < c; k++) {
          s += dl[b * c + k] * p[hp.w2 + i * c + k];
        }
        dh[i * batch + b] = s;
      }
    }
  }
}
