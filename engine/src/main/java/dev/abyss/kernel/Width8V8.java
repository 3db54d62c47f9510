package dev.abyss.kernel;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Width 8 at 256 bits (AVX2 CPUs), a batch of 8, 16, 24, ...: the backward's chunk kernels, any
 * activation, eight samples a chain: the dh chain ({@link #dhChain}), which keeps each layer's
 * g, then the weight gradients and the SGD update ({@link #updates}). On a Zen 1 EPYC, w8 b16,
 * the two took 450-460 ns a layer against the per-layer path's 630-640 (a probe, one thread;
 * 780-820 before the per-layer path took this class's transpose instead of its gathers).
 *
 * <p>The forward stays on the per-layer path: forward kernels in the manner of {@link Width4V8}
 * (one chain of eight samples, its eight features in registers, each of the 72 weights
 * broadcast from memory) ran 240-330 ns a layer for 16 samples against the per-layer path's
 * 183-200, whose blocks of samples are independent of one another: the chain's 64 dependent
 * fused multiply-adds a layer are more than the CPU's window overlaps (docs/decisions.md,
 * "Width-8 chunk kernels at 256 bits").
 *
 * <p>The dh chain reads the weights from a float array holding a block of layers ({@link
 * #BLOCK} at most), which the caller copies from the core's segment in one call: with 64
 * scalar segment reads a layer C1 gave up on the method in a training run ("out of virtual
 * registers in LIR generator"; it then ran interpreted until C2 took it, and train's JIT
 * warm-up ran into its 15 s limit), and from an array C2's code ran faster (167-179 against
 * 205-212 ns a layer for 16 samples; the copy costs about 32).
 *
 * <p>The operations and their order are those of {@link VectorKernels}' per-layer path at 256
 * bits, so the results are bitwise that path's (tested): g and dh lane by lane in the scalar
 * order. There a width of 8 is a whole vector, so the weight gradients are the wide layers'
 * ({@code weightGradsWide}): g transposed to sample-major, then each gW[i][0..7] summed over
 * the batch in sample order from zero, {@code sum + g[b][0..7] h[i][b]}; the biases' sums lane
 * by lane over the blocks of eight samples, then the eight-lane transpose-and-add tree (lanes
 * paired at distances 1, 2, 4), which {@link #updates} computes from the transposed g as ((t0 +
 * t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7)), t_k the sum over the blocks of sample k's g (a +
 * b is b + a exactly). Each method is one loop calling only the Vector API (the updates also
 * the transpose, which takes and gives its vectors through arrays), for the reasons {@link
 * Width4} gives.
 */
final class Width8V8 {
  private Width8V8() {}

  static final VectorSpecies<Float> S = FloatVector.SPECIES_256;
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  /** Bytes per layer: 64 weights then 8 biases. */
  private static final long LB = 288;
  /** Layers a weights block holds at most: 72 KiB of floats, within the L2 cache. */
  static final int BLOCK = 256;

  /**
   * Whether these kernels take width {@code w} at batch {@code batch} under the species
   * {@code s}: 256 bits, width 8, a batch of whole blocks of eight.
   */
  static boolean applies(VectorSpecies<Float> s, int w, int batch) {
    return s == S && w == 8 && batch % 8 == 0 && batch > 0;
  }

  /**
   * The backward's dh chain over {@code count} layers, their weights in {@code wa}, last layer
   * first, for the eight samples {@code g0 .. g0 + 7}: layer l's g = alpha dh act'(z) to {@code
   * gs[so + 8 batch l]}, then dh += g W^T with W before the update; dh in place.
   */
  static void dhChain(float[] wa, int count, float alpha, float[] dSave, float[] dh,
      float[] gs, int so, int batch, int g0) {
    int b1 = batch;
    int b2 = 2 * batch;
    int b3 = 3 * batch;
    int b4 = 4 * batch;
    int b5 = 5 * batch;
    int b6 = 6 * batch;
    int b7 = 7 * batch;
    FloatVector dh0 = FloatVector.fromArray(S, dh, g0);
    FloatVector dh1 = FloatVector.fromArray(S, dh, b1 + g0);
    FloatVector dh2 = FloatVector.fromArray(S, dh, b2 + g0);
    FloatVector dh3 = FloatVector.fromArray(S, dh, b3 + g0);
    FloatVector dh4 = FloatVector.fromArray(S, dh, b4 + g0);
    FloatVector dh5 = FloatVector.fromArray(S, dh, b5 + g0);
    FloatVector dh6 = FloatVector.fromArray(S, dh, b6 + g0);
    FloatVector dh7 = FloatVector.fromArray(S, dh, b7 + g0);
    for (int l = count - 1; l >= 0; l--) {
      int p = 72 * l;
      int s = so + 8 * batch * l + g0;
      FloatVector e0 = dh0.mul(alpha).mul(FloatVector.fromArray(S, dSave, s));
      FloatVector e1 = dh1.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b1));
      FloatVector e2 = dh2.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b2));
      FloatVector e3 = dh3.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b3));
      FloatVector e4 = dh4.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b4));
      FloatVector e5 = dh5.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b5));
      FloatVector e6 = dh6.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b6));
      FloatVector e7 = dh7.mul(alpha).mul(FloatVector.fromArray(S, dSave, s + b7));
      e0.intoArray(gs, s);
      e1.intoArray(gs, s + b1);
      e2.intoArray(gs, s + b2);
      e3.intoArray(gs, s + b3);
      e4.intoArray(gs, s + b4);
      e5.intoArray(gs, s + b5);
      e6.intoArray(gs, s + b6);
      e7.intoArray(gs, s + b7);
      // with e_o = g_o: dh_i = fma(g_o, W[i][o], dh_i) for o = 0..7; W[i][o] is float 8 i + o
      dh0 = e0.fma(FloatVector.broadcast(S, wa[p]), dh0);
      dh0 = e1.fma(FloatVector.broadcast(S, wa[p + 1]), dh0);
      dh0 = e2.fma(FloatVector.broadcast(S, wa[p + 2]), dh0);
      dh0 = e3.fma(FloatVector.broadcast(S, wa[p + 3]), dh0);
      dh0 = e4.fma(FloatVector.broadcast(S, wa[p + 4]), dh0);
      dh0 = e5.fma(FloatVector.broadcast(S, wa[p + 5]), dh0);
      dh0 = e6.fma(FloatVector.broadcast(S, wa[p + 6]), dh0);
      dh0 = e7.fma(FloatVector.broadcast(S, wa[p + 7]), dh0);
      dh1 = e0.fma(FloatVector.broadcast(S, wa[p + 8]), dh1);
      dh1 = e1.fma(FloatVector.broadcast(S, wa[p + 9]), dh1);
      dh1 = e2.fma(FloatVector.broadcast(S, wa[p + 10]), dh1);
      dh1 = e3.fma(FloatVector.broadcast(S, wa[p + 11]), dh1);
      dh1 = e4.fma(FloatVector.broadcast(S, wa[p + 12]), dh1);
      dh1 = e5.fma(FloatVector.broadcast(S, wa[p + 13]), dh1);
      dh1 = e6.fma(FloatVector.broadcast(S, wa[p + 14]), dh1);
      dh1 = e7.fma(FloatVector.broadcast(S, wa[p + 15]), dh1);
      dh2 = e0.fma(FloatVector.broadcast(S, wa[p + 16]), dh2);
      dh2 = e1.fma(FloatVector.broadcast(S, wa[p + 17]), dh2);
      dh2 = e2.fma(FloatVector.broadcast(S, wa[p + 18]), dh2);
      dh2 = e3.fma(FloatVector.broadcast(S, wa[p + 19]), dh2);
      dh2 = e4.fma(FloatVector.broadcast(S, wa[p + 20]), dh2);
      dh2 = e5.fma(FloatVector.broadcast(S, wa[p + 21]), dh2);
      dh2 = e6.fma(FloatVector.broadcast(S, wa[p + 22]), dh2);
      dh2 = e7.fma(FloatVector.broadcast(S, wa[p + 23]), dh2);
      dh3 = e0.fma(FloatVector.broadcast(S, wa[p + 24]), dh3);
      dh3 = e1.fma(FloatVector.broadcast(S, wa[p + 25]), dh3);
      dh3 = e2.fma(FloatVector.broadcast(S, wa[p + 26]), dh3);
      dh3 = e3.fma(FloatVector.broadcast(S, wa[p + 27]), dh3);
      dh3 = e4.fma(FloatVector.broadcast(S, wa[p + 28]), dh3);
      dh3 = e5.fma(FloatVector.broadcast(S, wa[p + 29]), dh3);
      dh3 = e6.fma(FloatVector.broadcast(S, wa[p + 30]), dh3);
      dh3 = e7.fma(FloatVector.broadcast(S, wa[p + 31]), dh3);
      dh4 = e0.fma(FloatVector.broadcast(S, wa[p + 32]), dh4);
      dh4 = e1.fma(FloatVector.broadcast(S, wa[p + 33]), dh4);
      dh4 = e2.fma(FloatVector.broadcast(S, wa[p + 34]), dh4);
      dh4 = e3.fma(FloatVector.broadcast(S, wa[p + 35]), dh4);
      dh4 = e4.fma(FloatVector.broadcast(S, wa[p + 36]), dh4);
      dh4 = e5.fma(FloatVector.broadcast(S, wa[p + 37]), dh4);
      dh4 = e6.fma(FloatVector.broadcast(S, wa[p + 38]), dh4);
      dh4 = e7.fma(FloatVector.broadcast(S, wa[p + 39]), dh4);
      dh5 = e0.fma(FloatVector.broadcast(S, wa[p + 40]), dh5);
      dh5 = e1.fma(FloatVector.broadcast(S, wa[p + 41]), dh5);
      dh5 = e2.fma(FloatVector.broadcast(S, wa[p + 42]), dh5);
      dh5 = e3.fma(FloatVector.broadcast(S, wa[p + 43]), dh5);
      dh5 = e4.fma(FloatVector.broadcast(S, wa[p + 44]), dh5);
      dh5 = e5.fma(FloatVector.broadcast(S, wa[p + 45]), dh5);
      dh5 = e6.fma(FloatVector.broadcast(S, wa[p + 46]), dh5);
      dh5 = e7.fma(FloatVector.broadcast(S, wa[p + 47]), dh5);
      dh6 = e0.fma(FloatVector.broadcast(S, wa[p + 48]), dh6);
      dh6 = e1.fma(FloatVector.broadcast(S, wa[p + 49]), dh6);
      dh6 = e2.fma(FloatVector.broadcast(S, wa[p + 50]), dh6);
      dh6 = e3.fma(FloatVector.broadcast(S, wa[p + 51]), dh6);
      dh6 = e4.fma(FloatVector.broadcast(S, wa[p + 52]), dh6);
      dh6 = e5.fma(FloatVector.broadcast(S, wa[p + 53]), dh6);
      dh6 = e6.fma(FloatVector.broadcast(S, wa[p + 54]), dh6);
      dh6 = e7.fma(FloatVector.broadcast(S, wa[p + 55]), dh6);
      dh7 = e0.fma(FloatVector.broadcast(S, wa[p + 56]), dh7);
      dh7 = e1.fma(FloatVector.broadcast(S, wa[p + 57]), dh7);
      dh7 = e2.fma(FloatVector.broadcast(S, wa[p + 58]), dh7);
      dh7 = e3.fma(FloatVector.broadcast(S, wa[p + 59]), dh7);
      dh7 = e4.fma(FloatVector.broadcast(S, wa[p + 60]), dh7);
      dh7 = e5.fma(FloatVector.broadcast(S, wa[p + 61]), dh7);
      dh7 = e6.fma(FloatVector.broadcast(S, wa[p + 62]), dh7);
      dh7 = e7.fma(FloatVector.broadcast(S, wa[p + 63]), dh7);
    }
    dh0.intoArray(dh, g0);
    dh1.intoArray(dh, b1 + g0);
    dh2.intoArray(dh, b2 + g0);
    dh3.intoArray(dh, b3 + g0);
    dh4.intoArray(dh, b4 + g0);
    dh5.intoArray(dh, b5 + g0);
    dh6.intoArray(dh, b6 + g0);
    dh7.intoArray(dh, b7 + g0);
  }

  /**
   * gW and gb of each of {@code count} layers from its saved input and g (the layout of
   * {@link #dhChain}), then W -= lr gW, b -= lr gb; each layer's 72 gradients also to {@code
   * grads[72 l]} when it is not null. The order is the per-layer path's (see the class
   * comment): g transposed to sample-major, each row of gW one running sum over the samples,
   * the biases from the transposed g.
   *
   * <p>The transpose takes eight features of eight samples at a time in registers ({@link
   * VectorKernels#transpose8}, which the per-layer path uses too). A gather a sample, as the
   * per-layer path had, took 140 of the 345 ns a layer (batch 16) on a Zen 1 EPYC; with the
   * registers' transpose the updates took 236.
   */
  static void updates(MemorySegment wts, long off, int count, float lr, float[] hSave,
      float[] gs, float[] grads, int batch) {
    float[] tt = new float[8 * batch];
    FloatVector zero = FloatVector.zero(S);
    int b1 = batch;
    int b2 = 2 * batch;
    int b3 = 3 * batch;
    int b4 = 4 * batch;
    int b5 = 5 * batch;
    int b6 = 6 * batch;
    int b7 = 7 * batch;
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      int s = 8 * batch * l;
      FloatVector a0 = zero;
      FloatVector a1 = zero;
      FloatVector a2 = zero;
      FloatVector a3 = zero;
      FloatVector a4 = zero;
      FloatVector a5 = zero;
      FloatVector a6 = zero;
      FloatVector a7 = zero;
      // g of this layer to sample-major, eight samples and eight outputs a block
      for (int b0 = 0; b0 < batch; b0 += 8) {
        VectorKernels.transpose8(gs, s + b0, batch, tt, 8 * b0, 8);
      }
      for (int b = 0; b < batch; b++) {
        FloatVector gv = FloatVector.fromArray(S, tt, 8 * b);
        int q = s + b;
        a0 = gv.mul(hSave[q]).add(a0);
        a1 = gv.mul(hSave[q + b1]).add(a1);
        a2 = gv.mul(hSave[q + b2]).add(a2);
        a3 = gv.mul(hSave[q + b3]).add(a3);
        a4 = gv.mul(hSave[q + b4]).add(a4);
        a5 = gv.mul(hSave[q + b5]).add(a5);
        a6 = gv.mul(hSave[q + b6]).add(a6);
        a7 = gv.mul(hSave[q + b7]).add(a7);
      }
      FloatVector t0 = zero;
      FloatVector t1 = zero;
      FloatVector t2 = zero;
      FloatVector t3 = zero;
      FloatVector t4 = zero;
      FloatVector t5 = zero;
      FloatVector t6 = zero;
      FloatVector t7 = zero;
      for (int k = 0; k < 8 * batch; k += 64) {
        t0 = FloatVector.fromArray(S, tt, k).add(t0);
        t1 = FloatVector.fromArray(S, tt, k + 8).add(t1);
        t2 = FloatVector.fromArray(S, tt, k + 16).add(t2);
        t3 = FloatVector.fromArray(S, tt, k + 24).add(t3);
        t4 = FloatVector.fromArray(S, tt, k + 32).add(t4);
        t5 = FloatVector.fromArray(S, tt, k + 40).add(t5);
        t6 = FloatVector.fromArray(S, tt, k + 48).add(t6);
        t7 = FloatVector.fromArray(S, tt, k + 56).add(t7);
      }
      FloatVector gb = t0.add(t1).add(t2.add(t3)).add(t4.add(t5).add(t6.add(t7)));
      if (grads != null) {
        int r = 72 * l;
        a0.intoArray(grads, r);
        a1.intoArray(grads, r + 8);
        a2.intoArray(grads, r + 16);
        a3.intoArray(grads, r + 24);
        a4.intoArray(grads, r + 32);
        a5.intoArray(grads, r + 40);
        a6.intoArray(grads, r + 48);
        a7.intoArray(grads, r + 56);
        gb.intoArray(grads, r + 64);
      }
      FloatVector.fromMemorySegment(S, wts, p, LE).sub(a0.mul(lr))
          .intoMemorySegment(wts, p, LE);
      FloatVector.fromMemorySegment(S, wts, p + 32, LE).sub(a1.mul(lr))
          .intoMemorySegment(wts, p + 32, LE);
      FloatVector.fromMemorySegment(S, wts, p + 64, LE).sub(a2.mul(lr))
          .intoMemorySegment(wts, p + 64, LE);
      FloatVector.fromMemorySegment(S, wts, p + 96, LE).sub(a3.mul(lr))
          .intoMemorySegment(wts, p + 96, LE);
      FloatVector.fromMemorySegment(S, wts, p + 128, LE).sub(a4.mul(lr))
          .intoMemorySegment(wts, p + 128, LE);
      FloatVector.fromMemorySegment(S, wts, p + 160, LE).sub(a5.mul(lr))
          .intoMemorySegment(wts, p + 160, LE);
      FloatVector.fromMemorySegment(S, wts, p + 192, LE).sub(a6.mul(lr))
          .intoMemorySegment(wts, p + 192, LE);
      FloatVector.fromMemorySegment(S, wts, p + 224, LE).sub(a7.mul(lr))
          .intoMemorySegment(wts, p + 224, LE);
      FloatVector.fromMemorySegment(S, wts, p + 256, LE).sub(gb.mul(lr))
          .intoMemorySegment(wts, p + 256, LE);
    }
  }
}
