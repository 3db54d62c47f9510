package dev.abyss.kernel;

import static dev.abyss.kernel.Kernels.F32;

import java.lang.foreign.MemorySegment;

/**
 * Width 2, batch 1 (the reference's default `train` core): whole chunks of layers per call in
 * scalar code, h or dh in two locals from layer to layer. One sample fills one lane of a
 * vector, so the Vector API only adds masks here (the per-layer vector kernels ran a step at
 * 197 ns/layer, the per-layer scalar ones at 144).
 *
 * <p>Every operation and its order is {@link ScalarKernels}' per layer (the forward's fused
 * multiply-adds, sums from 0f in index order, {@code p - lr * g}), so the results are bitwise
 * those of the scalar oracle (tested); {@link VectorKernels} uses this class for the whole
 * shape, its per-layer calls included, so both kernel sets give the same bits at width 2,
 * batch 1.
 */
final class Width2 {
  private Width2() {}

  /** Bytes per layer: W (2 x 2) then b (2). */
  private static final long LB = 24;

  static boolean applies(int w, int batch) {
    return w == 2 && batch == 1;
  }

  /** {@code count} layers forward from byte offset {@code off}, h (2) in place. */
  static void forward(MemorySegment wts, long off, int count, float alpha, Activation act,
      float[] h) {
    float h0 = h[0];
    float h1 = h[1];
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      float z0 = Math.fma(h1, wts.get(F32, p + 8),
          Math.fma(h0, wts.get(F32, p), wts.get(F32, p + 16)));
      float z1 = Math.fma(h1, wts.get(F32, p + 12),
          Math.fma(h0, wts.get(F32, p + 4), wts.get(F32, p + 20)));
      h0 = Math.fma(alpha, act.apply(z0), h0);
      h1 = Math.fma(alpha, act.apply(z1), h1);
    }
    h[0] = h0;
    h[1] = h1;
  }

  /**
   * {@code count} layers forward, saving layer l's input at {@code hSave[2 l]} and act'(z) at
   * {@code dSave[2 l]}.
   */
  static void forwardSave(MemorySegment wts, long off, int count, float alpha, Activation act,
      float[] h, float[] hSave, float[] dSave) {
    float h0 = h[0];
    float h1 = h[1];
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      int s = 2 * l;
      hSave[s] = h0;
      hSave[s + 1] = h1;
      float z0 = Math.fma(h1, wts.get(F32, p + 8),
          Math.fma(h0, wts.get(F32, p), wts.get(F32, p + 16)));
      float z1 = Math.fma(h1, wts.get(F32, p + 12),
          Math.fma(h0, wts.get(F32, p + 4), wts.get(F32, p + 20)));
      // act and act' as the scalar kernel computes them
      float a0;
      float a1;
      switch (act) {
        case TANH -> {
          a0 = TanhMath.tanh(z0);
          a1 = TanhMath.tanh(z1);
          dSave[s] = 1f - a0 * a0;
          dSave[s + 1] = 1f - a1 * a1;
        }
        case SOFTSIGN -> {
          a0 = z0 / (1f + Math.abs(z0));
          a1 = z1 / (1f + Math.abs(z1));
          float r0 = 1f - Math.abs(a0);
          float r1 = 1f - Math.abs(a1);
          dSave[s] = r0 * r0;
          dSave[s + 1] = r1 * r1;
        }
        default -> {
          dSave[s] = z0 > 0f ? 1f : 0f;
          dSave[s + 1] = z1 > 0f ? 1f : 0f;
          a0 = z0 > 0f ? z0 : 0f;
          a1 = z1 > 0f ? z1 : 0f;
        }
      }
      h0 = Math.fma(alpha, a0, h0);
      h1 = Math.fma(alpha, a1, h1);
    }
    h[0] = h0;
    h[1] = h1;
  }

  /**
   * Backward and SGD update over {@code count} layers, last first, dh (2) in place; with
   * {@code grads} non-null, layer l's gW (4) and gb (2) are written at {@code grads[6 l]}.
   */
  static void backwardUpdate(MemorySegment wts, long off, int count, float alpha, float lr,
      float[] hSave, float[] dSave, float[] dh, float[] grads) {
    float dh0 = dh[0];
    float dh1 = dh[1];
    for (int l = count - 1; l >= 0; l--) {
      long p = off + l * LB;
      int s = 2 * l;
      float g0 = alpha * dh0 * dSave[s];
      float g1 = alpha * dh1 * dSave[s + 1];
      float x0 = hSave[s];
      float x1 = hSave[s + 1];
      // one-term sums, from 0f as the scalar kernel's
      float gw00 = 0f + x0 * g0;
      float gw01 = 0f + x0 * g1;
      float gw10 = 0f + x1 * g0;
      float gw11 = 0f + x1 * g1;
      float gb0 = 0f + g0;
      float gb1 = 0f + g1;
      float w00 = wts.get(F32, p);
      float w01 = wts.get(F32, p + 4);
      float w10 = wts.get(F32, p + 8);
      float w11 = wts.get(F32, p + 12);
      dh0 = Math.fma(g0, w00, dh0);
      dh0 = Math.fma(g1, w01, dh0);
      dh1 = Math.fma(g0, w10, dh1);
      dh1 = Math.fma(g1, w11, dh1);
      if (grads != null) {
        int q = 6 * l;
        grads[q] = gw00;
        grads[q + 1] = gw01;
        grads[q + 2] = gw10;
        grads[q + 3] = gw11;
        grads[q + 4] = gb0;
        grads[q + 5] = gb1;
      }
      wts.set(F32, p, w00 - lr * gw00);
      wts.set(F32, p + 4, w01 - lr * gw01);
      wts.set(F32, p + 8, w10 - lr * gw10);
      wts.set(F32, p + 12, w11 - lr * gw11);
      wts.set(F32, p + 16, wts.get(F32, p + 16) - lr * gb0);
      wts.set(F32, p + 20, wts.get(F32, p + 20) - lr * gb1);
    }
    dh[0] = dh0;
    dh[1] = dh1;
  }
}
