package dev.abyss.kernel;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The forward of width 8 at 512 bits, 16 samples a call: h in eight registers from layer to
 * layer, the layer's 64 weights in four vector loads and its biases in a fifth, each broadcast
 * by a permute (72 scalar segment reads a layer would pass C2's inlining budget). The
 * operations and their order are those of {@link VectorKernels}' per-layer path (z from b by
 * fused multiply-adds over the inputs in order, then {@code h = fma(act(z), alpha, h)}), so
 * the bits are the same (tested). Softsign only; the forward pass and eval. A version that
 * also saves the recompute's values (16 more stores a layer) passed C2's node budget: one
 * fused multiply-add a layer became a call, and it ran no faster than the per-layer path.
 */
final class Width8 {
  private Width8() {}

  static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  /** Bytes per layer: 64 weights then 8 biases. */
  private static final long LB = 288;

  /**
   * {@code count} softsign layers forward from byte offset {@code off} for the 16 samples
   * {@code g0 .. g0 + 15} of a batch of {@code batch} (feature j of sample b at {@code j *
   * batch + b}), in place.
   */
  static void forwardSoftsign(MemorySegment wts, long off, int count, float alpha, float[] h,
      int batch, int g0) {
    FloatVector h0 = FloatVector.fromArray(S, h, g0);
    FloatVector h1 = FloatVector.fromArray(S, h, batch + g0);
    FloatVector h2 = FloatVector.fromArray(S, h, 2 * batch + g0);
    FloatVector h3 = FloatVector.fromArray(S, h, 3 * batch + g0);
    FloatVector h4 = FloatVector.fromArray(S, h, 4 * batch + g0);
    FloatVector h5 = FloatVector.fromArray(S, h, 5 * batch + g0);
    FloatVector h6 = FloatVector.fromArray(S, h, 6 * batch + g0);
    FloatVector h7 = FloatVector.fromArray(S, h, 7 * batch + g0);
    FloatVector va = FloatVector.broadcast(S, alpha);
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      // W[i][o] is lane (8 i + o) mod 16 of vector (8 i + o) / 16; b[o] is lane 8 + o of the
      // vector at the layer's byte 224
      FloatVector w0 = FloatVector.fromMemorySegment(S, wts, p, LE);
      FloatVector w1 = FloatVector.fromMemorySegment(S, wts, p + 64, LE);
      FloatVector w2 = FloatVector.fromMemorySegment(S, wts, p + 128, LE);
      FloatVector w3 = FloatVector.fromMemorySegment(S, wts, p + 192, LE);
      FloatVector bv = FloatVector.fromMemorySegment(S, wts, p + 224, LE);
      FloatVector z0 = bv.rearrange(Width4.B8);
      z0 = h0.fma(w0.rearrange(Width4.B0), z0);
      z0 = h1.fma(w0.rearrange(Width4.B8), z0);
      z0 = h2.fma(w1.rearrange(Width4.B0), z0);
      z0 = h3.fma(w1.rearrange(Width4.B8), z0);
      z0 = h4.fma(w2.rearrange(Width4.B0), z0);
      z0 = h5.fma(w2.rearrange(Width4.B8), z0);
      z0 = h6.fma(w3.rearrange(Width4.B0), z0);
      z0 = h7.fma(w3.rearrange(Width4.B8), z0);
      FloatVector z1 = bv.rearrange(Width4.B9);
      z1 = h0.fma(w0.rearrange(Width4.B1), z1);
      z1 = h1.fma(w0.rearrange(Width4.B9), z1);
      z1 = h2.fma(w1.rearrange(Width4.B1), z1);
      z1 = h3.fma(w1.rearrange(Width4.B9), z1);
      z1 = h4.fma(w2.rearrange(Width4.B1), z1);
      z1 = h5.fma(w2.rearrange(Width4.B9), z1);
      z1 = h6.fma(w3.rearrange(Width4.B1), z1);
      z1 = h7.fma(w3.rearrange(Width4.B9), z1);
      FloatVector z2 = bv.rearrange(Width4.B10);
      z2 = h0.fma(w0.rearrange(Width4.B2), z2);
      z2 = h1.fma(w0.rearrange(Width4.B10), z2);
      z2 = h2.fma(w1.rearrange(Width4.B2), z2);
      z2 = h3.fma(w1.rearrange(Width4.B10), z2);
      z2 = h4.fma(w2.rearrange(Width4.B2), z2);
      z2 = h5.fma(w2.rearrange(Width4.B10), z2);
      z2 = h6.fma(w3.rearrange(Width4.B2), z2);
      z2 = h7.fma(w3.rearrange(Width4.B10), z2);
      FloatVector z3 = bv.rearrange(Width4.B11);
      z3 = h0.fma(w0.rearrange(Width4.B3), z3);
      z3 = h1.fma(w0.rearrange(Width4.B11), z3);
      z3 = h2.fma(w1.rearrange(Width4.B3), z3);
      z3 = h3.fma(w1.rearrange(Width4.B11), z3);
      z3 = h4.fma(w2.rearrange(Width4.B3), z3);
      z3 = h5.fma(w2.rearrange(Width4.B11), z3);
      z3 = h6.fma(w3.rearrange(Width4.B3), z3);
      z3 = h7.fma(w3.rearrange(Width4.B11), z3);
      FloatVector z4 = bv.rearrange(Width4.B12);
      z4 = h0.fma(w0.rearrange(Width4.B4), z4);
      z4 = h1.fma(w0.rearrange(Width4.B12), z4);
      z4 = h2.fma(w1.rearrange(Width4.B4), z4);
      z4 = h3.fma(w1.rearrange(Width4.B12), z4);
      z4 = h4.fma(w2.rearrange(Width4.B4), z4);
      z4 = h5.fma(w2.rearrange(Width4.B12), z4);
      z4 = h6.fma(w3.rearrange(Width4.B4), z4);
      z4 = h7.fma(w3.rearrange(Width4.B12), z4);
      FloatVector z5 = bv.rearrange(Width4.B13);
      z5 = h0.fma(w0.rearrange(Width4.B5), z5);
      z5 = h1.fma(w0.rearrange(Width4.B13), z5);
      z5 = h2.fma(w1.rearrange(Width4.B5), z5);
      z5 = h3.fma(w1.rearrange(Width4.B13), z5);
      z5 = h4.fma(w2.rearrange(Width4.B5), z5);
      z5 = h5.fma(w2.rearrange(Width4.B13), z5);
      z5 = h6.fma(w3.rearrange(Width4.B5), z5);
      z5 = h7.fma(w3.rearrange(Width4.B13), z5);
      FloatVector z6 = bv.rearrange(Width4.B14);
      z6 = h0.fma(w0.rearrange(Width4.B6), z6);
      z6 = h1.fma(w0.rearrange(Width4.B14), z6);
      z6 = h2.fma(w1.rearrange(Width4.B6), z6);
      z6 = h3.fma(w1.rearrange(Width4.B14), z6);
      z6 = h4.fma(w2.rearrange(Width4.B6), z6);
      z6 = h5.fma(w2.rearrange(Width4.B14), z6);
      z6 = h6.fma(w3.rearrange(Width4.B6), z6);
      z6 = h7.fma(w3.rearrange(Width4.B14), z6);
      FloatVector z7 = bv.rearrange(Width4.B15);
      z7 = h0.fma(w0.rearrange(Width4.B7), z7);
      z7 = h1.fma(w0.rearrange(Width4.B15), z7);
      z7 = h2.fma(w1.rearrange(Width4.B7), z7);
      z7 = h3.fma(w1.rearrange(Width4.B15), z7);
      z7 = h4.fma(w2.rearrange(Width4.B7), z7);
      z7 = h5.fma(w2.rearrange(Width4.B15), z7);
      z7 = h6.fma(w3.rearrange(Width4.B7), z7);
      z7 = h7.fma(w3.rearrange(Width4.B15), z7);
      h0 = z0.div(z0.abs().add(1f)).fma(va, h0);
      h1 = z1.div(z1.abs().add(1f)).fma(va, h1);
      h2 = z2.div(z2.abs().add(1f)).fma(va, h2);
      h3 = z3.div(z3.abs().add(1f)).fma(va, h3);
      h4 = z4.div(z4.abs().add(1f)).fma(va, h4);
      h5 = z5.div(z5.abs().add(1f)).fma(va, h5);
      h6 = z6.div(z6.abs().add(1f)).fma(va, h6);
      h7 = z7.div(z7.abs().add(1f)).fma(va, h7);
    }
    h0.intoArray(h, g0);
    h1.intoArray(h, batch + g0);
    h2.intoArray(h, 2 * batch + g0);
    h3.intoArray(h, 3 * batch + g0);
    h4.intoArray(h, 4 * batch + g0);
    h5.intoArray(h, 5 * batch + g0);
    h6.intoArray(h, 6 * batch + g0);
    h7.intoArray(h, 7 * batch + g0);
  }
}
