package dev.abyss.kernel;

import static dev.abyss.kernel.Kernels.F32;

import static dev.abyss.kernel.TanhMath.CLAMP;
import static dev.abyss.kernel.TanhMath.E2;
import static dev.abyss.kernel.TanhMath.E3;
import static dev.abyss.kernel.TanhMath.E4;
import static dev.abyss.kernel.TanhMath.E5;
import static dev.abyss.kernel.TanhMath.E6;
import static dev.abyss.kernel.TanhMath.E7;
import static dev.abyss.kernel.TanhMath.LN2_HI;
import static dev.abyss.kernel.TanhMath.LN2_LO;
import static dev.abyss.kernel.TanhMath.LOG2E;
import static dev.abyss.kernel.TanhMath.ROUND;
import static dev.abyss.kernel.TanhMath.SMALL;
import static dev.abyss.kernel.TanhMath.T0;
import static dev.abyss.kernel.TanhMath.T1;
import static dev.abyss.kernel.TanhMath.T2;
import static dev.abyss.kernel.TanhMath.T3;
import static dev.abyss.kernel.TanhMath.T4;
import static dev.abyss.kernel.TanhMath.T5;
import static dev.abyss.kernel.TanhMath.T6;
import static dev.abyss.kernel.TanhMath.T7;
import static jdk.incubator.vector.VectorOperators.GT;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LT;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Width 4, batch 16, 512-bit vectors: one full vector per feature, a layer's 16 weights in one
 * vector, and whole chunks of layers per call with h (forward) or dh (backward) held in four
 * registers from layer to layer. Batches of 32, 48, ... run the recompute one group of 16
 * samples at a time, the forward and the dh chain two groups at a time ({@link
 * #forwardSoftsign2}, {@link #dhChain2}), and their gradient sums in {@link #updatesGroups}.
 * ReLU and tanh have their own forward and recompute ({@link #forwardRelu}, {@link
 * #forwardSaveReluGroup}, {@link #forwardTanh}, {@link #forwardSaveTanhGroup}, the last two
 * with {@link #tanh4}); the backward takes any activation.
 *
 * <p>Each method is one loop whose body calls only the Vector API (all of it {@code
 * ForceInline}) and scalar segment reads: C2 refuses to inline our own helpers past its node
 * budget, and a vector that crosses a call it did not inline is boxed. The segment reads are
 * not all {@code ForceInline} (their endian conversion is not), so a loop with many of them can
 * still end with a call: the backward's dh loop did, and now loads each layer's weights as one
 * vector instead (docs/decisions.md). The operations and their order are those of
 * {@link VectorKernels}' per-layer path (the scalar order for the forward, the act'(z) saved
 * and dh; the same transpose-and-add tree for the gradients; the update's {@code p - lr * g}),
 * so results are bitwise those of one {@link Kernels#residualForward} /
 * {@link Kernels#residualBackward} + {@link Kernels#sgdUpdate} call per layer (tested).
 */
final class Width4 {
  private Width4() {}

  static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  /** Bytes per layer: 16 weights then 4 biases. */
  private static final long LB = 80;

  // B<k>: every lane takes lane k (Width8 uses them too)
  static final VectorShuffle<Float> B0 = VectorShuffle.fromOp(S, l -> 0);
  static final VectorShuffle<Float> B1 = VectorShuffle.fromOp(S, l -> 1);
  static final VectorShuffle<Float> B2 = VectorShuffle.fromOp(S, l -> 2);
  static final VectorShuffle<Float> B3 = VectorShuffle.fromOp(S, l -> 3);
  static final VectorShuffle<Float> B4 = VectorShuffle.fromOp(S, l -> 4);
  static final VectorShuffle<Float> B5 = VectorShuffle.fromOp(S, l -> 5);
  static final VectorShuffle<Float> B6 = VectorShuffle.fromOp(S, l -> 6);
  static final VectorShuffle<Float> B7 = VectorShuffle.fromOp(S, l -> 7);
  static final VectorShuffle<Float> B8 = VectorShuffle.fromOp(S, l -> 8);
  static final VectorShuffle<Float> B9 = VectorShuffle.fromOp(S, l -> 9);
  static final VectorShuffle<Float> B10 = VectorShuffle.fromOp(S, l -> 10);
  static final VectorShuffle<Float> B11 = VectorShuffle.fromOp(S, l -> 11);
  static final VectorShuffle<Float> B12 = VectorShuffle.fromOp(S, l -> 12);
  static final VectorShuffle<Float> B13 = VectorShuffle.fromOp(S, l -> 13);
  static final VectorShuffle<Float> B14 = VectorShuffle.fromOp(S, l -> 14);
  static final VectorShuffle<Float> B15 = VectorShuffle.fromOp(S, l -> 15);

  /**
   * {@code count} softsign layers forward from byte offset {@code off} for the 16 samples
   * {@code g0 .. g0 + 15} of a batch of {@code batch}, in place.
   */
  static void forwardSoftsign(MemorySegment wts, long off, int count, float alpha, float[] h,
      int batch, int g0) {
    FloatVector h0 = FloatVector.fromArray(S, h, g0);
    FloatVector h1 = FloatVector.fromArray(S, h, batch + g0);
    FloatVector h2 = FloatVector.fromArray(S, h, 2 * batch + g0);
    FloatVector h3 = FloatVector.fromArray(S, h, 3 * batch + g0);
    FloatVector va = FloatVector.broadcast(S, alpha);
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      // z_o = fma(h3, W3o, fma(h2, W2o, fma(h1, W1o, fma(h0, W0o, b_o))))
      FloatVector z0 = FloatVector.broadcast(S, wts.get(F32, p + 64));
      z0 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p)), z0);
      z0 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 16)), z0);
      z0 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 32)), z0);
      z0 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 48)), z0);
      FloatVector z1 = FloatVector.broadcast(S, wts.get(F32, p + 68));
      z1 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 4)), z1);
      z1 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 20)), z1);
      z1 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 36)), z1);
      z1 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 52)), z1);
      FloatVector z2 = FloatVector.broadcast(S, wts.get(F32, p + 72));
      z2 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 8)), z2);
      z2 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 24)), z2);
      z2 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 40)), z2);
      z2 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 56)), z2);
      FloatVector z3 = FloatVector.broadcast(S, wts.get(F32, p + 76));
      z3 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 12)), z3);
      z3 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 28)), z3);
      z3 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 44)), z3);
      z3 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 60)), z3);
      h0 = z0.div(z0.abs().add(1f)).fma(va, h0);
      h1 = z1.div(z1.abs().add(1f)).fma(va, h1);
      h2 = z2.div(z2.abs().add(1f)).fma(va, h2);
      h3 = z3.div(z3.abs().add(1f)).fma(va, h3);
    }
    h0.intoArray(h, g0);
    h1.intoArray(h, batch + g0);
    h2.intoArray(h, 2 * batch + g0);
    h3.intoArray(h, 3 * batch + g0);
  }

  /** Lane 4 f + s of a half-batch vector: feature f of sample s (of four), at f x 16 + s. */
  private static final int[] HALF_LANES = {
      0, 1, 2, 3, 16, 17, 18, 19, 32, 33, 34, 35, 48, 49, 50, 51};
  /** Feature i of each lane's sample, to all four features' lanes. */
  private static final VectorShuffle<Float> HF0 = VectorShuffle.fromOp(S, l -> l & 3);
  private static final VectorShuffle<Float> HF1 = VectorShuffle.fromOp(S, l -> 4 + (l & 3));
  private static final VectorShuffle<Float> HF2 = VectorShuffle.fromOp(S, l -> 8 + (l & 3));
  private static final VectorShuffle<Float> HF3 = VectorShuffle.fromOp(S, l -> 12 + (l & 3));
  /** W[i][f] to the lanes of feature f, from the layer's first 16 floats. */
  private static final VectorShuffle<Float> WF0 = VectorShuffle.fromOp(S, l -> l >> 2);
  private static final VectorShuffle<Float> WF1 = VectorShuffle.fromOp(S, l -> 4 + (l >> 2));
  private static final VectorShuffle<Float> WF2 = VectorShuffle.fromOp(S, l -> 8 + (l >> 2));
  private static final VectorShuffle<Float> WF3 = VectorShuffle.fromOp(S, l -> 12 + (l >> 2));
  /** b_f to the lanes of feature f, from floats 4-19 of the layer. */
  private static final VectorShuffle<Float> BF = VectorShuffle.fromOp(S, l -> 12 + (l >> 2));

  /**
   * {@link #forwardSoftsign} for the eight samples {@code g0 .. g0 + 7} of a batch of 16: one of
   * two threads' halves of a forward pass. Two chains of four samples, each in one vector of
   * four features x four samples (lane 4 f + s), so that a layer waits on two divisions, not
   * four: 20.5-21.9 ns/layer on each of two cores against 27.6-30.3 for the 16 samples on one
   * (a probe over 1M layers, Intel machine, docs/decisions.md). Per lane the operations of
   * {@link #forwardSoftsign} in its order, so the same bits.
   */
  static void forwardSoftsignHalf(MemorySegment wts, long off, int count, float alpha,
      float[] h, int g0) {
    // lane by lane through a small array: the Vector API's gather and scatter with an index
    // map (fromArray / intoArray with HALF_LANES) gave wrong lanes once C2 compiled both in
    // one method (Temurin 25.0.3; docs/decisions.md)
    float[] t = new float[32];
    for (int l = 0; l < 16; l++) {
      t[l] = h[g0 + HALF_LANES[l]];
      t[16 + l] = h[g0 + 4 + HALF_LANES[l]];
    }
    FloatVector c0 = FloatVector.fromArray(S, t, 0);
    FloatVector c1 = FloatVector.fromArray(S, t, 16);
    FloatVector va = FloatVector.broadcast(S, alpha);
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      FloatVector wl = FloatVector.fromMemorySegment(S, wts, p, LE);
      FloatVector w0 = wl.rearrange(WF0);
      FloatVector w1 = wl.rearrange(WF1);
      FloatVector w2 = wl.rearrange(WF2);
      FloatVector w3 = wl.rearrange(WF3);
      FloatVector b = FloatVector.fromMemorySegment(S, wts, p + 16, LE).rearrange(BF);
      // z_f = fma(h3, W3f, fma(h2, W2f, fma(h1, W1f, fma(h0, W0f, b_f)))), lane by lane
      FloatVector z0 = c0.rearrange(HF0).fma(w0, b);
      z0 = c0.rearrange(HF1).fma(w1, z0);
      z0 = c0.rearrange(HF2).fma(w2, z0);
      z0 = c0.rearrange(HF3).fma(w3, z0);
      FloatVector z1 = c1.rearrange(HF0).fma(w0, b);
      z1 = c1.rearrange(HF1).fma(w1, z1);
      z1 = c1.rearrange(HF2).fma(w2, z1);
      z1 = c1.rearrange(HF3).fma(w3, z1);
      c0 = z0.div(z0.abs().add(1f)).fma(va, c0);
      c1 = z1.div(z1.abs().add(1f)).fma(va, c1);
    }
    c0.intoArray(t, 0);
    c1.intoArray(t, 16);
    for (int l = 0; l < 16; l++) {
      h[g0 + HALF_LANES[l]] = t[l];
      h[g0 + 4 + HALF_LANES[l]] = t[16 + l];
    }
  }

  /**
   * {@link #forwardSoftsign} with ReLU: a = z where z > 0, else 0 (the per-layer path's blend).
   * A method of its own: one forward with the activation as a flag ran the softsign forward
   * 1.5-2x slower (docs/decisions.md).
   */
  static void forwardRelu(MemorySegment wts, long off, int count, float alpha, float[] h,
      int batch, int g0) {
    FloatVector zero = FloatVector.zero(S);
    FloatVector h0 = FloatVector.fromArray(S, h, g0);
    FloatVector h1 = FloatVector.fromArray(S, h, batch + g0);
    FloatVector h2 = FloatVector.fromArray(S, h, 2 * batch + g0);
    FloatVector h3 = FloatVector.fromArray(S, h, 3 * batch + g0);
    FloatVector va = FloatVector.broadcast(S, alpha);
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      // z_o = fma(h3, W3o, fma(h2, W2o, fma(h1, W1o, fma(h0, W0o, b_o))))
      FloatVector z0 = FloatVector.broadcast(S, wts.get(F32, p + 64));
      z0 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p)), z0);
      z0 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 16)), z0);
      z0 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 32)), z0);
      z0 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 48)), z0);
      FloatVector z1 = FloatVector.broadcast(S, wts.get(F32, p + 68));
      z1 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 4)), z1);
      z1 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 20)), z1);
      z1 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 36)), z1);
      z1 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 52)), z1);
      FloatVector z2 = FloatVector.broadcast(S, wts.get(F32, p + 72));
      z2 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 8)), z2);
      z2 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 24)), z2);
      z2 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 40)), z2);
      z2 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 56)), z2);
      FloatVector z3 = FloatVector.broadcast(S, wts.get(F32, p + 76));
      z3 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 12)), z3);
      z3 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 28)), z3);
      z3 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 44)), z3);
      z3 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 60)), z3);
      h0 = zero.blend(z0, z0.compare(VectorOperators.GT, 0f)).fma(va, h0);
      h1 = zero.blend(z1, z1.compare(VectorOperators.GT, 0f)).fma(va, h1);
      h2 = zero.blend(z2, z2.compare(VectorOperators.GT, 0f)).fma(va, h2);
      h3 = zero.blend(z3, z3.compare(VectorOperators.GT, 0f)).fma(va, h3);
    }
    h0.intoArray(h, g0);
    h1.intoArray(h, batch + g0);
    h2.intoArray(h, 2 * batch + g0);
    h3.intoArray(h, 3 * batch + g0);
  }

  /**
   * {@link #forwardSoftsign} with tanh: z goes through a scratch array to {@link #tanh4} (the
   * per-layer path's function).
   */
  static void forwardTanh(MemorySegment wts, long off, int count, float alpha, float[] h,
      int batch, int g0) {
    float[] t = new float[64];
    FloatVector h0 = FloatVector.fromArray(S, h, g0);
    FloatVector h1 = FloatVector.fromArray(S, h, batch + g0);
    FloatVector h2 = FloatVector.fromArray(S, h, 2 * batch + g0);
    FloatVector h3 = FloatVector.fromArray(S, h, 3 * batch + g0);
    FloatVector va = FloatVector.broadcast(S, alpha);
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      // z_o = fma(h3, W3o, fma(h2, W2o, fma(h1, W1o, fma(h0, W0o, b_o))))
      FloatVector z0 = FloatVector.broadcast(S, wts.get(F32, p + 64));
      z0 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p)), z0);
      z0 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 16)), z0);
      z0 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 32)), z0);
      z0 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 48)), z0);
      FloatVector z1 = FloatVector.broadcast(S, wts.get(F32, p + 68));
      z1 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 4)), z1);
      z1 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 20)), z1);
      z1 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 36)), z1);
      z1 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 52)), z1);
      FloatVector z2 = FloatVector.broadcast(S, wts.get(F32, p + 72));
      z2 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 8)), z2);
      z2 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 24)), z2);
      z2 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 40)), z2);
      z2 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 56)), z2);
      FloatVector z3 = FloatVector.broadcast(S, wts.get(F32, p + 76));
      z3 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 12)), z3);
      z3 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 28)), z3);
      z3 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 44)), z3);
      z3 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 60)), z3);
      z0.intoArray(t, 0);
      z1.intoArray(t, 16);
      z2.intoArray(t, 32);
      z3.intoArray(t, 48);
      tanh4(t, 0);
      FloatVector a0 = FloatVector.fromArray(S, t, 0);
      FloatVector a1 = FloatVector.fromArray(S, t, 16);
      FloatVector a2 = FloatVector.fromArray(S, t, 32);
      FloatVector a3 = FloatVector.fromArray(S, t, 48);
      h0 = a0.fma(va, h0);
      h1 = a1.fma(va, h1);
      h2 = a2.fma(va, h2);
      h3 = a3.fma(va, h3);
    }
    h0.intoArray(h, g0);
    h1.intoArray(h, batch + g0);
    h2.intoArray(h, 2 * batch + g0);
    h3.intoArray(h, 3 * batch + g0);
  }

  /**
   * tanh in place over the four vectors at {@code t[o]}, {@code t[o + 16]}, ...: {@link
   * VectorKernels#tanh}'s steps with its Horner loops unrolled, for the chunk kernels at widths
   * 4 and 8, which pass z and a through a scratch array. With this code inside the width-4
   * layer loop C1 gave up on that method ("out of virtual registers"); where the JIT had first
   * compiled it at its limited-profile tier (a long C2 queue, as in train's warm-up), it then
   * never reached C2 and ran about 50x slower. C1 compiles this method; C2 compiles it on its
   * own, too large to inline.
   */
  static void tanh4(float[] t, int o) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    FloatVector zero = FloatVector.zero(S);
    // tanh's constants as vectors, each made once: with scalar operands every operation adds
    // a broadcast (inside the width-4 layer loop, that passed C2's inlining budget)
    FloatVector cCLAMP = FloatVector.broadcast(S, CLAMP);
    FloatVector cSMALL = FloatVector.broadcast(S, SMALL);
    FloatVector cLOG2E = FloatVector.broadcast(S, LOG2E);
    FloatVector cROUND = FloatVector.broadcast(S, ROUND);
    FloatVector cLN2HI = FloatVector.broadcast(S, LN2_HI);
    FloatVector cLN2LO = FloatVector.broadcast(S, LN2_LO);
    FloatVector cT0 = FloatVector.broadcast(S, T0);
    FloatVector cT1 = FloatVector.broadcast(S, T1);
    FloatVector cT2 = FloatVector.broadcast(S, T2);
    FloatVector cT3 = FloatVector.broadcast(S, T3);
    FloatVector cT4 = FloatVector.broadcast(S, T4);
    FloatVector cT5 = FloatVector.broadcast(S, T5);
    FloatVector cT6 = FloatVector.broadcast(S, T6);
    FloatVector cT7 = FloatVector.broadcast(S, T7);
    FloatVector cE2 = FloatVector.broadcast(S, E2);
    FloatVector cE3 = FloatVector.broadcast(S, E3);
    FloatVector cE4 = FloatVector.broadcast(S, E4);
    FloatVector cE5 = FloatVector.broadcast(S, E5);
    FloatVector cE6 = FloatVector.broadcast(S, E6);
    FloatVector cE7 = FloatVector.broadcast(S, E7);
    FloatVector cM2 = FloatVector.broadcast(S, -2f);
    IntVector cBIAS = IntVector.broadcast(IntVector.SPECIES_512, TanhMath.EXP_BIAS);
    FloatVector z0 = FloatVector.fromArray(S, t, o);
    FloatVector z1 = FloatVector.fromArray(S, t, o + 16);
    FloatVector z2 = FloatVector.fromArray(S, t, o + 32);
    FloatVector z3 = FloatVector.fromArray(S, t, o + 48);
    FloatVector u0 = z0.abs();
    FloatVector x0 = u0.blend(cCLAMP, u0.compare(GT, cCLAMP));
    FloatVector s0 = x0.mul(x0);
    FloatVector p0 = s0.mul(cT7).add(cT6).mul(s0).add(cT5).mul(s0).add(cT4).mul(s0).add(cT3)
        .mul(s0).add(cT2).mul(s0).add(cT1).mul(s0).add(cT0).mul(s0).mul(x0).add(x0);
    FloatVector y0 = x0.mul(cM2);
    FloatVector k0 = y0.mul(cLOG2E).add(cROUND);
    FloatVector n0 = k0.sub(cROUND);
    FloatVector r0 = y0.sub(n0.mul(cLN2HI)).sub(n0.mul(cLN2LO));
    FloatVector e0 = r0.mul(cE7).add(cE6).mul(r0).add(cE5).mul(r0).add(cE4).mul(r0).add(cE3)
        .mul(r0).add(cE2).mul(r0).add(one).mul(r0).add(one)
        .mul(k0.reinterpretAsInts().sub(cBIAS).lanewise(LSHL, 23).reinterpretAsFloats());
    FloatVector t0 = one.sub(e0).div(e0.add(one)).blend(p0, x0.compare(LT, cSMALL));
    FloatVector a0 = t0.blend(t0.neg(), z0.compare(LT, zero));
    FloatVector u1 = z1.abs();
    FloatVector x1 = u1.blend(cCLAMP, u1.compare(GT, cCLAMP));
    FloatVector s1 = x1.mul(x1);
    FloatVector p1 = s1.mul(cT7).add(cT6).mul(s1).add(cT5).mul(s1).add(cT4).mul(s1).add(cT3)
        .mul(s1).add(cT2).mul(s1).add(cT1).mul(s1).add(cT0).mul(s1).mul(x1).add(x1);
    FloatVector y1 = x1.mul(cM2);
    FloatVector k1 = y1.mul(cLOG2E).add(cROUND);
    FloatVector n1 = k1.sub(cROUND);
    FloatVector r1 = y1.sub(n1.mul(cLN2HI)).sub(n1.mul(cLN2LO));
    FloatVector e1 = r1.mul(cE7).add(cE6).mul(r1).add(cE5).mul(r1).add(cE4).mul(r1).add(cE3)
        .mul(r1).add(cE2).mul(r1).add(one).mul(r1).add(one)
        .mul(k1.reinterpretAsInts().sub(cBIAS).lanewise(LSHL, 23).reinterpretAsFloats());
    FloatVector t1 = one.sub(e1).div(e1.add(one)).blend(p1, x1.compare(LT, cSMALL));
    FloatVector a1 = t1.blend(t1.neg(), z1.compare(LT, zero));
    FloatVector u2 = z2.abs();
    FloatVector x2 = u2.blend(cCLAMP, u2.compare(GT, cCLAMP));
    FloatVector s2 = x2.mul(x2);
    FloatVector p2 = s2.mul(cT7).add(cT6).mul(s2).add(cT5).mul(s2).add(cT4).mul(s2).add(cT3)
        .mul(s2).add(cT2).mul(s2).add(cT1).mul(s2).add(cT0).mul(s2).mul(x2).add(x2);
    FloatVector y2 = x2.mul(cM2);
    FloatVector k2 = y2.mul(cLOG2E).add(cROUND);
    FloatVector n2 = k2.sub(cROUND);
    FloatVector r2 = y2.sub(n2.mul(cLN2HI)).sub(n2.mul(cLN2LO));
    FloatVector e2 = r2.mul(cE7).add(cE6).mul(r2).add(cE5).mul(r2).add(cE4).mul(r2).add(cE3)
        .mul(r2).add(cE2).mul(r2).add(one).mul(r2).add(one)
        .mul(k2.reinterpretAsInts().sub(cBIAS).lanewise(LSHL, 23).reinterpretAsFloats());
    FloatVector t2 = one.sub(e2).div(e2.add(one)).blend(p2, x2.compare(LT, cSMALL));
    FloatVector a2 = t2.blend(t2.neg(), z2.compare(LT, zero));
    FloatVector u3 = z3.abs();
    FloatVector x3 = u3.blend(cCLAMP, u3.compare(GT, cCLAMP));
    FloatVector s3 = x3.mul(x3);
    FloatVector p3 = s3.mul(cT7).add(cT6).mul(s3).add(cT5).mul(s3).add(cT4).mul(s3).add(cT3)
        .mul(s3).add(cT2).mul(s3).add(cT1).mul(s3).add(cT0).mul(s3).mul(x3).add(x3);
    FloatVector y3 = x3.mul(cM2);
    FloatVector k3 = y3.mul(cLOG2E).add(cROUND);
    FloatVector n3 = k3.sub(cROUND);
    FloatVector r3 = y3.sub(n3.mul(cLN2HI)).sub(n3.mul(cLN2LO));
    FloatVector e3 = r3.mul(cE7).add(cE6).mul(r3).add(cE5).mul(r3).add(cE4).mul(r3).add(cE3)
        .mul(r3).add(cE2).mul(r3).add(one).mul(r3).add(one)
        .mul(k3.reinterpretAsInts().sub(cBIAS).lanewise(LSHL, 23).reinterpretAsFloats());
    FloatVector t3 = one.sub(e3).div(e3.add(one)).blend(p3, x3.compare(LT, cSMALL));
    FloatVector a3 = t3.blend(t3.neg(), z3.compare(LT, zero));
    a0.intoArray(t, o);
    a1.intoArray(t, o + 16);
    a2.intoArray(t, o + 32);
    a3.intoArray(t, o + 48);
  }

  /**
   * {@code count} softsign layers forward for two independent groups of 16 samples, lanes
   * {@code g0 .. g0 + 31} of a batch of {@code batch} (feature j of sample b at {@code j * batch
   * + b}). One group is a latency chain that leaves most of the vector units idle; two
   * interleaved chains fill them (eval's throughput). Per lane the operations are those of
   * {@link #forwardSoftsign}.
   */
  static void forwardSoftsign2(MemorySegment wts, long off, int count, float alpha, float[] h,
      int batch, int g0) {
    int i0 = g0;
    int i1 = batch + g0;
    int i2 = 2 * batch + g0;
    int i3 = 3 * batch + g0;
    FloatVector h0 = FloatVector.fromArray(S, h, i0);
    FloatVector h1 = FloatVector.fromArray(S, h, i1);
    FloatVector h2 = FloatVector.fromArray(S, h, i2);
    FloatVector h3 = FloatVector.fromArray(S, h, i3);
    FloatVector k0 = FloatVector.fromArray(S, h, i0 + 16);
    FloatVector k1 = FloatVector.fromArray(S, h, i1 + 16);
    FloatVector k2 = FloatVector.fromArray(S, h, i2 + 16);
    FloatVector k3 = FloatVector.fromArray(S, h, i3 + 16);
    FloatVector va = FloatVector.broadcast(S, alpha);
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      // per output: its five weights broadcast once, used by both groups
      FloatVector c0 = FloatVector.broadcast(S, wts.get(F32, p + 64));
      FloatVector u00 = FloatVector.broadcast(S, wts.get(F32, p + 0));
      FloatVector u10 = FloatVector.broadcast(S, wts.get(F32, p + 16));
      FloatVector u20 = FloatVector.broadcast(S, wts.get(F32, p + 32));
      FloatVector u30 = FloatVector.broadcast(S, wts.get(F32, p + 48));
      FloatVector z0 = h3.fma(u30, h2.fma(u20, h1.fma(u10, h0.fma(u00, c0))));
      FloatVector y0 = k3.fma(u30, k2.fma(u20, k1.fma(u10, k0.fma(u00, c0))));
      FloatVector c1 = FloatVector.broadcast(S, wts.get(F32, p + 68));
      FloatVector u01 = FloatVector.broadcast(S, wts.get(F32, p + 4));
      FloatVector u11 = FloatVector.broadcast(S, wts.get(F32, p + 20));
      FloatVector u21 = FloatVector.broadcast(S, wts.get(F32, p + 36));
      FloatVector u31 = FloatVector.broadcast(S, wts.get(F32, p + 52));
      FloatVector z1 = h3.fma(u31, h2.fma(u21, h1.fma(u11, h0.fma(u01, c1))));
      FloatVector y1 = k3.fma(u31, k2.fma(u21, k1.fma(u11, k0.fma(u01, c1))));
      FloatVector c2 = FloatVector.broadcast(S, wts.get(F32, p + 72));
      FloatVector u02 = FloatVector.broadcast(S, wts.get(F32, p + 8));
      FloatVector u12 = FloatVector.broadcast(S, wts.get(F32, p + 24));
      FloatVector u22 = FloatVector.broadcast(S, wts.get(F32, p + 40));
      FloatVector u32 = FloatVector.broadcast(S, wts.get(F32, p + 56));
      FloatVector z2 = h3.fma(u32, h2.fma(u22, h1.fma(u12, h0.fma(u02, c2))));
      FloatVector y2 = k3.fma(u32, k2.fma(u22, k1.fma(u12, k0.fma(u02, c2))));
      FloatVector c3 = FloatVector.broadcast(S, wts.get(F32, p + 76));
      FloatVector u03 = FloatVector.broadcast(S, wts.get(F32, p + 12));
      FloatVector u13 = FloatVector.broadcast(S, wts.get(F32, p + 28));
      FloatVector u23 = FloatVector.broadcast(S, wts.get(F32, p + 44));
      FloatVector u33 = FloatVector.broadcast(S, wts.get(F32, p + 60));
      FloatVector z3 = h3.fma(u33, h2.fma(u23, h1.fma(u13, h0.fma(u03, c3))));
      FloatVector y3 = k3.fma(u33, k2.fma(u23, k1.fma(u13, k0.fma(u03, c3))));
      h0 = z0.div(z0.abs().add(1f)).fma(va, h0);
      h1 = z1.div(z1.abs().add(1f)).fma(va, h1);
      h2 = z2.div(z2.abs().add(1f)).fma(va, h2);
      h3 = z3.div(z3.abs().add(1f)).fma(va, h3);
      k0 = y0.div(y0.abs().add(1f)).fma(va, k0);
      k1 = y1.div(y1.abs().add(1f)).fma(va, k1);
      k2 = y2.div(y2.abs().add(1f)).fma(va, k2);
      k3 = y3.div(y3.abs().add(1f)).fma(va, k3);
    }
    h0.intoArray(h, i0);
    h1.intoArray(h, i1);
    h2.intoArray(h, i2);
    h3.intoArray(h, i3);
    k0.intoArray(h, i0 + 16);
    k1.intoArray(h, i1 + 16);
    k2.intoArray(h, i2 + 16);
    k3.intoArray(h, i3 + 16);
  }

  /**
   * {@code count} softsign layers forward, saving layer l's input at {@code hSave[64 l]} and
   * act'(z) = (1 - |a|)^2 at {@code dSave[64 l]}.
   */
  static void forwardSaveSoftsign(MemorySegment wts, long off, int count, float alpha,
      float[] h, float[] hSave, float[] dSave) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    FloatVector h0 = FloatVector.fromArray(S, h, 0);
    FloatVector h1 = FloatVector.fromArray(S, h, 16);
    FloatVector h2 = FloatVector.fromArray(S, h, 32);
    FloatVector h3 = FloatVector.fromArray(S, h, 48);
    FloatVector va = FloatVector.broadcast(S, alpha);
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      int s = 64 * l;
      h0.intoArray(hSave, s);
      h1.intoArray(hSave, s + 16);
      h2.intoArray(hSave, s + 32);
      h3.intoArray(hSave, s + 48);
      FloatVector z0 = FloatVector.broadcast(S, wts.get(F32, p + 64));
      z0 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p)), z0);
      z0 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 16)), z0);
      z0 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 32)), z0);
      z0 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 48)), z0);
      FloatVector z1 = FloatVector.broadcast(S, wts.get(F32, p + 68));
      z1 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 4)), z1);
      z1 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 20)), z1);
      z1 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 36)), z1);
      z1 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 52)), z1);
      FloatVector z2 = FloatVector.broadcast(S, wts.get(F32, p + 72));
      z2 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 8)), z2);
      z2 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 24)), z2);
      z2 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 40)), z2);
      z2 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 56)), z2);
      FloatVector z3 = FloatVector.broadcast(S, wts.get(F32, p + 76));
      z3 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 12)), z3);
      z3 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 28)), z3);
      z3 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 44)), z3);
      z3 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 60)), z3);
      FloatVector a0 = z0.div(z0.abs().add(1f));
      FloatVector a1 = z1.div(z1.abs().add(1f));
      FloatVector a2 = z2.div(z2.abs().add(1f));
      FloatVector a3 = z3.div(z3.abs().add(1f));
      h0 = a0.fma(va, h0);
      h1 = a1.fma(va, h1);
      h2 = a2.fma(va, h2);
      h3 = a3.fma(va, h3);
      // act'(z) = (1 - |a|)^2, off the chain from one layer to the next
      FloatVector r0 = one.sub(a0.abs());
      FloatVector r1 = one.sub(a1.abs());
      FloatVector r2 = one.sub(a2.abs());
      FloatVector r3 = one.sub(a3.abs());
      r0.mul(r0).intoArray(dSave, s);
      r1.mul(r1).intoArray(dSave, s + 16);
      r2.mul(r2).intoArray(dSave, s + 32);
      r3.mul(r3).intoArray(dSave, s + 48);
    }
    h0.intoArray(h, 0);
    h1.intoArray(h, 16);
    h2.intoArray(h, 32);
    h3.intoArray(h, 48);
  }

  /**
   * {@link #forwardSaveSoftsign} for two segments at once: chain A from byte offset {@code
   * offA} with {@code hA} (saves to {@code hsA}, {@code dsA}) and chain B from {@code offB} with
   * {@code hB}, {@code count} layers each. One chain waits on its divisions and multiply-adds
   * layer after layer; two independent ones in one loop fill the units the other leaves idle.
   * Per lane the operations of {@link #forwardSaveSoftsign}, so the same bits. The weights come
   * from one vector load a layer and chain and permutes, not 32 broadcasts from the segment:
   * that loop was faster but too big for C1 ("out of virtual registers"; docs/decisions.md,
   * "Two segments recomputed in one call").
   */
  static void forwardSaveSoftsignPair(MemorySegment wts, long offA, long offB, int count,
      float alpha, float[] hA, float[] hsA, float[] dsA, float[] hB, float[] hsB, float[] dsB) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    FloatVector h0 = FloatVector.fromArray(S, hA, 0);
    FloatVector h1 = FloatVector.fromArray(S, hA, 16);
    FloatVector h2 = FloatVector.fromArray(S, hA, 32);
    FloatVector h3 = FloatVector.fromArray(S, hA, 48);
    FloatVector k0 = FloatVector.fromArray(S, hB, 0);
    FloatVector k1 = FloatVector.fromArray(S, hB, 16);
    FloatVector k2 = FloatVector.fromArray(S, hB, 32);
    FloatVector k3 = FloatVector.fromArray(S, hB, 48);
    FloatVector va = FloatVector.broadcast(S, alpha);
    for (int l = 0; l < count; l++) {
      long p = offA + l * LB;
      long q = offB + l * LB;
      int s = 64 * l;
      FloatVector wa = FloatVector.fromMemorySegment(S, wts, p, LE);
      FloatVector wb = FloatVector.fromMemorySegment(S, wts, q, LE);
      h0.intoArray(hsA, s);
      h1.intoArray(hsA, s + 16);
      h2.intoArray(hsA, s + 32);
      h3.intoArray(hsA, s + 48);
      k0.intoArray(hsB, s);
      k1.intoArray(hsB, s + 16);
      k2.intoArray(hsB, s + 32);
      k3.intoArray(hsB, s + 48);
      FloatVector z0 = FloatVector.broadcast(S, wts.get(F32, p + 64));
      z0 = h0.fma(wa.rearrange(B0), z0);
      z0 = h1.fma(wa.rearrange(B4), z0);
      z0 = h2.fma(wa.rearrange(B8), z0);
      z0 = h3.fma(wa.rearrange(B12), z0);
      FloatVector y0 = FloatVector.broadcast(S, wts.get(F32, q + 64));
      y0 = k0.fma(wb.rearrange(B0), y0);
      y0 = k1.fma(wb.rearrange(B4), y0);
      y0 = k2.fma(wb.rearrange(B8), y0);
      y0 = k3.fma(wb.rearrange(B12), y0);
      FloatVector z1 = FloatVector.broadcast(S, wts.get(F32, p + 68));
      z1 = h0.fma(wa.rearrange(B1), z1);
      z1 = h1.fma(wa.rearrange(B5), z1);
      z1 = h2.fma(wa.rearrange(B9), z1);
      z1 = h3.fma(wa.rearrange(B13), z1);
      FloatVector y1 = FloatVector.broadcast(S, wts.get(F32, q + 68));
      y1 = k0.fma(wb.rearrange(B1), y1);
      y1 = k1.fma(wb.rearrange(B5), y1);
      y1 = k2.fma(wb.rearrange(B9), y1);
      y1 = k3.fma(wb.rearrange(B13), y1);
      FloatVector z2 = FloatVector.broadcast(S, wts.get(F32, p + 72));
      z2 = h0.fma(wa.rearrange(B2), z2);
      z2 = h1.fma(wa.rearrange(B6), z2);
      z2 = h2.fma(wa.rearrange(B10), z2);
      z2 = h3.fma(wa.rearrange(B14), z2);
      FloatVector y2 = FloatVector.broadcast(S, wts.get(F32, q + 72));
      y2 = k0.fma(wb.rearrange(B2), y2);
      y2 = k1.fma(wb.rearrange(B6), y2);
      y2 = k2.fma(wb.rearrange(B10), y2);
      y2 = k3.fma(wb.rearrange(B14), y2);
      FloatVector z3 = FloatVector.broadcast(S, wts.get(F32, p + 76));
      z3 = h0.fma(wa.rearrange(B3), z3);
      z3 = h1.fma(wa.rearrange(B7), z3);
      z3 = h2.fma(wa.rearrange(B11), z3);
      z3 = h3.fma(wa.rearrange(B15), z3);
      FloatVector y3 = FloatVector.broadcast(S, wts.get(F32, q + 76));
      y3 = k0.fma(wb.rearrange(B3), y3);
      y3 = k1.fma(wb.rearrange(B7), y3);
      y3 = k2.fma(wb.rearrange(B11), y3);
      y3 = k3.fma(wb.rearrange(B15), y3);
      FloatVector a0 = z0.div(z0.abs().add(1f));
      FloatVector b0 = y0.div(y0.abs().add(1f));
      FloatVector a1 = z1.div(z1.abs().add(1f));
      FloatVector b1 = y1.div(y1.abs().add(1f));
      FloatVector a2 = z2.div(z2.abs().add(1f));
      FloatVector b2 = y2.div(y2.abs().add(1f));
      FloatVector a3 = z3.div(z3.abs().add(1f));
      FloatVector b3 = y3.div(y3.abs().add(1f));
      h0 = a0.fma(va, h0);
      k0 = b0.fma(va, k0);
      h1 = a1.fma(va, h1);
      k1 = b1.fma(va, k1);
      h2 = a2.fma(va, h2);
      k2 = b2.fma(va, k2);
      h3 = a3.fma(va, h3);
      k3 = b3.fma(va, k3);
      FloatVector r0 = one.sub(a0.abs());
      FloatVector r1 = one.sub(a1.abs());
      FloatVector r2 = one.sub(a2.abs());
      FloatVector r3 = one.sub(a3.abs());
      r0.mul(r0).intoArray(dsA, s);
      r1.mul(r1).intoArray(dsA, s + 16);
      r2.mul(r2).intoArray(dsA, s + 32);
      r3.mul(r3).intoArray(dsA, s + 48);
      FloatVector t0 = one.sub(b0.abs());
      FloatVector t1 = one.sub(b1.abs());
      FloatVector t2 = one.sub(b2.abs());
      FloatVector t3 = one.sub(b3.abs());
      t0.mul(t0).intoArray(dsB, s);
      t1.mul(t1).intoArray(dsB, s + 16);
      t2.mul(t2).intoArray(dsB, s + 32);
      t3.mul(t3).intoArray(dsB, s + 48);
    }
    h0.intoArray(hA, 0);
    h1.intoArray(hA, 16);
    h2.intoArray(hA, 32);
    h3.intoArray(hA, 48);
    k0.intoArray(hB, 0);
    k1.intoArray(hB, 16);
    k2.intoArray(hB, 32);
    k3.intoArray(hB, 48);
  }
  /**
   * {@code count} softsign layers forward for the 16 samples {@code g0 .. g0 + 15} of a batch of
   * {@code batch} (feature j of sample b at {@code j * batch + b}), saving layer l's input and
   * act'(z) = (1 - |a|)^2 in that layout at {@code hSave[4 batch l]} and {@code dSave[4 batch
   * l]}. {@link #forwardSaveSoftsign} with the batch as a stride: batch 16 keeps its own copy
   * with constant offsets, 2% faster (docs/decisions.md).
   */
  static void forwardSaveSoftsignGroup(MemorySegment wts, long off, int count, float alpha,
      float[] h, float[] hSave, float[] dSave, int batch, int g0) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    FloatVector h0 = FloatVector.fromArray(S, h, g0);
    FloatVector h1 = FloatVector.fromArray(S, h, batch + g0);
    FloatVector h2 = FloatVector.fromArray(S, h, 2 * batch + g0);
    FloatVector h3 = FloatVector.fromArray(S, h, 3 * batch + g0);
    FloatVector va = FloatVector.broadcast(S, alpha);
    int b1 = batch;
    int b2 = 2 * batch;
    int b3 = 3 * batch;
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      int s = 4 * batch * l + g0;
      h0.intoArray(hSave, s);
      h1.intoArray(hSave, s + b1);
      h2.intoArray(hSave, s + b2);
      h3.intoArray(hSave, s + b3);
      FloatVector z0 = FloatVector.broadcast(S, wts.get(F32, p + 64));
      z0 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p)), z0);
      z0 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 16)), z0);
      z0 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 32)), z0);
      z0 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 48)), z0);
      FloatVector z1 = FloatVector.broadcast(S, wts.get(F32, p + 68));
      z1 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 4)), z1);
      z1 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 20)), z1);
      z1 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 36)), z1);
      z1 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 52)), z1);
      FloatVector z2 = FloatVector.broadcast(S, wts.get(F32, p + 72));
      z2 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 8)), z2);
      z2 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 24)), z2);
      z2 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 40)), z2);
      z2 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 56)), z2);
      FloatVector z3 = FloatVector.broadcast(S, wts.get(F32, p + 76));
      z3 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 12)), z3);
      z3 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 28)), z3);
      z3 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 44)), z3);
      z3 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 60)), z3);
      FloatVector a0 = z0.div(z0.abs().add(1f));
      FloatVector a1 = z1.div(z1.abs().add(1f));
      FloatVector a2 = z2.div(z2.abs().add(1f));
      FloatVector a3 = z3.div(z3.abs().add(1f));
      h0 = a0.fma(va, h0);
      h1 = a1.fma(va, h1);
      h2 = a2.fma(va, h2);
      h3 = a3.fma(va, h3);
      // act'(z) = (1 - |a|)^2, off the chain from one layer to the next
      FloatVector r0 = one.sub(a0.abs());
      FloatVector r1 = one.sub(a1.abs());
      FloatVector r2 = one.sub(a2.abs());
      FloatVector r3 = one.sub(a3.abs());
      r0.mul(r0).intoArray(dSave, s);
      r1.mul(r1).intoArray(dSave, s + b1);
      r2.mul(r2).intoArray(dSave, s + b2);
      r3.mul(r3).intoArray(dSave, s + b3);
    }
    h0.intoArray(h, g0);
    h1.intoArray(h, batch + g0);
    h2.intoArray(h, 2 * batch + g0);
    h3.intoArray(h, 3 * batch + g0);
  }

  /**
   * {@link #forwardSaveSoftsignGroup} with ReLU, for any batch of whole groups of 16 (16
   * included): a = z where z > 0, else 0, and act'(z) = 1 there, else 0.
   */
  static void forwardSaveReluGroup(MemorySegment wts, long off, int count, float alpha,
      float[] h, float[] hSave, float[] dSave, int batch, int g0) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    FloatVector zero = FloatVector.zero(S);
    FloatVector h0 = FloatVector.fromArray(S, h, g0);
    FloatVector h1 = FloatVector.fromArray(S, h, batch + g0);
    FloatVector h2 = FloatVector.fromArray(S, h, 2 * batch + g0);
    FloatVector h3 = FloatVector.fromArray(S, h, 3 * batch + g0);
    FloatVector va = FloatVector.broadcast(S, alpha);
    int b1 = batch;
    int b2 = 2 * batch;
    int b3 = 3 * batch;
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      int s = 4 * batch * l + g0;
      h0.intoArray(hSave, s);
      h1.intoArray(hSave, s + b1);
      h2.intoArray(hSave, s + b2);
      h3.intoArray(hSave, s + b3);
      FloatVector z0 = FloatVector.broadcast(S, wts.get(F32, p + 64));
      z0 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p)), z0);
      z0 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 16)), z0);
      z0 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 32)), z0);
      z0 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 48)), z0);
      FloatVector z1 = FloatVector.broadcast(S, wts.get(F32, p + 68));
      z1 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 4)), z1);
      z1 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 20)), z1);
      z1 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 36)), z1);
      z1 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 52)), z1);
      FloatVector z2 = FloatVector.broadcast(S, wts.get(F32, p + 72));
      z2 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 8)), z2);
      z2 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 24)), z2);
      z2 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 40)), z2);
      z2 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 56)), z2);
      FloatVector z3 = FloatVector.broadcast(S, wts.get(F32, p + 76));
      z3 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 12)), z3);
      z3 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 28)), z3);
      z3 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 44)), z3);
      z3 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 60)), z3);
      VectorMask<Float> q0 = z0.compare(VectorOperators.GT, 0f);
      VectorMask<Float> q1 = z1.compare(VectorOperators.GT, 0f);
      VectorMask<Float> q2 = z2.compare(VectorOperators.GT, 0f);
      VectorMask<Float> q3 = z3.compare(VectorOperators.GT, 0f);
      h0 = zero.blend(z0, q0).fma(va, h0);
      h1 = zero.blend(z1, q1).fma(va, h1);
      h2 = zero.blend(z2, q2).fma(va, h2);
      h3 = zero.blend(z3, q3).fma(va, h3);
      // act'(z) = 1 where z > 0, else 0
      zero.blend(one, q0).intoArray(dSave, s);
      zero.blend(one, q1).intoArray(dSave, s + b1);
      zero.blend(one, q2).intoArray(dSave, s + b2);
      zero.blend(one, q3).intoArray(dSave, s + b3);
    }
    h0.intoArray(h, g0);
    h1.intoArray(h, batch + g0);
    h2.intoArray(h, 2 * batch + g0);
    h3.intoArray(h, 3 * batch + g0);
  }

  /**
   * {@link #forwardSaveSoftsignGroup} with tanh, for any batch of whole groups of 16 (16
   * included): act'(z) = 1 - a^2 (the per-layer path's).
   */
  static void forwardSaveTanhGroup(MemorySegment wts, long off, int count, float alpha,
      float[] h, float[] hSave, float[] dSave, int batch, int g0) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    float[] t = new float[64];
    FloatVector h0 = FloatVector.fromArray(S, h, g0);
    FloatVector h1 = FloatVector.fromArray(S, h, batch + g0);
    FloatVector h2 = FloatVector.fromArray(S, h, 2 * batch + g0);
    FloatVector h3 = FloatVector.fromArray(S, h, 3 * batch + g0);
    FloatVector va = FloatVector.broadcast(S, alpha);
    int b1 = batch;
    int b2 = 2 * batch;
    int b3 = 3 * batch;
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      int s = 4 * batch * l + g0;
      h0.intoArray(hSave, s);
      h1.intoArray(hSave, s + b1);
      h2.intoArray(hSave, s + b2);
      h3.intoArray(hSave, s + b3);
      FloatVector z0 = FloatVector.broadcast(S, wts.get(F32, p + 64));
      z0 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p)), z0);
      z0 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 16)), z0);
      z0 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 32)), z0);
      z0 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 48)), z0);
      FloatVector z1 = FloatVector.broadcast(S, wts.get(F32, p + 68));
      z1 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 4)), z1);
      z1 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 20)), z1);
      z1 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 36)), z1);
      z1 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 52)), z1);
      FloatVector z2 = FloatVector.broadcast(S, wts.get(F32, p + 72));
      z2 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 8)), z2);
      z2 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 24)), z2);
      z2 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 40)), z2);
      z2 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 56)), z2);
      FloatVector z3 = FloatVector.broadcast(S, wts.get(F32, p + 76));
      z3 = h0.fma(FloatVector.broadcast(S, wts.get(F32, p + 12)), z3);
      z3 = h1.fma(FloatVector.broadcast(S, wts.get(F32, p + 28)), z3);
      z3 = h2.fma(FloatVector.broadcast(S, wts.get(F32, p + 44)), z3);
      z3 = h3.fma(FloatVector.broadcast(S, wts.get(F32, p + 60)), z3);
      z0.intoArray(t, 0);
      z1.intoArray(t, 16);
      z2.intoArray(t, 32);
      z3.intoArray(t, 48);
      tanh4(t, 0);
      FloatVector a0 = FloatVector.fromArray(S, t, 0);
      FloatVector a1 = FloatVector.fromArray(S, t, 16);
      FloatVector a2 = FloatVector.fromArray(S, t, 32);
      FloatVector a3 = FloatVector.fromArray(S, t, 48);
      h0 = a0.fma(va, h0);
      h1 = a1.fma(va, h1);
      h2 = a2.fma(va, h2);
      h3 = a3.fma(va, h3);
      // act'(z) = 1 - a^2, off the chain from one layer to the next
      one.sub(a0.mul(a0)).intoArray(dSave, s);
      one.sub(a1.mul(a1)).intoArray(dSave, s + b1);
      one.sub(a2.mul(a2)).intoArray(dSave, s + b2);
      one.sub(a3.mul(a3)).intoArray(dSave, s + b3);
    }
    h0.intoArray(h, g0);
    h1.intoArray(h, batch + g0);
    h2.intoArray(h, 2 * batch + g0);
    h3.intoArray(h, 3 * batch + g0);
  }

  /**
   * Backward and SGD update over {@code count} layers from byte offset {@code off}, last layer
   * first, with the saves of {@link #forwardSaveSoftsign} (any activation's act'(z)); dh (4 x
   * 16) in place; {@code gs} (at least 64 {@code count} floats) is scratch. With {@code grads}
   * non-null, layer l's gW (16) and gb (4) are also written at {@code grads[20 l]}. {@code
   * dhDone}, when not null, runs once dh is final, before the updates.
   *
   * <p>Two loops: the dh chain (latency-bound, each layer waits for the one after it), which
   * keeps every layer's g, then the weight-gradient trees and updates (throughput-bound,
   * independent across layers). One fused loop was as fast, but too big for C1, which gave up
   * on it; the tiered JIT then sometimes never moved it to C2 and it ran interpreted.
   */
  static void backwardUpdate(MemorySegment wts, long off, int count, float alpha, float lr,
      float[] hSave, float[] dSave, float[] dh, float[] gs, float[] grads, Runnable dhDone) {
    FloatVector dh0 = FloatVector.fromArray(S, dh, 0);
    FloatVector dh1 = FloatVector.fromArray(S, dh, 16);
    FloatVector dh2 = FloatVector.fromArray(S, dh, 32);
    FloatVector dh3 = FloatVector.fromArray(S, dh, 48);
    for (int l = count - 1; l >= 0; l--) {
      long p = off + l * LB;
      int s = 64 * l;
      // g_o = alpha * dh_o * act'(z_o)
      FloatVector g0 = dh0.mul(alpha).mul(FloatVector.fromArray(S, dSave, s));
      FloatVector g1 = dh1.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 16));
      FloatVector g2 = dh2.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 32));
      FloatVector g3 = dh3.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 48));
      g0.intoArray(gs, s);
      g1.intoArray(gs, s + 16);
      g2.intoArray(gs, s + 32);
      g3.intoArray(gs, s + 48);
      // dh_i = fma(g_o, W[i][o], dh_i) for o = 0..3, W before the update: the layer's 16
      // weights in one load, each broadcast by a permute (16 scalar segment reads made this
      // loop too big for C2's inlining budget, and one read became a call)
      FloatVector wv = FloatVector.fromMemorySegment(S, wts, p, LE);
      dh0 = g0.fma(wv.rearrange(B0), dh0);
      dh0 = g1.fma(wv.rearrange(B1), dh0);
      dh0 = g2.fma(wv.rearrange(B2), dh0);
      dh0 = g3.fma(wv.rearrange(B3), dh0);
      dh1 = g0.fma(wv.rearrange(B4), dh1);
      dh1 = g1.fma(wv.rearrange(B5), dh1);
      dh1 = g2.fma(wv.rearrange(B6), dh1);
      dh1 = g3.fma(wv.rearrange(B7), dh1);
      dh2 = g0.fma(wv.rearrange(B8), dh2);
      dh2 = g1.fma(wv.rearrange(B9), dh2);
      dh2 = g2.fma(wv.rearrange(B10), dh2);
      dh2 = g3.fma(wv.rearrange(B11), dh2);
      dh3 = g0.fma(wv.rearrange(B12), dh3);
      dh3 = g1.fma(wv.rearrange(B13), dh3);
      dh3 = g2.fma(wv.rearrange(B14), dh3);
      dh3 = g3.fma(wv.rearrange(B15), dh3);
    }
    dh0.intoArray(dh, 0);
    dh1.intoArray(dh, 16);
    dh2.intoArray(dh, 32);
    dh3.intoArray(dh, 48);
    if (dhDone != null) {
      dhDone.run();
    }
    updates(wts, off, count, lr, hSave, gs, grads);
  }

  /**
   * The backward's dh chain over {@code count} layers from byte offset {@code off}, last layer
   * first, for the 16 samples {@code g0 .. g0 + 15} of a batch of {@code batch} (the layout of
   * {@link #forwardSaveSoftsignGroup}): layer l's g = alpha dh act'(z) to {@code gs[4 batch l]},
   * then dh += g W^T with W before the update; dh in place. The first loop of {@link
   * #backwardUpdate} with the batch as a stride: batch 16 keeps its own copy with constant
   * offsets, which measured 6-8% faster in the backward (docs/decisions.md).
   */
  static void dhChain(MemorySegment wts, long off, int count, float alpha, float[] dSave,
      float[] dh, float[] gs, int batch, int g0) {
    FloatVector dh0 = FloatVector.fromArray(S, dh, g0);
    FloatVector dh1 = FloatVector.fromArray(S, dh, batch + g0);
    FloatVector dh2 = FloatVector.fromArray(S, dh, 2 * batch + g0);
    FloatVector dh3 = FloatVector.fromArray(S, dh, 3 * batch + g0);
    int b1 = batch;
    int b2 = 2 * batch;
    int b3 = 3 * batch;
    for (int l = count - 1; l >= 0; l--) {
      long p = off + l * LB;
      int s = 4 * batch * l + g0;
      // g_o = alpha * dh_o * act'(z_o)
      FloatVector g0v = dh0.mul(alpha).mul(FloatVector.fromArray(S, dSave, s));
      FloatVector g1v = dh1.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b1));
      FloatVector g2v = dh2.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b2));
      FloatVector g3v = dh3.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b3));
      g0v.intoArray(gs, s);
      g1v.intoArray(gs, s + b1);
      g2v.intoArray(gs, s + b2);
      g3v.intoArray(gs, s + b3);
      // dh_i = fma(g_o, W[i][o], dh_i) for o = 0..3, W before the update: the layer's 16
      // weights in one load, each broadcast by a permute (16 scalar segment reads made this
      // loop too big for C2's inlining budget, and one read became a call)
      FloatVector wv = FloatVector.fromMemorySegment(S, wts, p, LE);
      dh0 = g0v.fma(wv.rearrange(B0), dh0);
      dh0 = g1v.fma(wv.rearrange(B1), dh0);
      dh0 = g2v.fma(wv.rearrange(B2), dh0);
      dh0 = g3v.fma(wv.rearrange(B3), dh0);
      dh1 = g0v.fma(wv.rearrange(B4), dh1);
      dh1 = g1v.fma(wv.rearrange(B5), dh1);
      dh1 = g2v.fma(wv.rearrange(B6), dh1);
      dh1 = g3v.fma(wv.rearrange(B7), dh1);
      dh2 = g0v.fma(wv.rearrange(B8), dh2);
      dh2 = g1v.fma(wv.rearrange(B9), dh2);
      dh2 = g2v.fma(wv.rearrange(B10), dh2);
      dh2 = g3v.fma(wv.rearrange(B11), dh2);
      dh3 = g0v.fma(wv.rearrange(B12), dh3);
      dh3 = g1v.fma(wv.rearrange(B13), dh3);
      dh3 = g2v.fma(wv.rearrange(B14), dh3);
      dh3 = g3v.fma(wv.rearrange(B15), dh3);
    }
    dh0.intoArray(dh, g0);
    dh1.intoArray(dh, batch + g0);
    dh2.intoArray(dh, 2 * batch + g0);
    dh3.intoArray(dh, 3 * batch + g0);
  }

  /**
   * {@link #dhChain} for two groups at once, the samples {@code g0 .. g0 + 31}: two
   * independent chains in one loop (each alone leaves the units idle while it waits), the
   * weights broadcast from an array copy (with two chains, the sixteen permute indices would
   * not fit in the registers beside them). Per lane the operations of {@link #dhChain}.
   */
  static void dhChain2(MemorySegment wts, long off, int count, float alpha, float[] dSave,
      float[] dh, float[] gs, int batch, int g0) {
    FloatVector dh0 = FloatVector.fromArray(S, dh, g0);
    FloatVector dh1 = FloatVector.fromArray(S, dh, batch + g0);
    FloatVector dh2 = FloatVector.fromArray(S, dh, 2 * batch + g0);
    FloatVector dh3 = FloatVector.fromArray(S, dh, 3 * batch + g0);
    FloatVector dk0 = FloatVector.fromArray(S, dh, g0 + 16);
    FloatVector dk1 = FloatVector.fromArray(S, dh, batch + g0 + 16);
    FloatVector dk2 = FloatVector.fromArray(S, dh, 2 * batch + g0 + 16);
    FloatVector dk3 = FloatVector.fromArray(S, dh, 3 * batch + g0 + 16);
    float[] lw = new float[16];
    for (int l = count - 1; l >= 0; l--) {
      long p = off + l * LB;
      int s = 4 * batch * l + g0;
      FloatVector a0 = dh0.mul(alpha).mul(FloatVector.fromArray(S, dSave, s));
      FloatVector a1 = dh1.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + batch));
      FloatVector a2 = dh2.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 2 * batch));
      FloatVector a3 = dh3.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 3 * batch));
      a0.intoArray(gs, s);
      a1.intoArray(gs, s + batch);
      a2.intoArray(gs, s + 2 * batch);
      a3.intoArray(gs, s + 3 * batch);
      FloatVector c0 = dk0.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 16));
      FloatVector c1 = dk1.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + batch + 16));
      FloatVector c2 = dk2.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 2 * batch + 16));
      FloatVector c3 = dk3.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + 3 * batch + 16));
      c0.intoArray(gs, s + 16);
      c1.intoArray(gs, s + batch + 16);
      c2.intoArray(gs, s + 2 * batch + 16);
      c3.intoArray(gs, s + 3 * batch + 16);
      FloatVector.fromMemorySegment(S, wts, p, LE).intoArray(lw, 0);
      dh0 = a0.fma(FloatVector.broadcast(S, lw[0]), dh0);
      dk0 = c0.fma(FloatVector.broadcast(S, lw[0]), dk0);
      dh0 = a1.fma(FloatVector.broadcast(S, lw[1]), dh0);
      dk0 = c1.fma(FloatVector.broadcast(S, lw[1]), dk0);
      dh0 = a2.fma(FloatVector.broadcast(S, lw[2]), dh0);
      dk0 = c2.fma(FloatVector.broadcast(S, lw[2]), dk0);
      dh0 = a3.fma(FloatVector.broadcast(S, lw[3]), dh0);
      dk0 = c3.fma(FloatVector.broadcast(S, lw[3]), dk0);
      dh1 = a0.fma(FloatVector.broadcast(S, lw[4]), dh1);
      dk1 = c0.fma(FloatVector.broadcast(S, lw[4]), dk1);
      dh1 = a1.fma(FloatVector.broadcast(S, lw[5]), dh1);
      dk1 = c1.fma(FloatVector.broadcast(S, lw[5]), dk1);
      dh1 = a2.fma(FloatVector.broadcast(S, lw[6]), dh1);
      dk1 = c2.fma(FloatVector.broadcast(S, lw[6]), dk1);
      dh1 = a3.fma(FloatVector.broadcast(S, lw[7]), dh1);
      dk1 = c3.fma(FloatVector.broadcast(S, lw[7]), dk1);
      dh2 = a0.fma(FloatVector.broadcast(S, lw[8]), dh2);
      dk2 = c0.fma(FloatVector.broadcast(S, lw[8]), dk2);
      dh2 = a1.fma(FloatVector.broadcast(S, lw[9]), dh2);
      dk2 = c1.fma(FloatVector.broadcast(S, lw[9]), dk2);
      dh2 = a2.fma(FloatVector.broadcast(S, lw[10]), dh2);
      dk2 = c2.fma(FloatVector.broadcast(S, lw[10]), dk2);
      dh2 = a3.fma(FloatVector.broadcast(S, lw[11]), dh2);
      dk2 = c3.fma(FloatVector.broadcast(S, lw[11]), dk2);
      dh3 = a0.fma(FloatVector.broadcast(S, lw[12]), dh3);
      dk3 = c0.fma(FloatVector.broadcast(S, lw[12]), dk3);
      dh3 = a1.fma(FloatVector.broadcast(S, lw[13]), dh3);
      dk3 = c1.fma(FloatVector.broadcast(S, lw[13]), dk3);
      dh3 = a2.fma(FloatVector.broadcast(S, lw[14]), dh3);
      dk3 = c2.fma(FloatVector.broadcast(S, lw[14]), dk3);
      dh3 = a3.fma(FloatVector.broadcast(S, lw[15]), dh3);
      dk3 = c3.fma(FloatVector.broadcast(S, lw[15]), dk3);
    }
    dh0.intoArray(dh, g0);
    dh1.intoArray(dh, batch + g0);
    dh2.intoArray(dh, 2 * batch + g0);
    dh3.intoArray(dh, 3 * batch + g0);
    dk0.intoArray(dh, g0 + 16);
    dk1.intoArray(dh, batch + g0 + 16);
    dk2.intoArray(dh, 2 * batch + g0 + 16);
    dk3.intoArray(dh, 3 * batch + g0 + 16);
  }

  /**
   * gW and gb of each layer from its input and g, by the tree; then W -= lr gW, b -= lr gb.
   *
   * <p>The tree's permute indices and lane masks are computed here from lane numbers, not read
   * from static vectors: C2 cannot hoist a read of a vector's backing array out of a loop that
   * stores to a memory segment, so static constants were reloaded, and float indices converted
   * to ints, in every layer. The first level is {@code x P + swap1(x) Q}, with P and Q built
   * once a layer from the g's: the same products and the same sums as {@code blend(a, b) +
   * permute(a, b)} of {@code a = x g0, b = x g1}, so the same bits (docs/decisions.md).
   *
   * <p>The biases are read and written as lanes 12-15 of a vector at the layer's byte 16, so
   * that the masked access spans only this layer's 80 bytes. At byte 64 its 64-byte span
   * covered the next layer's weights, which the next iteration loads, and the loop ran 12-22%
   * slower (docs/decisions.md).
   */
  private static void updates(MemorySegment wts, long off, int count, float lr,
      float[] hSave, float[] gs, float[] grads) {
    IntVector iota = IntVector.zero(IntVector.SPECIES_512).addIndex(1);
    FloatVector zero = FloatVector.zero(S);
    // A tree level at lane distance d combines a and b into a.blend(b, md) + id.selectFrom(a,
    // b): lane l with bit d clear gets a[l] + a[l ^ d], with bit d set b[l] + b[l ^ d]. The
    // two-source permute's index id is l ^ d, plus 16 (the second source) where bit d is set.
    VectorMask<Float> m1 = iota.and(1).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> m2 = iota.and(2).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> m4 = iota.and(4).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> m8 = iota.and(8).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> last4 = iota.compare(VectorOperators.GE, 12).cast(S);
    VectorShuffle<Float> sw1 = ((FloatVector) iota.lanewise(VectorOperators.XOR, 1)
        .convert(VectorOperators.I2F, 0)).toShuffle();
    FloatVector i1 = (FloatVector) iota.lanewise(VectorOperators.XOR, 1)
        .or(iota.and(1).lanewise(VectorOperators.LSHL, 4)).convert(VectorOperators.I2F, 0);
    FloatVector i2 = (FloatVector) iota.lanewise(VectorOperators.XOR, 2)
        .or(iota.and(2).lanewise(VectorOperators.LSHL, 3)).convert(VectorOperators.I2F, 0);
    FloatVector i4 = (FloatVector) iota.lanewise(VectorOperators.XOR, 4)
        .or(iota.and(4).lanewise(VectorOperators.LSHL, 2)).convert(VectorOperators.I2F, 0);
    FloatVector i8 = (FloatVector) iota.lanewise(VectorOperators.XOR, 8)
        .or(iota.and(8).lanewise(VectorOperators.LSHL, 1)).convert(VectorOperators.I2F, 0);
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      int s = 64 * l;
      FloatVector g0 = FloatVector.fromArray(S, gs, s);
      FloatVector g1 = FloatVector.fromArray(S, gs, s + 16);
      FloatVector g2 = FloatVector.fromArray(S, gs, s + 32);
      FloatVector g3 = FloatVector.fromArray(S, gs, s + 48);
      FloatVector x0 = FloatVector.fromArray(S, hSave, s);
      FloatVector x1 = FloatVector.fromArray(S, hSave, s + 16);
      FloatVector x2 = FloatVector.fromArray(S, hSave, s + 32);
      FloatVector x3 = FloatVector.fromArray(S, hSave, s + 48);
      // gW[i][o] = sum_b x_i g_o, 16 sums folded by the tree. Level 1 of row i combines
      // a = x_i g0 and b = x_i g1: blend(a, b) = x_i P01 and permute(a, b) = swap1(x_i) Q01
      // with P01 = blend(g0, g1), Q01 = permute(g0, g1); likewise g2, g3.
      FloatVector p01 = g0.blend(g1, m1);
      FloatVector q01 = i1.selectFrom(g0, g1);
      FloatVector p23 = g2.blend(g3, m1);
      FloatVector q23 = i1.selectFrom(g2, g3);
      FloatVector y;
      FloatVector c;
      FloatVector d;
      y = x0.rearrange(sw1);
      c = x0.mul(p01).add(y.mul(q01));
      d = x0.mul(p23).add(y.mul(q23));
      FloatVector r0 = c.blend(d, m2).add(i2.selectFrom(c, d));
      y = x1.rearrange(sw1);
      c = x1.mul(p01).add(y.mul(q01));
      d = x1.mul(p23).add(y.mul(q23));
      FloatVector r1 = c.blend(d, m2).add(i2.selectFrom(c, d));
      y = x2.rearrange(sw1);
      c = x2.mul(p01).add(y.mul(q01));
      d = x2.mul(p23).add(y.mul(q23));
      FloatVector r2 = c.blend(d, m2).add(i2.selectFrom(c, d));
      y = x3.rearrange(sw1);
      c = x3.mul(p01).add(y.mul(q01));
      d = x3.mul(p23).add(y.mul(q23));
      FloatVector r3 = c.blend(d, m2).add(i2.selectFrom(c, d));
      FloatVector e = r0.blend(r1, m4).add(i4.selectFrom(r0, r1));
      FloatVector f = r2.blend(r3, m4).add(i4.selectFrom(r2, r3));
      FloatVector gw = e.blend(f, m8).add(i8.selectFrom(e, f));
      // gb[o] = sum_b g_o (the tree with zero padding, as the per-layer path); its level 1 is
      // blend(g0, g1) + permute(g0, g1) = P01 + Q01. The zero-padded levels take zero as their
      // first operand, so the sums land in lanes 12-15 instead of 0-3: the same sums with their
      // two terms swapped, and a + b is b + a exactly.
      c = p01.add(q01);
      d = p23.add(q23);
      e = c.blend(d, m2).add(i2.selectFrom(c, d));
      e = zero.blend(e, m4).add(i4.selectFrom(zero, e));
      FloatVector gb = zero.blend(e, m8).add(i8.selectFrom(zero, e));
      if (grads != null) {
        gw.intoArray(grads, 20 * l);
        gb.intoArray(grads, 20 * l + 4, last4);
      }
      FloatVector wv = FloatVector.fromMemorySegment(S, wts, p, LE);
      FloatVector bv = FloatVector.fromMemorySegment(S, wts, p + 16, LE, last4);
      wv.sub(gw.mul(lr)).intoMemorySegment(wts, p, LE);
      bv.sub(gb.mul(lr)).intoMemorySegment(wts, p + 16, LE, last4);
    }
  }

  /**
   * As {@link #updates} for a batch of 16 k samples, k at least 2 (groups of 16 in the layout
   * of {@link #forwardSaveSoftsignGroup}), in the operation order of {@link VectorKernels}'
   * per-layer path for such batches: each of the 16 weight gradients and 4 bias gradients is
   * first summed across the groups lane by lane, from zero in group order, then folded by the
   * transpose-and-add tree; the biases' tree is padded with zero vectors, its sums in lanes
   * 0-3.
   */
  static void updatesGroups(MemorySegment wts, long off, int count, float lr, float[] hSave,
      float[] gs, float[] grads, int batch) {
    IntVector iota = IntVector.zero(IntVector.SPECIES_512).addIndex(1);
    FloatVector zero = FloatVector.zero(S);
    VectorMask<Float> m1 = iota.and(1).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> m2 = iota.and(2).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> m4 = iota.and(4).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> m8 = iota.and(8).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> first4 = iota.compare(VectorOperators.LT, 4).cast(S);
    FloatVector i1 = (FloatVector) iota.lanewise(VectorOperators.XOR, 1)
        .or(iota.and(1).lanewise(VectorOperators.LSHL, 4)).convert(VectorOperators.I2F, 0);
    FloatVector i2 = (FloatVector) iota.lanewise(VectorOperators.XOR, 2)
        .or(iota.and(2).lanewise(VectorOperators.LSHL, 3)).convert(VectorOperators.I2F, 0);
    FloatVector i4 = (FloatVector) iota.lanewise(VectorOperators.XOR, 4)
        .or(iota.and(4).lanewise(VectorOperators.LSHL, 2)).convert(VectorOperators.I2F, 0);
    FloatVector i8 = (FloatVector) iota.lanewise(VectorOperators.XOR, 8)
        .or(iota.and(8).lanewise(VectorOperators.LSHL, 1)).convert(VectorOperators.I2F, 0);
    int b1 = batch;
    int b2 = 2 * batch;
    int b3 = 3 * batch;
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      int s = 4 * batch * l;
      FloatVector v00 = zero;
      FloatVector v01 = zero;
      FloatVector v02 = zero;
      FloatVector v03 = zero;
      FloatVector v10 = zero;
      FloatVector v11 = zero;
      FloatVector v12 = zero;
      FloatVector v13 = zero;
      FloatVector v20 = zero;
      FloatVector v21 = zero;
      FloatVector v22 = zero;
      FloatVector v23 = zero;
      FloatVector v30 = zero;
      FloatVector v31 = zero;
      FloatVector v32 = zero;
      FloatVector v33 = zero;
      FloatVector c0 = zero;
      FloatVector c1 = zero;
      FloatVector c2 = zero;
      FloatVector c3 = zero;
      for (int k = 0; k < batch; k += 16) {
        int q = s + k;
        FloatVector g0 = FloatVector.fromArray(S, gs, q);
        FloatVector g1 = FloatVector.fromArray(S, gs, q + b1);
        FloatVector g2 = FloatVector.fromArray(S, gs, q + b2);
        FloatVector g3 = FloatVector.fromArray(S, gs, q + b3);
        FloatVector x = FloatVector.fromArray(S, hSave, q);
        v00 = v00.add(x.mul(g0));
        v01 = v01.add(x.mul(g1));
        v02 = v02.add(x.mul(g2));
        v03 = v03.add(x.mul(g3));
        x = FloatVector.fromArray(S, hSave, q + b1);
        v10 = v10.add(x.mul(g0));
        v11 = v11.add(x.mul(g1));
        v12 = v12.add(x.mul(g2));
        v13 = v13.add(x.mul(g3));
        x = FloatVector.fromArray(S, hSave, q + b2);
        v20 = v20.add(x.mul(g0));
        v21 = v21.add(x.mul(g1));
        v22 = v22.add(x.mul(g2));
        v23 = v23.add(x.mul(g3));
        x = FloatVector.fromArray(S, hSave, q + b3);
        v30 = v30.add(x.mul(g0));
        v31 = v31.add(x.mul(g1));
        v32 = v32.add(x.mul(g2));
        v33 = v33.add(x.mul(g3));
        c0 = c0.add(g0);
        c1 = c1.add(g1);
        c2 = c2.add(g2);
        c3 = c3.add(g3);
      }
      // the tree: vector 4i + o holds gW[i][o]'s lane sums; level d combines a and b into
      // a.blend(b, md) + id.selectFrom(a, b)
      FloatVector r0 = v00.blend(v01, m1).add(i1.selectFrom(v00, v01));
      FloatVector r1 = v02.blend(v03, m1).add(i1.selectFrom(v02, v03));
      FloatVector r2 = v10.blend(v11, m1).add(i1.selectFrom(v10, v11));
      FloatVector r3 = v12.blend(v13, m1).add(i1.selectFrom(v12, v13));
      FloatVector r4 = v20.blend(v21, m1).add(i1.selectFrom(v20, v21));
      FloatVector r5 = v22.blend(v23, m1).add(i1.selectFrom(v22, v23));
      FloatVector r6 = v30.blend(v31, m1).add(i1.selectFrom(v30, v31));
      FloatVector r7 = v32.blend(v33, m1).add(i1.selectFrom(v32, v33));
      FloatVector q0 = r0.blend(r1, m2).add(i2.selectFrom(r0, r1));
      FloatVector q1 = r2.blend(r3, m2).add(i2.selectFrom(r2, r3));
      FloatVector q2 = r4.blend(r5, m2).add(i2.selectFrom(r4, r5));
      FloatVector q3 = r6.blend(r7, m2).add(i2.selectFrom(r6, r7));
      FloatVector e = q0.blend(q1, m4).add(i4.selectFrom(q0, q1));
      FloatVector f = q2.blend(q3, m4).add(i4.selectFrom(q2, q3));
      FloatVector gw = e.blend(f, m8).add(i8.selectFrom(e, f));
      FloatVector t0 = c0.blend(c1, m1).add(i1.selectFrom(c0, c1));
      FloatVector t1 = c2.blend(c3, m1).add(i1.selectFrom(c2, c3));
      FloatVector t = t0.blend(t1, m2).add(i2.selectFrom(t0, t1));
      t = t.blend(zero, m4).add(i4.selectFrom(t, zero));
      FloatVector gb = t.blend(zero, m8).add(i8.selectFrom(t, zero));
      if (grads != null) {
        gw.intoArray(grads, 20 * l);
        gb.intoArray(grads, 20 * l + 16, first4);
      }
      FloatVector wv = FloatVector.fromMemorySegment(S, wts, p, LE);
      FloatVector bv = FloatVector.fromMemorySegment(S, wts, p + 64, LE, first4);
      wv.sub(gw.mul(lr)).intoMemorySegment(wts, p, LE);
      bv.sub(gb.mul(lr)).intoMemorySegment(wts, p + 64, LE, first4);
    }
  }
}
