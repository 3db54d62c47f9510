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
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Width 4 at 256 bits (AVX2 CPUs), a batch of 16, 32, ...: the chunk kernels of {@link Width4}
 * for eight lanes, softsign, ReLU and tanh. A feature of 16 samples is two vectors. The
 * softsign forward of a whole batch takes the samples 16 at a time as two interleaved chains
 * (one layer's weights put in place once for both), at a batch of 32 or more (eval's) the
 * second chain a layer behind the first ({@link #forwardSoftsignSkewed}); the recompute (the
 * two-chain version was more than C1 could compile), the dh chain (faster so: {@link
 * #dhChain}), a training thread's half of the forward, and ReLU's and tanh's forwards take
 * them eight at a time, one chain.
 *
 * <p>Without them a width-4 layer at 256 bits went through the per-layer path, a call and a
 * trip through memory for each of its steps: on a Zen 1 EPYC (AVX2) the step at 1M layers, batch
 * 16, took 0.64 s against 0.07 on the AVX-512 machines (docs/decisions.md).
 *
 * <p>The operations and their order are those of {@link VectorKernels}' per-layer path at 256
 * bits, so the results are bitwise that path's (tested): the forward, act'(z), g and dh lane by
 * lane in the scalar order; each weight gradient's products summed lane by lane over the blocks
 * of eight samples from zero, in sample order, then folded by the eight-lane transpose-and-add
 * tree ({@code treeReduce}: lanes paired at distances 1, 2, 4), eight gradients a tree; the
 * biases' sums likewise, their tree padded with zero vectors.
 *
 * <p>Each method is one loop calling only the Vector API and scalar segment reads, for the
 * reasons {@link Width4} gives.
 */
final class Width4V8 {
  private Width4V8() {}

  static final VectorSpecies<Float> S = FloatVector.SPECIES_256;
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  /** Bytes per layer: 16 weights then 4 biases. */
  private static final long LB = 80;


  /**
   * Whether these kernels take width {@code w} at batch {@code batch} under the species
   * {@code s}: 256 bits, width 4, a batch of whole groups of 16.
   */
  static boolean applies(VectorSpecies<Float> s, int w, int batch) {
    return s == S && w == 4 && batch % 16 == 0 && batch > 0;
  }

  /**
   * {@code count} softsign layers forward from byte offset {@code off} for the eight samples
   * {@code g0 .. g0 + 7} of a batch of {@code batch} (feature j of sample b at {@code j * batch
   * + b}), in place.
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

  /**
   * {@link #forwardSoftsign} for the sixteen samples {@code g0 .. g0 + 15}: two independent
   * chains in one loop, each layer's weights broadcast once for both. Per lane the same
   * operations.
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
    FloatVector k0 = FloatVector.fromArray(S, h, i0 + 8);
    FloatVector k1 = FloatVector.fromArray(S, h, i1 + 8);
    FloatVector k2 = FloatVector.fromArray(S, h, i2 + 8);
    FloatVector k3 = FloatVector.fromArray(S, h, i3 + 8);
    FloatVector va = FloatVector.broadcast(S, alpha);
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
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
    k0.intoArray(h, i0 + 8);
    k1.intoArray(h, i1 + 8);
    k2.intoArray(h, i2 + 8);
    k3.intoArray(h, i3 + 8);
  }

  /**
   * Layers in a block of weights copied from the core (layer l's 20 floats at {@code 20 l}):
   * 256 layers, 20 KB, so that a block stays in the first-level cache while every group of 16
   * samples of a batch goes through it.
   */
  static final int BLOCK = 256;

  /**
   * {@link #forwardSoftsign2} over {@code count} layers whose weights are an array ({@code
   * wa[20 l .. 20 l + 19]}, a block copied from the core), the second chain one layer behind the
   * first: iteration l takes samples {@code g0 .. g0 + 7} through layer l and samples {@code g0
   * + 8 .. g0 + 15} through layer l - 1. In step, the two chains' eight divisions wait on the
   * divider together and the next layer's multiply-adds wait on them; a layer apart, one
   * chain's multiply-adds run while the other's divisions do. Per lane the same operations.
   *
   * <p>The weights come from an array, not the segment: with 40 segment reads a layer C1 gives
   * up on this loop ("out of virtual registers"), and the tiered JIT then never takes it to C2
   * (docs/decisions.md, "The 256-bit two-chain forward skewed by a layer").
   */
  static void forwardSoftsignSkewed(float[] wa, int count, float alpha, float[] h, int batch,
      int g0) {
    int i0 = g0;
    int i1 = batch + g0;
    int i2 = 2 * batch + g0;
    int i3 = 3 * batch + g0;
    FloatVector h0 = FloatVector.fromArray(S, h, i0);
    FloatVector h1 = FloatVector.fromArray(S, h, i1);
    FloatVector h2 = FloatVector.fromArray(S, h, i2);
    FloatVector h3 = FloatVector.fromArray(S, h, i3);
    FloatVector k0 = FloatVector.fromArray(S, h, i0 + 8);
    FloatVector k1 = FloatVector.fromArray(S, h, i1 + 8);
    FloatVector k2 = FloatVector.fromArray(S, h, i2 + 8);
    FloatVector k3 = FloatVector.fromArray(S, h, i3 + 8);
    FloatVector va = FloatVector.broadcast(S, alpha);
    for (int l = 0; l <= count; l++) {
      if (l < count) {
        int p = 20 * l;
        FloatVector z0 = FloatVector.broadcast(S, wa[p + 16]);
        z0 = h0.fma(FloatVector.broadcast(S, wa[p + 0]), z0);
        z0 = h1.fma(FloatVector.broadcast(S, wa[p + 4]), z0);
        z0 = h2.fma(FloatVector.broadcast(S, wa[p + 8]), z0);
        z0 = h3.fma(FloatVector.broadcast(S, wa[p + 12]), z0);
        FloatVector z1 = FloatVector.broadcast(S, wa[p + 17]);
        z1 = h0.fma(FloatVector.broadcast(S, wa[p + 1]), z1);
        z1 = h1.fma(FloatVector.broadcast(S, wa[p + 5]), z1);
        z1 = h2.fma(FloatVector.broadcast(S, wa[p + 9]), z1);
        z1 = h3.fma(FloatVector.broadcast(S, wa[p + 13]), z1);
        FloatVector z2 = FloatVector.broadcast(S, wa[p + 18]);
        z2 = h0.fma(FloatVector.broadcast(S, wa[p + 2]), z2);
        z2 = h1.fma(FloatVector.broadcast(S, wa[p + 6]), z2);
        z2 = h2.fma(FloatVector.broadcast(S, wa[p + 10]), z2);
        z2 = h3.fma(FloatVector.broadcast(S, wa[p + 14]), z2);
        FloatVector z3 = FloatVector.broadcast(S, wa[p + 19]);
        z3 = h0.fma(FloatVector.broadcast(S, wa[p + 3]), z3);
        z3 = h1.fma(FloatVector.broadcast(S, wa[p + 7]), z3);
        z3 = h2.fma(FloatVector.broadcast(S, wa[p + 11]), z3);
        z3 = h3.fma(FloatVector.broadcast(S, wa[p + 15]), z3);
        h0 = z0.div(z0.abs().add(1f)).fma(va, h0);
        h1 = z1.div(z1.abs().add(1f)).fma(va, h1);
        h2 = z2.div(z2.abs().add(1f)).fma(va, h2);
        h3 = z3.div(z3.abs().add(1f)).fma(va, h3);
      }
      if (l > 0) {
        int q = 20 * (l - 1);
        FloatVector y0 = FloatVector.broadcast(S, wa[q + 16]);
        y0 = k0.fma(FloatVector.broadcast(S, wa[q + 0]), y0);
        y0 = k1.fma(FloatVector.broadcast(S, wa[q + 4]), y0);
        y0 = k2.fma(FloatVector.broadcast(S, wa[q + 8]), y0);
        y0 = k3.fma(FloatVector.broadcast(S, wa[q + 12]), y0);
        FloatVector y1 = FloatVector.broadcast(S, wa[q + 17]);
        y1 = k0.fma(FloatVector.broadcast(S, wa[q + 1]), y1);
        y1 = k1.fma(FloatVector.broadcast(S, wa[q + 5]), y1);
        y1 = k2.fma(FloatVector.broadcast(S, wa[q + 9]), y1);
        y1 = k3.fma(FloatVector.broadcast(S, wa[q + 13]), y1);
        FloatVector y2 = FloatVector.broadcast(S, wa[q + 18]);
        y2 = k0.fma(FloatVector.broadcast(S, wa[q + 2]), y2);
        y2 = k1.fma(FloatVector.broadcast(S, wa[q + 6]), y2);
        y2 = k2.fma(FloatVector.broadcast(S, wa[q + 10]), y2);
        y2 = k3.fma(FloatVector.broadcast(S, wa[q + 14]), y2);
        FloatVector y3 = FloatVector.broadcast(S, wa[q + 19]);
        y3 = k0.fma(FloatVector.broadcast(S, wa[q + 3]), y3);
        y3 = k1.fma(FloatVector.broadcast(S, wa[q + 7]), y3);
        y3 = k2.fma(FloatVector.broadcast(S, wa[q + 11]), y3);
        y3 = k3.fma(FloatVector.broadcast(S, wa[q + 15]), y3);
        k0 = y0.div(y0.abs().add(1f)).fma(va, k0);
        k1 = y1.div(y1.abs().add(1f)).fma(va, k1);
        k2 = y2.div(y2.abs().add(1f)).fma(va, k2);
        k3 = y3.div(y3.abs().add(1f)).fma(va, k3);
      }
    }
    h0.intoArray(h, i0);
    h1.intoArray(h, i1);
    h2.intoArray(h, i2);
    h3.intoArray(h, i3);
    k0.intoArray(h, i0 + 8);
    k1.intoArray(h, i1 + 8);
    k2.intoArray(h, i2 + 8);
    k3.intoArray(h, i3 + 8);
  }

  /**
   * {@code count} softsign layers forward for the eight samples {@code g0 .. g0 + 7}, saving
   * layer l's input and act'(z) = (1 - |a|)^2 in the batch's layout at {@code hSave[4 batch l]}
   * and {@code dSave[4 batch l]}. One chain: the two-chain version of this loop is more than C1
   * can compile (out of virtual registers), and the tiered JIT then left it at its
   * limited-profile tier, never reaching C2 (a 1M-layer step took 4-7 s instead of 0.3).
   */
  static void forwardSaveSoftsign(MemorySegment wts, long off, int count, float alpha,
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
    h1.intoArray(h, b1 + g0);
    h2.intoArray(h, b2 + g0);
    h3.intoArray(h, b3 + g0);
  }

  /**
   * {@link #forwardSoftsign} with ReLU: a = z where z > 0, else 0 (the per-layer path's
   * blend), the eight samples {@code g0 .. g0 + 7}.
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
   * {@link #forwardSaveSoftsign} with ReLU: act'(z) = 1 where z > 0, else 0.
   */
  static void forwardSaveRelu(MemorySegment wts, long off, int count, float alpha,
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
   * {@link #forwardSoftsign} with tanh: z goes through a scratch array to {@link #tanh4} (the
   * per-layer path's function), the eight samples {@code g0 .. g0 + 7}.
   */
  static void forwardTanh(MemorySegment wts, long off, int count, float alpha, float[] h,
      int batch, int g0) {
    float[] t = new float[32];
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
      z1.intoArray(t, 8);
      z2.intoArray(t, 16);
      z3.intoArray(t, 24);
      tanh4(t, 0);
      FloatVector a0 = FloatVector.fromArray(S, t, 0);
      FloatVector a1 = FloatVector.fromArray(S, t, 8);
      FloatVector a2 = FloatVector.fromArray(S, t, 16);
      FloatVector a3 = FloatVector.fromArray(S, t, 24);
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
   * {@link #forwardSaveSoftsign} with tanh: act'(z) = 1 - a^2 (the per-layer path's).
   */
  static void forwardSaveTanh(MemorySegment wts, long off, int count, float alpha,
      float[] h, float[] hSave, float[] dSave, int batch, int g0) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    float[] t = new float[32];
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
      z1.intoArray(t, 8);
      z2.intoArray(t, 16);
      z3.intoArray(t, 24);
      tanh4(t, 0);
      FloatVector a0 = FloatVector.fromArray(S, t, 0);
      FloatVector a1 = FloatVector.fromArray(S, t, 8);
      FloatVector a2 = FloatVector.fromArray(S, t, 16);
      FloatVector a3 = FloatVector.fromArray(S, t, 24);
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
   * tanh in place over the four vectors at {@code t[o]}, {@code t[o + 8]}, ...: {@link
   * Width4#tanh4} for eight lanes, a method of its own for the reason given there.
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
    IntVector cBIAS = IntVector.broadcast(IntVector.SPECIES_256, TanhMath.EXP_BIAS);
    FloatVector z0 = FloatVector.fromArray(S, t, o);
    FloatVector z1 = FloatVector.fromArray(S, t, o + 8);
    FloatVector z2 = FloatVector.fromArray(S, t, o + 16);
    FloatVector z3 = FloatVector.fromArray(S, t, o + 24);
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
    a1.intoArray(t, o + 8);
    a2.intoArray(t, o + 16);
    a3.intoArray(t, o + 24);
  }
  /**
   * The backward's dh chain over {@code count} layers whose weights are an array ({@code
   * wa[20 l .. 20 l + 19]}, a block copied from the core, {@link #BLOCK} layers at most), last
   * layer first, for the eight samples {@code g0 .. g0 + 7}: layer l's g = alpha dh act'(z)
   * from {@code dSave[so + 4 batch l]} to {@code gs[so + 4 batch l]}, then dh += g W^T with W
   * before the update; dh in place.
   *
   * <p>One chain, each weight broadcast from memory: on a Zen 1 EPYC two chains in one loop,
   * the weights in two vector loads broadcast by permutes, took 60 ns a layer for 16 samples,
   * this one called twice 33-35 (a permute across the halves of a 256-bit vector is three
   * micro-ops there, and two chains' 16 vectors of dh and g with the weights spilled from
   * AVX2's 16 registers). The same operations, so the same bits.
   *
   * <p>The weights come from an array, not the segment: read from the segment, the loop took
   * 33-39 ns a layer for 16 samples in a probe that called it on 512-layer segments from the
   * start, but 72-80 once it had first run the warm-up's short calls (16 to 128 layers), and
   * 64 in the trainer (timers around the loop, 1M layers, one thread), C2's code then checking
   * every segment read's bounds; from an array 37-39 either way (docs/decisions.md, "The
   * 256-bit dh chain from a block of weights").
   */
  static void dhChain(float[] wa, int count, float alpha, float[] dSave, float[] dh,
      float[] gs, int so, int batch, int g0) {
    int b1 = batch;
    int b2 = 2 * batch;
    int b3 = 3 * batch;
    FloatVector dh0 = FloatVector.fromArray(S, dh, g0);
    FloatVector dh1 = FloatVector.fromArray(S, dh, b1 + g0);
    FloatVector dh2 = FloatVector.fromArray(S, dh, b2 + g0);
    FloatVector dh3 = FloatVector.fromArray(S, dh, b3 + g0);
    for (int l = count - 1; l >= 0; l--) {
      int p = 20 * l;
      int s = so + 4 * batch * l + g0;
      FloatVector e0 = dh0.mul(alpha).mul(FloatVector.fromArray(S, dSave, s));
      FloatVector e1 = dh1.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b1));
      FloatVector e2 = dh2.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b2));
      FloatVector e3 = dh3.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b3));
      e0.intoArray(gs, s);
      e1.intoArray(gs, s + b1);
      e2.intoArray(gs, s + b2);
      e3.intoArray(gs, s + b3);
      // with e_o = g_o: dh_i = fma(g_o, W[i][o], dh_i) for o = 0..3; W[i][o] is float 4 i + o
      dh0 = e0.fma(FloatVector.broadcast(S, wa[p]), dh0);
      dh0 = e1.fma(FloatVector.broadcast(S, wa[p + 1]), dh0);
      dh0 = e2.fma(FloatVector.broadcast(S, wa[p + 2]), dh0);
      dh0 = e3.fma(FloatVector.broadcast(S, wa[p + 3]), dh0);
      dh1 = e0.fma(FloatVector.broadcast(S, wa[p + 4]), dh1);
      dh1 = e1.fma(FloatVector.broadcast(S, wa[p + 5]), dh1);
      dh1 = e2.fma(FloatVector.broadcast(S, wa[p + 6]), dh1);
      dh1 = e3.fma(FloatVector.broadcast(S, wa[p + 7]), dh1);
      dh2 = e0.fma(FloatVector.broadcast(S, wa[p + 8]), dh2);
      dh2 = e1.fma(FloatVector.broadcast(S, wa[p + 9]), dh2);
      dh2 = e2.fma(FloatVector.broadcast(S, wa[p + 10]), dh2);
      dh2 = e3.fma(FloatVector.broadcast(S, wa[p + 11]), dh2);
      dh3 = e0.fma(FloatVector.broadcast(S, wa[p + 12]), dh3);
      dh3 = e1.fma(FloatVector.broadcast(S, wa[p + 13]), dh3);
      dh3 = e2.fma(FloatVector.broadcast(S, wa[p + 14]), dh3);
      dh3 = e3.fma(FloatVector.broadcast(S, wa[p + 15]), dh3);
    }
    dh0.intoArray(dh, g0);
    dh1.intoArray(dh, b1 + g0);
    dh2.intoArray(dh, b2 + g0);
    dh3.intoArray(dh, b3 + g0);
  }

  /**
   * gW and gb of each of {@code count} layers from its saved input and g (the layout of
   * {@link #dhChain}), then W -= lr gW, b -= lr gb; each layer's 20 gradients also to
   * {@code grads[20 l]}, always (20 count floats at least: a caller that does not want them
   * passes scratch).
   *
   * <p>Always, not "when grads is not null": train's JIT warm-up runs the kernel both ways (a
   * run's diagnostic steps take the gradients), and with that branch in the loop C2's code
   * took 101-106 ns a layer for 16 samples in a probe, against 79 when it had only run without
   * gradients; written every layer, 84 (docs/decisions.md, "The 256-bit updates write their
   * gradients always").
   *
   * <p>The per-layer path's order: gradient p = 4 i + o sums x_i g_o lane by lane over the
   * blocks of eight samples, from zero; gW[0..7] and gW[8..15] are each one tree (vector j of a
   * tree holds gradient 8 t + j); the biases' four sums are a tree of four vectors and four
   * zero vectors, their results in lanes 4-7. A tree level at lane distance d combines a and b
   * into {@code a.blend(b, md) + b.blend(a, md).rearrange(xor d)}, as {@code treeReduce} does.
   * The masks and permutes are computed here from lane numbers (see {@link Width4}'s updates
   * for why not static constants).
   *
   * <p>A layer in two passes over its samples, rows 0-1 of gW, then rows 2-3 and the biases,
   * each pass's sums folded and its weights updated before the next: AVX2 has 16 vector
   * registers, and one pass's 20 running sums with g and x spilled to the stack every block
   * (the same sums in the same order: 79-90 ns/layer against 110 in a probe on a Zen 1 EPYC).
   * Each sum's new term is the receiver, the running sum the argument (p + v is v + p
   * exactly): with the loop-carried sum as the receiver C2 could not bind the add to the
   * 256-bit class and called it, its vectors boxed (1,800 ns/layer). The biases are written
   * with W[12..15] in one whole vector at byte 48 (lanes 0-3 as read), before W[8..15] at
   * byte 32: no masked load or store (3% of the updates in the probe); nor for the gradients
   * (a masked store cost 11 ns a layer).
   */
  static void updates(MemorySegment wts, long off, int count, float lr, float[] hSave,
      float[] gs, float[] grads, int batch) {
    IntVector iota = IntVector.zero(IntVector.SPECIES_256).addIndex(1);
    FloatVector zero = FloatVector.zero(S);
    VectorMask<Float> m1 = iota.and(1).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> m2 = iota.and(2).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> m4 = iota.and(4).compare(VectorOperators.NE, 0).cast(S);
    VectorMask<Float> last4 = iota.compare(VectorOperators.GE, 4).cast(S);
    VectorShuffle<Float> x1 = ((FloatVector) iota.lanewise(VectorOperators.XOR, 1)
        .convert(VectorOperators.I2F, 0)).toShuffle();
    VectorShuffle<Float> x2 = ((FloatVector) iota.lanewise(VectorOperators.XOR, 2)
        .convert(VectorOperators.I2F, 0)).toShuffle();
    VectorShuffle<Float> x4 = ((FloatVector) iota.lanewise(VectorOperators.XOR, 4)
        .convert(VectorOperators.I2F, 0)).toShuffle();
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
      for (int k = 0; k < batch; k += 8) {
        int q = s + k;
        FloatVector xa = FloatVector.fromArray(S, hSave, q);
        FloatVector xb = FloatVector.fromArray(S, hSave, q + b1);
        FloatVector g = FloatVector.fromArray(S, gs, q);
        v00 = xa.mul(g).add(v00);
        v10 = xb.mul(g).add(v10);
        g = FloatVector.fromArray(S, gs, q + b1);
        v01 = xa.mul(g).add(v01);
        v11 = xb.mul(g).add(v11);
        g = FloatVector.fromArray(S, gs, q + b2);
        v02 = xa.mul(g).add(v02);
        v12 = xb.mul(g).add(v12);
        g = FloatVector.fromArray(S, gs, q + b3);
        v03 = xa.mul(g).add(v03);
        v13 = xb.mul(g).add(v13);
      }
      FloatVector r0 = v00.blend(v01, m1).add(v01.blend(v00, m1).rearrange(x1));
      FloatVector r1 = v02.blend(v03, m1).add(v03.blend(v02, m1).rearrange(x1));
      FloatVector r2 = v10.blend(v11, m1).add(v11.blend(v10, m1).rearrange(x1));
      FloatVector r3 = v12.blend(v13, m1).add(v13.blend(v12, m1).rearrange(x1));
      FloatVector q0 = r0.blend(r1, m2).add(r1.blend(r0, m2).rearrange(x2));
      FloatVector q1 = r2.blend(r3, m2).add(r3.blend(r2, m2).rearrange(x2));
      FloatVector gwa = q0.blend(q1, m4).add(q1.blend(q0, m4).rearrange(x4));
      gwa.intoArray(grads, 20 * l);
      FloatVector wa = FloatVector.fromMemorySegment(S, wts, p, LE);
      wa.sub(gwa.mul(lr)).intoMemorySegment(wts, p, LE);
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
      for (int k = 0; k < batch; k += 8) {
        int q = s + k;
        FloatVector xa = FloatVector.fromArray(S, hSave, q + b2);
        FloatVector xb = FloatVector.fromArray(S, hSave, q + b3);
        FloatVector g = FloatVector.fromArray(S, gs, q);
        v20 = xa.mul(g).add(v20);
        v30 = xb.mul(g).add(v30);
        c0 = g.add(c0);
        g = FloatVector.fromArray(S, gs, q + b1);
        v21 = xa.mul(g).add(v21);
        v31 = xb.mul(g).add(v31);
        c1 = g.add(c1);
        g = FloatVector.fromArray(S, gs, q + b2);
        v22 = xa.mul(g).add(v22);
        v32 = xb.mul(g).add(v32);
        c2 = g.add(c2);
        g = FloatVector.fromArray(S, gs, q + b3);
        v23 = xa.mul(g).add(v23);
        v33 = xb.mul(g).add(v33);
        c3 = g.add(c3);
      }
      r0 = v20.blend(v21, m1).add(v21.blend(v20, m1).rearrange(x1));
      r1 = v22.blend(v23, m1).add(v23.blend(v22, m1).rearrange(x1));
      r2 = v30.blend(v31, m1).add(v31.blend(v30, m1).rearrange(x1));
      r3 = v32.blend(v33, m1).add(v33.blend(v32, m1).rearrange(x1));
      q0 = r0.blend(r1, m2).add(r1.blend(r0, m2).rearrange(x2));
      q1 = r2.blend(r3, m2).add(r3.blend(r2, m2).rearrange(x2));
      FloatVector gwb = q0.blend(q1, m4).add(q1.blend(q0, m4).rearrange(x4));
      // gb: the tree of c0..c3 and four zero vectors; the zero pairs' levels give zero, so the
      // last level takes (t, 0), and its sums t[o] + t[o ^ 4] are put in lanes 4-7 as
      // t[o ^ 4] + t[o] (the same bits: a + b is b + a exactly), so that they go to the
      // biases with W[12..15] in the vector at byte 48, within this layer
      r0 = c0.blend(c1, m1).add(c1.blend(c0, m1).rearrange(x1));
      r1 = c2.blend(c3, m1).add(c3.blend(c2, m1).rearrange(x1));
      q0 = r0.blend(r1, m2).add(r1.blend(r0, m2).rearrange(x2));
      FloatVector gb = q0.rearrange(x4).add(q0);
      // gb whole at 12: its lanes 0-3 (not gradients) land on 12..15, which gwb then fills
      gb.intoArray(grads, 20 * l + 12);
      gwb.intoArray(grads, 20 * l + 8);
      FloatVector wb = FloatVector.fromMemorySegment(S, wts, p + 32, LE);
      FloatVector bv = FloatVector.fromMemorySegment(S, wts, p + 48, LE);
      bv.blend(bv.sub(gb.mul(lr)), last4).intoMemorySegment(wts, p + 48, LE);
      wb.sub(gwb.mul(lr)).intoMemorySegment(wts, p + 32, LE);
    }
  }
}
