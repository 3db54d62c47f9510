package dev.abyss.nn;

import dev.abyss.kernel.JitQuiet;
import java.util.Arrays;

/**
 * The MLP baseline: 784 -> H (ReLU) -> 10. Hidden activations a are (B, H) sample-major.
 */
public final class Mlp {
  private Mlp() {}

  /**
   * a = relu(x W1 + b1); logits = a W2 + b2.
   *
   * @param x (B, 784) read-only
   * @param a (B, H) written
   * @param logits (B, 10) written
   */
  public static void forward(HeadParams hp, float[] x, int batch, float[] a, float[] logits) {
    int h = hp.mid;
    int c = HeadParams.CLASSES;
    float[] p = hp.p;
    for (int b = 0; b < batch; b++) {
      int ao = b * h;
      System.arraycopy(p, hp.b1, a, ao, h);
      int xo = b * HeadParams.INPUTS;
      for (int px = 0; px < HeadParams.INPUTS; px++) {
        float xv = x[xo + px];
        if (xv != 0f) { // exact: zero pixels add nothing
          int row = hp.w1 + px * h;
          for (int k = 0; k < h; k++) {
            a[ao + k] += xv * p[row + k];
          }
        }
      }
      for (int k = 0; k < h; k++) {
        if (!(a[ao + k] > 0f)) {
          a[ao + k] = 0f;
        }
      }
      int lo = b * c;
      System.arraycopy(p, hp.b2, logits, lo, c);
      for (int k = 0; k < h; k++) {
        float av = a[ao + k];
        int row = hp.w2 + k * c;
        for (int j = 0; j < c; j++) {
          logits[lo + j] += av * p[row + j];
        }
      }
    }
  }

  /**
   * Runs forward, backward and both SGD halves of this shape on scratch parameters and random
   * sparse inputs until three steps in a row run within 1.25x of the fastest step so far and
   * the JIT has compiled nothing for 150 ms (at least ten steps, at most two seconds), so that
   * the JIT has compiled them before a run's first step: without it the first step of {@code
   * train-mlp} took 5.8x the median, and with the speed test alone 1.2-2.4x, C2 still at work
   * (docs/decisions.md). Changes nothing a run can see.
   *
   * @return seconds spent
   */
  public static double warmUp(int hidden, int batch) {
    long t0 = System.nanoTime();
    long deadline = t0 + 2_000_000_000L;
    HeadParams hp = HeadParams.glorot(hidden, 1);
    HeadParams grad = hp.zerosLike();
    float[] x = new float[batch * HeadParams.INPUTS];
    java.util.SplittableRandom r = new java.util.SplittableRandom(1);
    for (int i = 0; i < x.length; i++) {
      x[i] = r.nextInt(5) == 0 ? r.nextFloat() : 0f;
    }
    float[] a = new float[batch * hidden];
    float[] da = new float[batch * hidden];
    float[] logits = new float[batch * HeadParams.CLASSES];
    float[] dl = new float[batch * HeadParams.CLASSES];
    int[] labels = new int[batch];
    for (int b = 0; b < batch; b++) {
      labels[b] = b % HeadParams.CLASSES;
    }
    long best = Long.MAX_VALUE;
    int steady = 0;
    JitQuiet quiet = new JitQuiet();
    for (int step = 0; (step < 10 || steady < 3 || !quiet.quietFor(150))
        && System.nanoTime() < deadline; step++) {
      long t = System.nanoTime();
      forward(hp, x, batch, a, logits);
      SoftmaxCrossEntropy.forwardBackward(logits, batch, labels, dl, null);
      backward(hp, x, batch, a, dl, grad, da);
      hp.sgdFirst(0.01f, grad);
      hp.sgdSecond(0.01f, grad);
      t = System.nanoTime() - t;
      best = Math.min(best, t);
      steady = t <= best * 5 / 4 ? steady + 1 : 0;
      quiet.poll();
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  /**
   * Gradients of all parameters from dl (the gradient of the loss w.r.t. the logits).
   *
   * @param a (B, H) from forward, read-only
   * @param dl (B, 10) read-only
   * @param grad written
   * @param da (B, H) scratch
   */
  public static void backward(HeadParams hp, float[] x, int batch, float[] a, float[] dl,
      HeadParams grad, float[] da) {
    int h = hp.mid;
    int c = HeadParams.CLASSES;
    float[] p = hp.p;
    float[] g = grad.p;
    Arrays.fill(g, 0f);
    for (int b = 0; b < batch; b++) {
      int ao = b * h;
      int lo = b * c;
      for (int k = 0; k < h; k++) {
        float av = a[ao + k];
        int row = k * c;
        float s = 0f;
        for (int j = 0; j < c; j++) {
          g[grad.w2 + row + j] += av * dl[lo + j];
          s += dl[lo + j] * p[hp.w2 + row + j];
        }
        da[ao + k] = av > 0f ? s : 0f;
      }
      for (int j = 0; j < c; j++) {
        g[grad.b2 + j] += dl[lo + j];
      }
      for (int k = 0; k < h; k++) {
        g[grad.b1 + k] += da[ao + k];
      }
      int xo = b * HeadParams.INPUTS;
      for (int px = 0; px < HeadParams.INPUTS; px++) {
        float xv = x[xo + px];
        if (xv != 0f) {
          int row = grad.w1 + px * h;
          for (int k = 0; k < h; k++) {
            g[row + k] += xv * da[ao + k];
          }
        }
      }
    }
  }
}
