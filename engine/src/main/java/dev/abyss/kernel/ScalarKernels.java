package dev.abyss.kernel;

import java.lang.foreign.MemorySegment;

/**
 * The reference kernels: plain loops in a fixed, documented operation order. They are the
 * oracle every faster implementation is tested against, and the fallback where the Vector
 * API is unavailable.
 *
 * <p>Operation order (what "bit-identical" means): the forward is fused multiply-adds,
 * {@code z[o][b] = fma(h[i][b], W[i][o], z[o][b])} from z = b[o] for i = 0..W-1, then
 * {@code h = fma(alpha, act(z), h)} (one rounding each: the FMA units do the work in one
 * instruction, and eval is bound by them; docs/decisions.md). In the backward, dh is fused
 * multiply-adds too, {@code dh[i][b] = fma(g[o][b], W[i][o], dh[i][b])} for o = 0..W-1 (the
 * chain from one layer to the next: one instruction a term); the gradient sums are separate
 * float multiplies and adds, over b = 0..B-1 in order.
 */
public final class ScalarKernels implements Kernels {
  // Not thread-safe (a scratch copy of the layer): one instance per thread, see fork().

  @Override
  public String name() {
    return "scalar";
  }

  @Override
  public void residualForward(
      int w, int batch, MemorySegment wts, long off, float alpha, Activation act, float[] h,
      float[] z) {
    affine(w, batch, wts, off, h, z);
    int n = w * batch;
    // one loop per activation: no switch inside the hot loop (same operations as act.apply)
    switch (act) {
      case TANH -> {
        for (int k = 0; k < n; k++) {
          h[k] = Math.fma(alpha, TanhMath.tanh(z[k]), h[k]);
        }
      }
      case SOFTSIGN -> {
        for (int k = 0; k < n; k++) {
          float zk = z[k];
          h[k] = Math.fma(alpha, zk / (1f + Math.abs(zk)), h[k]);
        }
      }
      case RELU -> {
        for (int k = 0; k < n; k++) {
          float zk = z[k];
          h[k] = Math.fma(alpha, zk > 0f ? zk : 0f, h[k]);
        }
      }
    }
  }

  @Override
  public void residualForwardSave(
      int w, int batch, MemorySegment wts, long off, float alpha, Activation act, float[] h,
      float[] z, float[] hSave, float[] dSave, int saveOff) {
    int n = w * batch;
    System.arraycopy(h, 0, hSave, saveOff, n);
    affine(w, batch, wts, off, h, z);
    // the same operations as act.derivative / act.apply, one loop per activation
    switch (act) {
      case TANH -> {
        for (int k = 0; k < n; k++) {
          float t = TanhMath.tanh(z[k]);
          dSave[saveOff + k] = 1f - t * t;
          h[k] = Math.fma(alpha, t, h[k]);
        }
      }
      case SOFTSIGN -> {
        for (int k = 0; k < n; k++) {
          float zk = z[k];
          float a = zk / (1f + Math.abs(zk));
          float r = 1f - Math.abs(a);
          dSave[saveOff + k] = r * r;
          h[k] = Math.fma(alpha, a, h[k]);
        }
      }
      case RELU -> {
        for (int k = 0; k < n; k++) {
          float zk = z[k];
          dSave[saveOff + k] = zk > 0f ? 1f : 0f;
          h[k] = Math.fma(alpha, zk > 0f ? zk : 0f, h[k]);
        }
      }
    }
  }

  /** This instance's copy of one layer's weights: plain array loops are what C2 optimises best. */
  private float[] layerCopy = new float[0];

  @Override
  public Kernels fork() {
    return new ScalarKernels();
  }

  private float[] layer(int w, MemorySegment wts, long off) {
    layerCopy = Kernels.copyLayer(layerCopy, w, wts, off);
    return layerCopy;
  }

  /** z = h W + b by fused multiply-adds, i ascending. h: (B, W) read-only; z: (B, W) written. */
  private void affine(int w, int batch, MemorySegment wts, long off, float[] h, float[] z) {
    float[] lw = layer(w, wts, off);
    int biasOff = w * w;
    for (int o = 0; o < w; o++) {
      float bo = lw[biasOff + o];
      int zo = o * batch;
      for (int b = 0; b < batch; b++) {
        z[zo + b] = bo;
      }
    }
    for (int i = 0; i < w; i++) {
      int hi = i * batch;
      int row = i * w;
      for (int o = 0; o < w; o++) {
        float wio = lw[row + o];
        int zo = o * batch;
        for (int b = 0; b < batch; b++) {
          z[zo + b] = Math.fma(h[hi + b], wio, z[zo + b]);
        }
      }
    }
  }

  @Override
  public void residualBackward(
      int w, int batch, MemorySegment wts, long off, float alpha, float[] hSave, float[] dSave,
      int saveOff, float[] dh, float[] gW, float[] gb, float[] g) {
    int n = w * batch;
    for (int k = 0; k < n; k++) {
      g[k] = alpha * dh[k] * dSave[saveOff + k];
    }
    for (int o = 0; o < w; o++) {
      float s = 0f;
      int go = o * batch;
      for (int b = 0; b < batch; b++) {
        s += g[go + b];
      }
      gb[o] = s;
    }
    for (int i = 0; i < w; i++) {
      int hi = saveOff + i * batch;
      for (int o = 0; o < w; o++) {
        int go = o * batch;
        float s = 0f;
        for (int b = 0; b < batch; b++) {
          s += hSave[hi + b] * g[go + b];
        }
        gW[i * w + o] = s;
      }
    }
    float[] lw = layer(w, wts, off);
    for (int i = 0; i < w; i++) {
      int row = i * w;
      int di = i * batch;
      for (int o = 0; o < w; o++) {
        float wio = lw[row + o];
        int go = o * batch;
        for (int b = 0; b < batch; b++) {
          dh[di + b] = Math.fma(g[go + b], wio, dh[di + b]);
        }
      }
    }
  }

  @Override
  public void sgdUpdate(int w, MemorySegment wts, long off, float lr, float[] gW, float[] gb) {
    int ww = w * w;
    for (int k = 0; k < ww; k++) {
      long p = off + 4L * k;
      wts.set(F32, p, wts.get(F32, p) - lr * gW[k]);
    }
    long biasOff = off + 4L * ww;
    for (int o = 0; o < w; o++) {
      long p = biasOff + 4L * o;
      wts.set(F32, p, wts.get(F32, p) - lr * gb[o]);
    }
  }
}
