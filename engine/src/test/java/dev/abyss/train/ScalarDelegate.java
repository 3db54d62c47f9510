package dev.abyss.train;

import dev.abyss.kernel.Activation;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.kernel.Kernels;
import java.lang.foreign.MemorySegment;

/**
 * The scalar oracle's per-layer methods, for test kernels that change one thing about it (a
 * failure, a choice the trainer asks about): every chunk method is then the interface's
 * default, which is what the scalar kernels use too.
 */
abstract class ScalarDelegate implements Kernels {
  private final Kernels base = KernelProvider.scalar();

  @Override
  public void residualForward(int w, int batch, MemorySegment wts, long off, float alpha,
      Activation act, float[] h, float[] z) {
    base.residualForward(w, batch, wts, off, alpha, act, h, z);
  }

  @Override
  public void residualForwardSave(int w, int batch, MemorySegment wts, long off, float alpha,
      Activation act, float[] h, float[] z, float[] hSave, float[] dSave, int saveOff) {
    base.residualForwardSave(w, batch, wts, off, alpha, act, h, z, hSave, dSave, saveOff);
  }

  @Override
  public void residualBackward(int w, int batch, MemorySegment wts, long off, float alpha,
      float[] hSave, float[] dSave, int saveOff, float[] dh, float[] gW, float[] gb,
      float[] g) {
    base.residualBackward(w, batch, wts, off, alpha, hSave, dSave, saveOff, dh, gW, gb, g);
  }

  @Override
  public void sgdUpdate(int w, MemorySegment wts, long off, float lr, float[] gW,
      float[] gb) {
    base.sgdUpdate(w, wts, off, lr, gW, gb);
  }
}
