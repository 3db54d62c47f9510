package dev.abyss.kernel;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Width 8 at 512 bits, 16 samples to a group: the forward and the backward in chunk kernels.
 *
 * <p>The forward keeps h in eight registers from layer to layer, the layer's 64 weights in
 * four vector loads and its biases in a fifth, each broadcast by a permute (72 scalar segment
 * reads a layer would pass C2's inlining budget); softsign, ReLU and tanh, each in a method of
 * its own. Tanh's eight z go through a scratch array to {@link Width4#tanh4}, twice a layer
 * (with four tanh written inside its layer loop, C1 gave up on Width4's forward; see there).
 * The recompute ({@link #forwardSaveSoftsign}, {@link #forwardSaveRelu}, {@link
 * #forwardSaveTanh}) also saves each layer's input and activation, and a pass over the segment
 * turns the activations into act'(z): with the derivative inside the loop the method passed
 * C2's node budget (one fused multiply-add a layer became a call).
 *
 * <p>The backward is two loops, as {@link Width4}'s: the dh chain ({@link #dhChain}, any
 * activation), which keeps each layer's g, then the gradient trees and the SGD update ({@link
 * #updates}). Batches of 32, 48, ... run the chain one group at a time and sum the groups in
 * the updates.
 *
 * <p>The operations and their order are those of {@link VectorKernels}' per-layer path (z from
 * b by fused multiply-adds over the inputs in order, then {@code h = fma(act(z), alpha, h)};
 * g, the tree and the update as in {@code residualBackward} and {@code sgdUpdate}), so the
 * bits are the same (tested).
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

  /** Lanes 0-7 (8-15) of a half-batch vector: its first (second) feature's eight samples. */
  private static final VectorShuffle<Float> LO8 = VectorShuffle.fromOp(S, l -> l & 7);
  private static final VectorShuffle<Float> HI8 = VectorShuffle.fromOp(S, l -> 8 + (l & 7));
  /**
   * W[i][f] for vector c's two features f = 2c, 2c + 1 (lanes 0-7, 8-15), from the loaded
   * vector that holds row i: lane 8 (i mod 2) + f of it (E for even i, O for odd; static
   * finals, which C2 takes as constants).
   */
  private static final VectorShuffle<Float> E0 = VectorShuffle.fromOp(S, l -> l >> 3);
  private static final VectorShuffle<Float> E1 = VectorShuffle.fromOp(S, l -> 2 + (l >> 3));
  private static final VectorShuffle<Float> E2 = VectorShuffle.fromOp(S, l -> 4 + (l >> 3));
  private static final VectorShuffle<Float> E3 = VectorShuffle.fromOp(S, l -> 6 + (l >> 3));
  private static final VectorShuffle<Float> O0 = VectorShuffle.fromOp(S, l -> 8 + (l >> 3));
  private static final VectorShuffle<Float> O1 = VectorShuffle.fromOp(S, l -> 10 + (l >> 3));
  private static final VectorShuffle<Float> O2 = VectorShuffle.fromOp(S, l -> 12 + (l >> 3));
  private static final VectorShuffle<Float> O3 = VectorShuffle.fromOp(S, l -> 14 + (l >> 3));

  /**
   * {@link #forwardSoftsign} for the eight samples {@code g0 .. g0 + 7} of a batch of 16: one of
   * two threads' halves of a forward pass. Four vectors, vector c holding features 2c and
   * 2c + 1 of the eight samples (lanes 0-7 and 8-15), so that a layer waits on four divisions,
   * not eight. Per lane the operations of {@link #forwardSoftsign} in its order, so the same
   * bits.
   */
  static void forwardSoftsignHalf(MemorySegment wts, long off, int count, float alpha,
      float[] h, int g0) {
    // through a small array, not the Vector API's gather and scatter (Width4's half kernel
    // says why)
    float[] t = new float[64];
    for (int c = 0; c < 4; c++) {
      System.arraycopy(h, 32 * c + g0, t, 16 * c, 8);
      System.arraycopy(h, 32 * c + 16 + g0, t, 16 * c + 8, 8);
    }
    FloatVector c0 = FloatVector.fromArray(S, t, 0);
    FloatVector c1 = FloatVector.fromArray(S, t, 16);
    FloatVector c2 = FloatVector.fromArray(S, t, 32);
    FloatVector c3 = FloatVector.fromArray(S, t, 48);
    FloatVector va = FloatVector.broadcast(S, alpha);
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      FloatVector bv = FloatVector.fromMemorySegment(S, wts, p + 224, LE);
      // b[f] is lane 8 + f: the odd rows' shuffles
      FloatVector z0 = bv.rearrange(O0);
      FloatVector z1 = bv.rearrange(O1);
      FloatVector z2 = bv.rearrange(O2);
      FloatVector z3 = bv.rearrange(O3);
      // rows 2k and 2k + 1 of W are vector k, at the layer's byte 64 k; h_i is a half of
      // vector i / 2 (lanes 0-7 for even i). Written out for k = 0..3: a loop would need the
      // four c vectors in an array, and vectors kept in an array are boxed
      FloatVector w0 = FloatVector.fromMemorySegment(S, wts, p, LE);
      FloatVector h0 = c0.rearrange(LO8);
      z0 = h0.fma(w0.rearrange(E0), z0);
      z1 = h0.fma(w0.rearrange(E1), z1);
      z2 = h0.fma(w0.rearrange(E2), z2);
      z3 = h0.fma(w0.rearrange(E3), z3);
      FloatVector h1 = c0.rearrange(HI8);
      z0 = h1.fma(w0.rearrange(O0), z0);
      z1 = h1.fma(w0.rearrange(O1), z1);
      z2 = h1.fma(w0.rearrange(O2), z2);
      z3 = h1.fma(w0.rearrange(O3), z3);
      FloatVector w1 = FloatVector.fromMemorySegment(S, wts, p + 64, LE);
      FloatVector h2 = c1.rearrange(LO8);
      z0 = h2.fma(w1.rearrange(E0), z0);
      z1 = h2.fma(w1.rearrange(E1), z1);
      z2 = h2.fma(w1.rearrange(E2), z2);
      z3 = h2.fma(w1.rearrange(E3), z3);
      FloatVector h3 = c1.rearrange(HI8);
      z0 = h3.fma(w1.rearrange(O0), z0);
      z1 = h3.fma(w1.rearrange(O1), z1);
      z2 = h3.fma(w1.rearrange(O2), z2);
      z3 = h3.fma(w1.rearrange(O3), z3);
      FloatVector w2 = FloatVector.fromMemorySegment(S, wts, p + 128, LE);
      FloatVector h4 = c2.rearrange(LO8);
      z0 = h4.fma(w2.rearrange(E0), z0);
      z1 = h4.fma(w2.rearrange(E1), z1);
      z2 = h4.fma(w2.rearrange(E2), z2);
      z3 = h4.fma(w2.rearrange(E3), z3);
      FloatVector h5 = c2.rearrange(HI8);
      z0 = h5.fma(w2.rearrange(O0), z0);
      z1 = h5.fma(w2.rearrange(O1), z1);
      z2 = h5.fma(w2.rearrange(O2), z2);
      z3 = h5.fma(w2.rearrange(O3), z3);
      FloatVector w3 = FloatVector.fromMemorySegment(S, wts, p + 192, LE);
      FloatVector h6 = c3.rearrange(LO8);
      z0 = h6.fma(w3.rearrange(E0), z0);
      z1 = h6.fma(w3.rearrange(E1), z1);
      z2 = h6.fma(w3.rearrange(E2), z2);
      z3 = h6.fma(w3.rearrange(E3), z3);
      FloatVector h7 = c3.rearrange(HI8);
      z0 = h7.fma(w3.rearrange(O0), z0);
      z1 = h7.fma(w3.rearrange(O1), z1);
      z2 = h7.fma(w3.rearrange(O2), z2);
      z3 = h7.fma(w3.rearrange(O3), z3);
      c0 = z0.div(z0.abs().add(1f)).fma(va, c0);
      c1 = z1.div(z1.abs().add(1f)).fma(va, c1);
      c2 = z2.div(z2.abs().add(1f)).fma(va, c2);
      c3 = z3.div(z3.abs().add(1f)).fma(va, c3);
    }
    c0.intoArray(t, 0);
    c1.intoArray(t, 16);
    c2.intoArray(t, 32);
    c3.intoArray(t, 48);
    for (int c = 0; c < 4; c++) {
      System.arraycopy(t, 16 * c, h, 32 * c + g0, 8);
      System.arraycopy(t, 16 * c + 8, h, 32 * c + 16 + g0, 8);
    }
  }

  /** {@link #forwardSoftsign} with ReLU: a = z where z > 0, else 0 (the per-layer path's blend). */
  static void forwardRelu(MemorySegment wts, long off, int count, float alpha, float[] h,
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
    FloatVector zero = FloatVector.zero(S);
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
      h0 = zero.blend(z0, z0.compare(VectorOperators.GT, 0f)).fma(va, h0);
      h1 = zero.blend(z1, z1.compare(VectorOperators.GT, 0f)).fma(va, h1);
      h2 = zero.blend(z2, z2.compare(VectorOperators.GT, 0f)).fma(va, h2);
      h3 = zero.blend(z3, z3.compare(VectorOperators.GT, 0f)).fma(va, h3);
      h4 = zero.blend(z4, z4.compare(VectorOperators.GT, 0f)).fma(va, h4);
      h5 = zero.blend(z5, z5.compare(VectorOperators.GT, 0f)).fma(va, h5);
      h6 = zero.blend(z6, z6.compare(VectorOperators.GT, 0f)).fma(va, h6);
      h7 = zero.blend(z7, z7.compare(VectorOperators.GT, 0f)).fma(va, h7);
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

  /**
   * {@link #forwardSoftsign} with tanh: z goes through a scratch array to {@link
   * Width4#tanh4}, twice a layer.
   */
  static void forwardTanh(MemorySegment wts, long off, int count, float alpha, float[] h,
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
    float[] t = new float[128];
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
      z0.intoArray(t, 0);
      z1.intoArray(t, 16);
      z2.intoArray(t, 32);
      z3.intoArray(t, 48);
      z4.intoArray(t, 64);
      z5.intoArray(t, 80);
      z6.intoArray(t, 96);
      z7.intoArray(t, 112);
      Width4.tanh4(t, 0);
      Width4.tanh4(t, 64);
      h0 = FloatVector.fromArray(S, t, 0).fma(va, h0);
      h1 = FloatVector.fromArray(S, t, 16).fma(va, h1);
      h2 = FloatVector.fromArray(S, t, 32).fma(va, h2);
      h3 = FloatVector.fromArray(S, t, 48).fma(va, h3);
      h4 = FloatVector.fromArray(S, t, 64).fma(va, h4);
      h5 = FloatVector.fromArray(S, t, 80).fma(va, h5);
      h6 = FloatVector.fromArray(S, t, 96).fma(va, h6);
      h7 = FloatVector.fromArray(S, t, 112).fma(va, h7);
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

  /**
   * As {@link #forwardSoftsign}, saving what the backward needs: layer l's input h at {@code
   * hSave[8 batch l]} and its activation a = softsign(z) at {@code dSave[8 batch l]}, which
   * {@link #activationToDerivative} then turns into act'(z) = (1 - |a|)^2, the per-layer
   * path's formula (in two steps: the derivative's three operations inside this loop passed
   * C2's node budget).
   */
  static void forwardSaveSoftsign(MemorySegment wts, long off, int count, float alpha,
      float[] h, float[] hSave, float[] dSave, int batch, int g0) {
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
      int s = 8 * batch * l + g0;
      h0.intoArray(hSave, s);
      h1.intoArray(hSave, s + batch);
      h2.intoArray(hSave, s + 2 * batch);
      h3.intoArray(hSave, s + 3 * batch);
      h4.intoArray(hSave, s + 4 * batch);
      h5.intoArray(hSave, s + 5 * batch);
      h6.intoArray(hSave, s + 6 * batch);
      h7.intoArray(hSave, s + 7 * batch);
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
      FloatVector a0 = z0.div(z0.abs().add(1f));
      a0.intoArray(dSave, s);
      h0 = a0.fma(va, h0);
      FloatVector a1 = z1.div(z1.abs().add(1f));
      a1.intoArray(dSave, s + batch);
      h1 = a1.fma(va, h1);
      FloatVector a2 = z2.div(z2.abs().add(1f));
      a2.intoArray(dSave, s + 2 * batch);
      h2 = a2.fma(va, h2);
      FloatVector a3 = z3.div(z3.abs().add(1f));
      a3.intoArray(dSave, s + 3 * batch);
      h3 = a3.fma(va, h3);
      FloatVector a4 = z4.div(z4.abs().add(1f));
      a4.intoArray(dSave, s + 4 * batch);
      h4 = a4.fma(va, h4);
      FloatVector a5 = z5.div(z5.abs().add(1f));
      a5.intoArray(dSave, s + 5 * batch);
      h5 = a5.fma(va, h5);
      FloatVector a6 = z6.div(z6.abs().add(1f));
      a6.intoArray(dSave, s + 6 * batch);
      h6 = a6.fma(va, h6);
      FloatVector a7 = z7.div(z7.abs().add(1f));
      a7.intoArray(dSave, s + 7 * batch);
      h7 = a7.fma(va, h7);
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

  /**
   * {@link #forwardSaveSoftsign} with ReLU: saves the input and a = z where z > 0, else 0, which
   * {@link #reluDerivative} turns into act'(z) (1 where a > 0, which is where z > 0, else 0).
   */
  static void forwardSaveRelu(MemorySegment wts, long off, int count, float alpha,
      float[] h, float[] hSave, float[] dSave, int batch, int g0) {
    FloatVector h0 = FloatVector.fromArray(S, h, g0);
    FloatVector h1 = FloatVector.fromArray(S, h, batch + g0);
    FloatVector h2 = FloatVector.fromArray(S, h, 2 * batch + g0);
    FloatVector h3 = FloatVector.fromArray(S, h, 3 * batch + g0);
    FloatVector h4 = FloatVector.fromArray(S, h, 4 * batch + g0);
    FloatVector h5 = FloatVector.fromArray(S, h, 5 * batch + g0);
    FloatVector h6 = FloatVector.fromArray(S, h, 6 * batch + g0);
    FloatVector h7 = FloatVector.fromArray(S, h, 7 * batch + g0);
    FloatVector va = FloatVector.broadcast(S, alpha);
    FloatVector zero = FloatVector.zero(S);
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      int s = 8 * batch * l + g0;
      h0.intoArray(hSave, s);
      h1.intoArray(hSave, s + batch);
      h2.intoArray(hSave, s + 2 * batch);
      h3.intoArray(hSave, s + 3 * batch);
      h4.intoArray(hSave, s + 4 * batch);
      h5.intoArray(hSave, s + 5 * batch);
      h6.intoArray(hSave, s + 6 * batch);
      h7.intoArray(hSave, s + 7 * batch);
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
      FloatVector a0 = zero.blend(z0, z0.compare(VectorOperators.GT, 0f));
      a0.intoArray(dSave, s);
      h0 = a0.fma(va, h0);
      FloatVector a1 = zero.blend(z1, z1.compare(VectorOperators.GT, 0f));
      a1.intoArray(dSave, s + batch);
      h1 = a1.fma(va, h1);
      FloatVector a2 = zero.blend(z2, z2.compare(VectorOperators.GT, 0f));
      a2.intoArray(dSave, s + 2 * batch);
      h2 = a2.fma(va, h2);
      FloatVector a3 = zero.blend(z3, z3.compare(VectorOperators.GT, 0f));
      a3.intoArray(dSave, s + 3 * batch);
      h3 = a3.fma(va, h3);
      FloatVector a4 = zero.blend(z4, z4.compare(VectorOperators.GT, 0f));
      a4.intoArray(dSave, s + 4 * batch);
      h4 = a4.fma(va, h4);
      FloatVector a5 = zero.blend(z5, z5.compare(VectorOperators.GT, 0f));
      a5.intoArray(dSave, s + 5 * batch);
      h5 = a5.fma(va, h5);
      FloatVector a6 = zero.blend(z6, z6.compare(VectorOperators.GT, 0f));
      a6.intoArray(dSave, s + 6 * batch);
      h6 = a6.fma(va, h6);
      FloatVector a7 = zero.blend(z7, z7.compare(VectorOperators.GT, 0f));
      a7.intoArray(dSave, s + 7 * batch);
      h7 = a7.fma(va, h7);
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

  /**
   * {@link #forwardSaveSoftsign} with tanh ({@link Width4#tanh4} as in {@link #forwardTanh}):
   * saves the input and a = tanh(z), which {@link #tanhDerivative} turns into act'(z) = 1 - a^2.
   */
  static void forwardSaveTanh(MemorySegment wts, long off, int count, float alpha,
      float[] h, float[] hSave, float[] dSave, int batch, int g0) {
    FloatVector h0 = FloatVector.fromArray(S, h, g0);
    FloatVector h1 = FloatVector.fromArray(S, h, batch + g0);
    FloatVector h2 = FloatVector.fromArray(S, h, 2 * batch + g0);
    FloatVector h3 = FloatVector.fromArray(S, h, 3 * batch + g0);
    FloatVector h4 = FloatVector.fromArray(S, h, 4 * batch + g0);
    FloatVector h5 = FloatVector.fromArray(S, h, 5 * batch + g0);
    FloatVector h6 = FloatVector.fromArray(S, h, 6 * batch + g0);
    FloatVector h7 = FloatVector.fromArray(S, h, 7 * batch + g0);
    FloatVector va = FloatVector.broadcast(S, alpha);
    float[] t = new float[128];
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      int s = 8 * batch * l + g0;
      h0.intoArray(hSave, s);
      h1.intoArray(hSave, s + batch);
      h2.intoArray(hSave, s + 2 * batch);
      h3.intoArray(hSave, s + 3 * batch);
      h4.intoArray(hSave, s + 4 * batch);
      h5.intoArray(hSave, s + 5 * batch);
      h6.intoArray(hSave, s + 6 * batch);
      h7.intoArray(hSave, s + 7 * batch);
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
      z0.intoArray(t, 0);
      z1.intoArray(t, 16);
      z2.intoArray(t, 32);
      z3.intoArray(t, 48);
      z4.intoArray(t, 64);
      z5.intoArray(t, 80);
      z6.intoArray(t, 96);
      z7.intoArray(t, 112);
      Width4.tanh4(t, 0);
      Width4.tanh4(t, 64);
      FloatVector a0 = FloatVector.fromArray(S, t, 0);
      a0.intoArray(dSave, s);
      h0 = a0.fma(va, h0);
      FloatVector a1 = FloatVector.fromArray(S, t, 16);
      a1.intoArray(dSave, s + batch);
      h1 = a1.fma(va, h1);
      FloatVector a2 = FloatVector.fromArray(S, t, 32);
      a2.intoArray(dSave, s + 2 * batch);
      h2 = a2.fma(va, h2);
      FloatVector a3 = FloatVector.fromArray(S, t, 48);
      a3.intoArray(dSave, s + 3 * batch);
      h3 = a3.fma(va, h3);
      FloatVector a4 = FloatVector.fromArray(S, t, 64);
      a4.intoArray(dSave, s + 4 * batch);
      h4 = a4.fma(va, h4);
      FloatVector a5 = FloatVector.fromArray(S, t, 80);
      a5.intoArray(dSave, s + 5 * batch);
      h5 = a5.fma(va, h5);
      FloatVector a6 = FloatVector.fromArray(S, t, 96);
      a6.intoArray(dSave, s + 6 * batch);
      h6 = a6.fma(va, h6);
      FloatVector a7 = FloatVector.fromArray(S, t, 112);
      a7.intoArray(dSave, s + 7 * batch);
      h7 = a7.fma(va, h7);
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

  /** act'(z) = 1 - a^2 in place over {@code n} floats of tanh's a ({@link #forwardSaveTanh}). */
  static void tanhDerivative(float[] dSave, int n) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    for (int k = 0; k < n; k += 16) {
      FloatVector a = FloatVector.fromArray(S, dSave, k);
      one.sub(a.mul(a)).intoArray(dSave, k);
    }
  }

  /** act'(z) = 1 where a > 0, else 0, in place over {@code n} floats of ReLU's a. */
  static void reluDerivative(float[] dSave, int n) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    FloatVector zero = FloatVector.zero(S);
    for (int k = 0; k < n; k += 16) {
      FloatVector a = FloatVector.fromArray(S, dSave, k);
      zero.blend(one, a.compare(VectorOperators.GT, 0f)).intoArray(dSave, k);
    }
  }

  /**
   * act'(z) = (1 - |a|)^2 in place over {@code n} floats of {@code dSave} holding softsign's a
   * ({@link #forwardSaveSoftsign}): the operations of the per-layer path's save.
   */
  static void activationToDerivative(float[] dSave, int n) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    for (int k = 0; k < n; k += 16) {
      FloatVector r = one.sub(FloatVector.fromArray(S, dSave, k).abs());
      r.mul(r).intoArray(dSave, k);
    }
  }

  /**
   * The backward's dh chain over {@code count} layers from byte offset {@code off}, last layer
   * first, for the 16 samples {@code g0 .. g0 + 15} of a batch of {@code batch} (layer l's
   * saves at {@code 8 batch l}, feature j of sample b at {@code j batch + b}): layer l's g =
   * alpha dh act'(z) to {@code gs} in the saves' layout, then dh += g W^T with W before the
   * update, inputs in order (the per-layer path's {@code fma(g_o, W[i][o], dh_i)}, o
   * ascending); dh in place. Any activation: act'(z) comes from {@code dSave}.
   */
  static void dhChain(MemorySegment wts, long off, int count, float alpha, float[] dSave,
      float[] dh, float[] gs, int batch, int g0) {
    FloatVector dh0 = FloatVector.fromArray(S, dh, g0);
    FloatVector dh1 = FloatVector.fromArray(S, dh, batch + g0);
    FloatVector dh2 = FloatVector.fromArray(S, dh, 2 * batch + g0);
    FloatVector dh3 = FloatVector.fromArray(S, dh, 3 * batch + g0);
    FloatVector dh4 = FloatVector.fromArray(S, dh, 4 * batch + g0);
    FloatVector dh5 = FloatVector.fromArray(S, dh, 5 * batch + g0);
    FloatVector dh6 = FloatVector.fromArray(S, dh, 6 * batch + g0);
    FloatVector dh7 = FloatVector.fromArray(S, dh, 7 * batch + g0);
    float[] lw = new float[64];
    for (int l = count - 1; l >= 0; l--) {
      long p = off + l * LB;
      int s = 8 * batch * l + g0;
      FloatVector gv0 = dh0.mul(alpha).mul(FloatVector.fromArray(S, dSave, s));
      FloatVector gv1 = dh1.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + batch));
      FloatVector gv2 = dh2.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 2 * batch));
      FloatVector gv3 = dh3.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 3 * batch));
      FloatVector gv4 = dh4.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 4 * batch));
      FloatVector gv5 = dh5.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 5 * batch));
      FloatVector gv6 = dh6.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 6 * batch));
      FloatVector gv7 = dh7.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 7 * batch));
      gv0.intoArray(gs, s);
      gv1.intoArray(gs, s + batch);
      gv2.intoArray(gs, s + 2 * batch);
      gv3.intoArray(gs, s + 3 * batch);
      gv4.intoArray(gs, s + 4 * batch);
      gv5.intoArray(gs, s + 5 * batch);
      gv6.intoArray(gs, s + 6 * batch);
      gv7.intoArray(gs, s + 7 * batch);
      // W before the update, copied to an array by four vector loads and stores and each
      // weight broadcast from there (a load, not a permute: 3-4% faster than the forward's
      // permutes, and no shuffle constants competing for registers)
      FloatVector.fromMemorySegment(S, wts, p, LE).intoArray(lw, 0);
      FloatVector.fromMemorySegment(S, wts, p + 64, LE).intoArray(lw, 16);
      FloatVector.fromMemorySegment(S, wts, p + 128, LE).intoArray(lw, 32);
      FloatVector.fromMemorySegment(S, wts, p + 192, LE).intoArray(lw, 48);
      dh0 = gv0.fma(FloatVector.broadcast(S, lw[0]), dh0);
      dh0 = gv1.fma(FloatVector.broadcast(S, lw[1]), dh0);
      dh0 = gv2.fma(FloatVector.broadcast(S, lw[2]), dh0);
      dh0 = gv3.fma(FloatVector.broadcast(S, lw[3]), dh0);
      dh0 = gv4.fma(FloatVector.broadcast(S, lw[4]), dh0);
      dh0 = gv5.fma(FloatVector.broadcast(S, lw[5]), dh0);
      dh0 = gv6.fma(FloatVector.broadcast(S, lw[6]), dh0);
      dh0 = gv7.fma(FloatVector.broadcast(S, lw[7]), dh0);
      dh1 = gv0.fma(FloatVector.broadcast(S, lw[8]), dh1);
      dh1 = gv1.fma(FloatVector.broadcast(S, lw[9]), dh1);
      dh1 = gv2.fma(FloatVector.broadcast(S, lw[10]), dh1);
      dh1 = gv3.fma(FloatVector.broadcast(S, lw[11]), dh1);
      dh1 = gv4.fma(FloatVector.broadcast(S, lw[12]), dh1);
      dh1 = gv5.fma(FloatVector.broadcast(S, lw[13]), dh1);
      dh1 = gv6.fma(FloatVector.broadcast(S, lw[14]), dh1);
      dh1 = gv7.fma(FloatVector.broadcast(S, lw[15]), dh1);
      dh2 = gv0.fma(FloatVector.broadcast(S, lw[16]), dh2);
      dh2 = gv1.fma(FloatVector.broadcast(S, lw[17]), dh2);
      dh2 = gv2.fma(FloatVector.broadcast(S, lw[18]), dh2);
      dh2 = gv3.fma(FloatVector.broadcast(S, lw[19]), dh2);
      dh2 = gv4.fma(FloatVector.broadcast(S, lw[20]), dh2);
      dh2 = gv5.fma(FloatVector.broadcast(S, lw[21]), dh2);
      dh2 = gv6.fma(FloatVector.broadcast(S, lw[22]), dh2);
      dh2 = gv7.fma(FloatVector.broadcast(S, lw[23]), dh2);
      dh3 = gv0.fma(FloatVector.broadcast(S, lw[24]), dh3);
      dh3 = gv1.fma(FloatVector.broadcast(S, lw[25]), dh3);
      dh3 = gv2.fma(FloatVector.broadcast(S, lw[26]), dh3);
      dh3 = gv3.fma(FloatVector.broadcast(S, lw[27]), dh3);
      dh3 = gv4.fma(FloatVector.broadcast(S, lw[28]), dh3);
      dh3 = gv5.fma(FloatVector.broadcast(S, lw[29]), dh3);
      dh3 = gv6.fma(FloatVector.broadcast(S, lw[30]), dh3);
      dh3 = gv7.fma(FloatVector.broadcast(S, lw[31]), dh3);
      dh4 = gv0.fma(FloatVector.broadcast(S, lw[32]), dh4);
      dh4 = gv1.fma(FloatVector.broadcast(S, lw[33]), dh4);
      dh4 = gv2.fma(FloatVector.broadcast(S, lw[34]), dh4);
      dh4 = gv3.fma(FloatVector.broadcast(S, lw[35]), dh4);
      dh4 = gv4.fma(FloatVector.broadcast(S, lw[36]), dh4);
      dh4 = gv5.fma(FloatVector.broadcast(S, lw[37]), dh4);
      dh4 = gv6.fma(FloatVector.broadcast(S, lw[38]), dh4);
      dh4 = gv7.fma(FloatVector.broadcast(S, lw[39]), dh4);
      dh5 = gv0.fma(FloatVector.broadcast(S, lw[40]), dh5);
      dh5 = gv1.fma(FloatVector.broadcast(S, lw[41]), dh5);
      dh5 = gv2.fma(FloatVector.broadcast(S, lw[42]), dh5);
      dh5 = gv3.fma(FloatVector.broadcast(S, lw[43]), dh5);
      dh5 = gv4.fma(FloatVector.broadcast(S, lw[44]), dh5);
      dh5 = gv5.fma(FloatVector.broadcast(S, lw[45]), dh5);
      dh5 = gv6.fma(FloatVector.broadcast(S, lw[46]), dh5);
      dh5 = gv7.fma(FloatVector.broadcast(S, lw[47]), dh5);
      dh6 = gv0.fma(FloatVector.broadcast(S, lw[48]), dh6);
      dh6 = gv1.fma(FloatVector.broadcast(S, lw[49]), dh6);
      dh6 = gv2.fma(FloatVector.broadcast(S, lw[50]), dh6);
      dh6 = gv3.fma(FloatVector.broadcast(S, lw[51]), dh6);
      dh6 = gv4.fma(FloatVector.broadcast(S, lw[52]), dh6);
      dh6 = gv5.fma(FloatVector.broadcast(S, lw[53]), dh6);
      dh6 = gv6.fma(FloatVector.broadcast(S, lw[54]), dh6);
      dh6 = gv7.fma(FloatVector.broadcast(S, lw[55]), dh6);
      dh7 = gv0.fma(FloatVector.broadcast(S, lw[56]), dh7);
      dh7 = gv1.fma(FloatVector.broadcast(S, lw[57]), dh7);
      dh7 = gv2.fma(FloatVector.broadcast(S, lw[58]), dh7);
      dh7 = gv3.fma(FloatVector.broadcast(S, lw[59]), dh7);
      dh7 = gv4.fma(FloatVector.broadcast(S, lw[60]), dh7);
      dh7 = gv5.fma(FloatVector.broadcast(S, lw[61]), dh7);
      dh7 = gv6.fma(FloatVector.broadcast(S, lw[62]), dh7);
      dh7 = gv7.fma(FloatVector.broadcast(S, lw[63]), dh7);
    }
    dh0.intoArray(dh, 0 * batch + g0);
    dh1.intoArray(dh, 1 * batch + g0);
    dh2.intoArray(dh, 2 * batch + g0);
    dh3.intoArray(dh, 3 * batch + g0);
    dh4.intoArray(dh, 4 * batch + g0);
    dh5.intoArray(dh, 5 * batch + g0);
    dh6.intoArray(dh, 6 * batch + g0);
    dh7.intoArray(dh, 7 * batch + g0);
  }

  /**
   * Each layer's gradients from its input and g (from {@link #dhChain}), then W -= lr gW and
   * b -= lr gb, for a batch of 16 k samples: the operations and order of {@link VectorKernels}'
   * per-layer path (each of the 64 weight gradients summed over the groups of 16 lane by lane
   * from zero, then sixteen at a time through the transpose-and-add tree; the biases' eight
   * sums likewise, through the tree padded with zero vectors; the update's {@code p - lr *
   * g}), so the same bits. Layer l's gW (64) and gb (8) also go to {@code grads[72 l]} when
   * that is not null.
   *
   * <p>The tree's masks and permute indices are built here from lane numbers, as in {@link
   * Width4#updates}: static constants ran this loop 1.5x slower. The biases are read and
   * written as lanes 8-15 of the vector at the layer's byte 224, so that the masked access
   * stays inside the layer; the tree's last level takes zero as its first operand to put their
   * sums there (the same sums with their two terms swapped).
   */
  static void updates(MemorySegment wts, long off, int count, float lr, float[] hSave,
      float[] gs, float[] grads, int batch) {
    IntVector iota = IntVector.zero(IntVector.SPECIES_512).addIndex(1);
    FloatVector zero = FloatVector.zero(S);
    VectorMask<Float> m1 = iota.and(1).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> m2 = iota.and(2).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> m4 = iota.and(4).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> m8 = iota.and(8).compare(VectorOperators.NE, 0).cast(S);
    FloatVector i1 = (FloatVector) iota.lanewise(VectorOperators.XOR, 1)
        .or(iota.and(1).lanewise(VectorOperators.LSHL, 4)).convert(VectorOperators.I2F, 0);
    FloatVector i2 = (FloatVector) iota.lanewise(VectorOperators.XOR, 2)
        .or(iota.and(2).lanewise(VectorOperators.LSHL, 3)).convert(VectorOperators.I2F, 0);
    FloatVector i4 = (FloatVector) iota.lanewise(VectorOperators.XOR, 4)
        .or(iota.and(4).lanewise(VectorOperators.LSHL, 2)).convert(VectorOperators.I2F, 0);
    FloatVector i8 = (FloatVector) iota.lanewise(VectorOperators.XOR, 8)
        .or(iota.and(8).lanewise(VectorOperators.LSHL, 1)).convert(VectorOperators.I2F, 0);
    int n = 8 * batch;
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      int s = n * l;
      // sixteen weight gradients a pass: rows r and r + 1, vector 8 (i - r) + o holding
      // gW[i][o]'s lane sums
      for (int r = 0; r < 8; r += 2) {
        int xa = s + r * batch;
        int xb = xa + batch;
        FloatVector v0 = zero;
        FloatVector v1 = zero;
        FloatVector v2 = zero;
        FloatVector v3 = zero;
        FloatVector v4 = zero;
        FloatVector v5 = zero;
        FloatVector v6 = zero;
        FloatVector v7 = zero;
        FloatVector v8 = zero;
        FloatVector v9 = zero;
        FloatVector v10 = zero;
        FloatVector v11 = zero;
        FloatVector v12 = zero;
        FloatVector v13 = zero;
        FloatVector v14 = zero;
        FloatVector v15 = zero;
        for (int k = 0; k < batch; k += 16) {
          FloatVector g0 = FloatVector.fromArray(S, gs, s + k);
          FloatVector g1 = FloatVector.fromArray(S, gs, s + batch + k);
          FloatVector g2 = FloatVector.fromArray(S, gs, s + 2 * batch + k);
          FloatVector g3 = FloatVector.fromArray(S, gs, s + 3 * batch + k);
          FloatVector g4 = FloatVector.fromArray(S, gs, s + 4 * batch + k);
          FloatVector g5 = FloatVector.fromArray(S, gs, s + 5 * batch + k);
          FloatVector g6 = FloatVector.fromArray(S, gs, s + 6 * batch + k);
          FloatVector g7 = FloatVector.fromArray(S, gs, s + 7 * batch + k);
          FloatVector x = FloatVector.fromArray(S, hSave, xa + k);
          v0 = v0.add(x.mul(g0));
          v1 = v1.add(x.mul(g1));
          v2 = v2.add(x.mul(g2));
          v3 = v3.add(x.mul(g3));
          v4 = v4.add(x.mul(g4));
          v5 = v5.add(x.mul(g5));
          v6 = v6.add(x.mul(g6));
          v7 = v7.add(x.mul(g7));
          x = FloatVector.fromArray(S, hSave, xb + k);
          v8 = v8.add(x.mul(g0));
          v9 = v9.add(x.mul(g1));
          v10 = v10.add(x.mul(g2));
          v11 = v11.add(x.mul(g3));
          v12 = v12.add(x.mul(g4));
          v13 = v13.add(x.mul(g5));
          v14 = v14.add(x.mul(g6));
          v15 = v15.add(x.mul(g7));
        }
        FloatVector r0 = v0.blend(v1, m1).add(i1.selectFrom(v0, v1));
        FloatVector r1 = v2.blend(v3, m1).add(i1.selectFrom(v2, v3));
        FloatVector r2 = v4.blend(v5, m1).add(i1.selectFrom(v4, v5));
        FloatVector r3 = v6.blend(v7, m1).add(i1.selectFrom(v6, v7));
        FloatVector r4 = v8.blend(v9, m1).add(i1.selectFrom(v8, v9));
        FloatVector r5 = v10.blend(v11, m1).add(i1.selectFrom(v10, v11));
        FloatVector r6 = v12.blend(v13, m1).add(i1.selectFrom(v12, v13));
        FloatVector r7 = v14.blend(v15, m1).add(i1.selectFrom(v14, v15));
        FloatVector q0 = r0.blend(r1, m2).add(i2.selectFrom(r0, r1));
        FloatVector q1 = r2.blend(r3, m2).add(i2.selectFrom(r2, r3));
        FloatVector q2 = r4.blend(r5, m2).add(i2.selectFrom(r4, r5));
        FloatVector q3 = r6.blend(r7, m2).add(i2.selectFrom(r6, r7));
        FloatVector e = q0.blend(q1, m4).add(i4.selectFrom(q0, q1));
        FloatVector f = q2.blend(q3, m4).add(i4.selectFrom(q2, q3));
        FloatVector gw = e.blend(f, m8).add(i8.selectFrom(e, f));
        if (grads != null) {
          gw.intoArray(grads, 72 * l + 8 * r);
        }
        long q = p + 32L * r;
        FloatVector.fromMemorySegment(S, wts, q, LE).sub(gw.mul(lr))
            .intoMemorySegment(wts, q, LE);
      }
      FloatVector c0 = zero;
      FloatVector c1 = zero;
      FloatVector c2 = zero;
      FloatVector c3 = zero;
      FloatVector c4 = zero;
      FloatVector c5 = zero;
      FloatVector c6 = zero;
      FloatVector c7 = zero;
      for (int k = 0; k < batch; k += 16) {
        c0 = c0.add(FloatVector.fromArray(S, gs, s + k));
        c1 = c1.add(FloatVector.fromArray(S, gs, s + batch + k));
        c2 = c2.add(FloatVector.fromArray(S, gs, s + 2 * batch + k));
        c3 = c3.add(FloatVector.fromArray(S, gs, s + 3 * batch + k));
        c4 = c4.add(FloatVector.fromArray(S, gs, s + 4 * batch + k));
        c5 = c5.add(FloatVector.fromArray(S, gs, s + 5 * batch + k));
        c6 = c6.add(FloatVector.fromArray(S, gs, s + 6 * batch + k));
        c7 = c7.add(FloatVector.fromArray(S, gs, s + 7 * batch + k));
      }
      FloatVector t0 = c0.blend(c1, m1).add(i1.selectFrom(c0, c1));
      FloatVector t1 = c2.blend(c3, m1).add(i1.selectFrom(c2, c3));
      FloatVector t2 = c4.blend(c5, m1).add(i1.selectFrom(c4, c5));
      FloatVector t3 = c6.blend(c7, m1).add(i1.selectFrom(c6, c7));
      FloatVector u0 = t0.blend(t1, m2).add(i2.selectFrom(t0, t1));
      FloatVector u1 = t2.blend(t3, m2).add(i2.selectFrom(t2, t3));
      FloatVector u = u0.blend(u1, m4).add(i4.selectFrom(u0, u1));
      // the padded tree's last level with zero first: gb[o] in lane 8 + o
      FloatVector gb = zero.blend(u, m8).add(i8.selectFrom(zero, u));
      if (grads != null) {
        gb.intoArray(grads, 72 * l + 56, m8);
      }
      FloatVector.fromMemorySegment(S, wts, p + 224, LE, m8).sub(gb.mul(lr))
          .intoMemorySegment(wts, p + 224, LE, m8);
    }
  }
}
