package dev.abyss.kernel;

import static dev.abyss.kernel.Kernels.F32;

import java.lang.foreign.MemorySegment;

/**
 * Batch 1 at widths up to 8 other than 2 (which has {@link Width2}): whole chunks of layers per
 * call in scalar code, each layer's weights copied once into a small array (reading them one
 * float at a time through the segment cost more than the arithmetic). One sample fills a few
 * lanes of one vector at most, so the per-layer vector kernels spent their time on masks and
 * calls: a width-4, batch-1 step at 1M layers took 0.46-0.55 s with them and 0.12-0.29 s with
 * this class (Intel machine, docs/decisions.md).
 *
 * <p>Every operation and its order is {@link ScalarKernels}' per layer (the forward's fused
 * multiply-adds from z = b in input order, one-term gradient sums from 0f, dh by fused
 * multiply-adds in output order with W before the update, {@code p - lr * g}), so the results
 * are bitwise those of the scalar oracle (tested). {@link VectorKernels} runs these shapes
 * here, or at widths 4 and 8 in {@link Rows} (vectors, the same bits), and its per-layer calls
 * through the scalar kernel, so both kernel sets give the same bits for them.
 */
final class Narrow {
  private Narrow() {}

  /** The widest layer this class takes. */
  static final int MAX_WIDTH = 8;

  static boolean applies(int w, int batch) {
    return batch == 1 && w <= MAX_WIDTH && w != 2;
  }

  /** {@code count} layers forward from byte offset {@code off}, h (w) in place. */
  static void forward(int w, MemorySegment wts, long off, int count, float alpha, Activation act,
      float[] h) {
    long lb = Kernels.layerBytes(w);
    int lf = Kernels.layerFloats(w);
    float[] lw = new float[lf];
    float[] z = new float[w];
    for (int l = 0; l < count; l++) {
      lw = Kernels.copyLayer(lw, w, wts, off + l * lb);
      affine(w, lw, h, z);
      for (int o = 0; o < w; o++) {
        h[o] = Math.fma(alpha, act.apply(z[o]), h[o]);
      }
    }
  }

  /**
   * z = b + h W by fused multiply-adds, inputs in order (the scalar kernel's order for each
   * output; one output at a time, so that its sum stays in a register). {@code lw}: the layer.
   */
  private static void affine(int w, float[] lw, float[] h, float[] z) {
    int bias = w * w;
    for (int o = 0; o < w; o++) {
      float zo = lw[bias + o];
      for (int i = 0; i < w; i++) {
        zo = Math.fma(h[i], lw[i * w + o], zo);
      }
      z[o] = zo;
    }
  }

  /**
   * {@code count} layers forward, saving layer l's input at {@code hSave[w l]} and act'(z) at
   * {@code dSave[w l]}.
   */
  static void forwardSave(int w, MemorySegment wts, long off, int count, float alpha,
      Activation act, float[] h, float[] hSave, float[] dSave) {
    long lb = Kernels.layerBytes(w);
    int lf = Kernels.layerFloats(w);
    float[] lw = new float[lf];
    float[] z = new float[w];
    for (int l = 0; l < count; l++) {
      int s = w * l;
      System.arraycopy(h, 0, hSave, s, w);
      lw = Kernels.copyLayer(lw, w, wts, off + l * lb);
      affine(w, lw, h, z);
      // act and act' as the scalar kernel computes them
      for (int o = 0; o < w; o++) {
        float zo = z[o];
        float a;
        switch (act) {
          case TANH -> {
            a = TanhMath.tanh(zo);
            dSave[s + o] = 1f - a * a;
          }
          case SOFTSIGN -> {
            a = zo / (1f + Math.abs(zo));
            float r = 1f - Math.abs(a);
            dSave[s + o] = r * r;
          }
          default -> {
            dSave[s + o] = zo > 0f ? 1f : 0f;
            a = zo > 0f ? zo : 0f;
          }
        }
        h[o] = Math.fma(alpha, a, h[o]);
      }
    }
  }

  /**
   * Backward and SGD update over {@code count} layers, last first, dh (w) in place; with
   * {@code grads} non-null, layer l's gW (w x w) and gb (w) are written at {@code grads[(w w +
   * w) l]}.
   */
  static void backwardUpdate(int w, MemorySegment wts, long off, int count, float alpha,
      float lr, float[] hSave, float[] dSave, float[] dh, float[] grads) {
    long lb = Kernels.layerBytes(w);
    int lf = Kernels.layerFloats(w);
    int bias = w * w;
    float[] lw = new float[lf];
    float[] g = new float[w];
    for (int l = count - 1; l >= 0; l--) {
      long p = off + l * lb;
      int s = w * l;
      lw = Kernels.copyLayer(lw, w, wts, p);
      for (int o = 0; o < w; o++) {
        g[o] = alpha * dh[o] * dSave[s + o];
      }
      for (int i = 0; i < w; i++) {
        float xi = hSave[s + i];
        float di = dh[i];
        for (int o = 0; o < w; o++) {
          // a one-term sum from 0f, as the scalar kernel's (0f + -0f is +0f)
          float gw = 0f + xi * g[o];
          float wio = lw[i * w + o];
          di = Math.fma(g[o], wio, di);
          if (grads != null) {
            grads[l * lf + i * w + o] = gw;
          }
          lw[i * w + o] = wio - lr * gw;
        }
        dh[i] = di;
      }
      for (int o = 0; o < w; o++) {
        float gb = 0f + g[o];
        if (grads != null) {
          grads[l * lf + bias + o] = gb;
        }
        lw[bias + o] = lw[bias + o] - lr * gb;
      }
      MemorySegment.copy(lw, 0, wts, F32, p, lf);
    }
  }
}
