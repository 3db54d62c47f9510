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
 * The residual layer with the JDK Vector API, batch across lanes: one vector holds one
 * feature for {@code V} samples (V = 16 floats at 512 bits), batch tails are masked.
 *
 * <p>Agreement with {@link ScalarKernels} (the oracle):
 *
 * <ul>
 *   <li>Forward, the saved act'(z), dh and the SGD update use the scalar operation order (the
 *       same FMAs, sums in index order): <b>bitwise equal</b> for every activation (tanh is {@link
 *       TanhMath} in both).
 *   <li>gW and gb are batch reductions. Instead of one horizontal reduction per weight, the
 *       products of up to V weights are folded together by a transpose-and-add tree ({@link
 *       #treeReduce}): V vectors in, one vector of V sums out, with V-1 blend/shuffle/add
 *       steps. The summation order is a fixed tree, not the scalar's left-to-right order, so
 *       these agree with the scalar kernels to a relative tolerance (tested: 1e-5 of the
 *       gradient's scale), and bit for bit run to run. Widths that are a multiple of V with
 *       batch above 1 compute gW as a small matrix product in the scalar order instead
 *       ({@link #weightGradsWide}): bitwise the scalar's.
 * </ul>
 *
 * Loaded by name by {@link KernelProvider} only after its checks pass, so that nothing touches
 * {@code jdk.incubator.vector} when the module is missing.
 */
final class VectorKernels implements Kernels {
  static final VectorSpecies<Float> S = species();
  static final int V = S.length();
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

  // tree-reduction constants, one per level (lane distance d = 1, 2, 4, 8)
  private static final VectorMask<Float> M1 = bitMask(1);
  private static final VectorMask<Float> M2 = bitMask(2);
  private static final VectorMask<Float> M4 = bitMask(4);
  private static final VectorMask<Float> M8 = bitMask(8);
  private static final VectorShuffle<Float> X1 = xorShuffle(1);
  private static final VectorShuffle<Float> X2 = xorShuffle(2);
  private static final VectorShuffle<Float> X4 = xorShuffle(4);
  private static final VectorShuffle<Float> X8 = xorShuffle(8);
  private static final VectorMask<Float> FIRST4 = S.indexInRange(0, 4);

  /** V vectors of V lanes: the products fed to the tree. */
  private final float[] buf = new float[V * V];
  /** Sums out of the tree. */
  private final float[] sums = new float[V];
  /** The per-layer path of batch 1 at widths up to 8 (see {@link Width2}, {@link Narrow}). */
  private final ScalarKernels scalar = new ScalarKernels();
  /** A segment's g (alpha dh act'(z)) for {@link Width4#backwardUpdate}, grown on demand. */
  private float[] gseg = new float[0];
  /** A block of layers' weights for {@link Width8V8#dhChain}, made on first use. */
  private float[] w8Block = new float[0];
  /** A block of width-4 layers' weights for {@link Width4V8}'s skewed forward and dh chain. */
  private float[] w4Block = new float[0];
  /** Gradients nobody asked for, from kernels that write them always ({@link #gradSink}). */
  private float[] gradSink = new float[0];

  private static VectorSpecies<Float> species() {
    String bits = System.getProperty("abyss.vectorBits", "");
    return switch (bits) {
      case "128" -> FloatVector.SPECIES_128;
      case "256" -> FloatVector.SPECIES_256;
      case "512" -> FloatVector.SPECIES_512;
      case "" -> FloatVector.SPECIES_PREFERRED;
      default -> throw new IllegalStateException(
          "abyss.vectorBits must be 128, 256 or 512, not '" + bits + "'");
    };
  }

  private static VectorMask<Float> bitMask(int d) {
    boolean[] b = new boolean[V];
    for (int l = 0; l < V; l++) {
      b[l] = (l & d) != 0;
    }
    return VectorMask.fromArray(S, b, 0);
  }

  private static VectorShuffle<Float> xorShuffle(int d) {
    return VectorShuffle.fromOp(S, l -> d < V ? l ^ d : l);
  }

  @Override
  public String name() {
    return "vector-" + S.vectorBitSize();
  }

  @Override
  public Kernels fork() {
    return new VectorKernels();
  }

  private static float w(MemorySegment wts, long off, int k) {
    return wts.get(F32, off + 4L * k);
  }

  // ---- batch 1: vectors across the output features ---------------------------------------
  // With one sample the batch-in-lanes layout fills one lane of sixteen; a layer is then a
  // small vector-matrix product, vectorised along W[i][o..] (contiguous rows).

  /** z[o] = fma(h[i], W[i][o], z[o]) from z = b, i ascending (scalar order), V outputs at once. */
  private static void affineRow(int w, MemorySegment wts, long off, float[] h, float[] z) {
    long bias = off + 4L * w * w;
    if (w % V == 0) {
      affineRowFull(w, wts, off, h, z);
      return;
    }
    for (int o0 = 0; o0 < w; o0 += V) {
      VectorMask<Float> m = S.indexInRange(o0, w);
      FloatVector acc = FloatVector.fromMemorySegment(S, wts, bias + 4L * o0, LE, m);
      for (int i = 0; i < w; i++) {
        acc = FloatVector.fromMemorySegment(S, wts, off + 4L * (i * w + o0), LE, m)
            .fma(FloatVector.broadcast(S, h[i]), acc);
      }
      acc.intoArray(z, o0, m);
    }
  }

  /**
   * {@link #affineRow} for a width that is a multiple of V: no masks, and up to four blocks of
   * V outputs per pass over the rows, so that W is read in order (block by block, the rows
   * were read in strides, and the loads waited on memory) and the blocks' chains overlap.
   * Each output's sum keeps its order. The forward ran 0.58x at w32 and 0.60x at w64, batch 1
   * (one process alternating with the masked loop, 10 pairs).
   */
  private static void affineRowFull(int w, MemorySegment wts, long off, float[] h, float[] z) {
    long bias = off + 4L * w * w;
    int o0 = 0;
    for (; o0 + 4 * V <= w; o0 += 4 * V) {
      FloatVector a0 = FloatVector.fromMemorySegment(S, wts, bias + 4L * o0, LE);
      FloatVector a1 = FloatVector.fromMemorySegment(S, wts, bias + 4L * (o0 + V), LE);
      FloatVector a2 = FloatVector.fromMemorySegment(S, wts, bias + 4L * (o0 + 2 * V), LE);
      FloatVector a3 = FloatVector.fromMemorySegment(S, wts, bias + 4L * (o0 + 3 * V), LE);
      for (int i = 0; i < w; i++) {
        long p = off + 4L * (i * w + o0);
        FloatVector hv = FloatVector.broadcast(S, h[i]);
        a0 = FloatVector.fromMemorySegment(S, wts, p, LE).fma(hv, a0);
        a1 = FloatVector.fromMemorySegment(S, wts, p + 4L * V, LE).fma(hv, a1);
        a2 = FloatVector.fromMemorySegment(S, wts, p + 8L * V, LE).fma(hv, a2);
        a3 = FloatVector.fromMemorySegment(S, wts, p + 12L * V, LE).fma(hv, a3);
      }
      a0.intoArray(z, o0);
      a1.intoArray(z, o0 + V);
      a2.intoArray(z, o0 + 2 * V);
      a3.intoArray(z, o0 + 3 * V);
    }
    for (; o0 + 2 * V <= w; o0 += 2 * V) {
      FloatVector a0 = FloatVector.fromMemorySegment(S, wts, bias + 4L * o0, LE);
      FloatVector a1 = FloatVector.fromMemorySegment(S, wts, bias + 4L * (o0 + V), LE);
      for (int i = 0; i < w; i++) {
        long p = off + 4L * (i * w + o0);
        FloatVector hv = FloatVector.broadcast(S, h[i]);
        a0 = FloatVector.fromMemorySegment(S, wts, p, LE).fma(hv, a0);
        a1 = FloatVector.fromMemorySegment(S, wts, p + 4L * V, LE).fma(hv, a1);
      }
      a0.intoArray(z, o0);
      a1.intoArray(z, o0 + V);
    }
    for (; o0 < w; o0 += V) {
      FloatVector acc = FloatVector.fromMemorySegment(S, wts, bias + 4L * o0, LE);
      for (int i = 0; i < w; i++) {
        acc = FloatVector.fromMemorySegment(S, wts, off + 4L * (i * w + o0), LE)
            .fma(FloatVector.broadcast(S, h[i]), acc);
      }
      acc.intoArray(z, o0);
    }
  }

  /**
   * Batch-1 backward: gW[i][o] = 0 + h[i] g[o] and gb[o] = 0 + g[o] exactly as the scalar
   * sums of one term; dh[i] += sum_o g[o] W[i][o] through the tree (tolerance, as gW).
   */
  private void backwardRow(int w, MemorySegment wts, long off, float alpha, float[] hSave,
      float[] dSave, int so, float[] dh, float[] gW, float[] gb, float[] g) {
    scaleGrad(w, alpha, dh, dSave, so, g);
    FloatVector zero = FloatVector.zero(S);
    for (int o0 = 0; o0 < w; o0 += V) {
      VectorMask<Float> m = S.indexInRange(o0, w);
      FloatVector gv = FloatVector.fromArray(S, g, o0, m);
      zero.add(gv).intoArray(gb, o0, m);
      for (int i = 0; i < w; i++) {
        zero.add(gv.mul(hSave[so + i])).intoArray(gW, i * w + o0, m);
      }
    }
    for (int i0 = 0; i0 < w; i0 += V) {
      int cnt = Math.min(V, w - i0);
      for (int j = 0; j < cnt; j++) {
        rowDot(w, wts, off + 4L * (i0 + j) * w, g, j);
      }
      treeReduce(cnt, sums, 0);
      for (int j = 0; j < cnt; j++) {
        dh[i0 + j] += sums[j];
      }
    }
  }

  /**
   * {@link #backwardRow} then {@link #sgdUpdate} of one layer in one pass over W, for batch 1
   * and a width that is a multiple of V: each row of W is loaded once, dotted with g for dh
   * (old W) and updated; gW and gb are never stored unless {@code grads} asks for them (at
   * {@code gOff}). The same operations as the two calls, so the same bits.
   */
  private void backwardRowUpdate(int w, MemorySegment wts, long off, float alpha, float lr,
      float[] hSave, float[] dSave, int so, float[] dh, float[] g, float[] grads, int gOff) {
    scaleGrad(w, alpha, dh, dSave, so, g);
    if (V == 16) {
      // sixteen rows at a time: their dh sums in registers (dhRows16), then their updates
      // while the rows are in the cache
      biasUpdate(w, wts, off, lr, g, 0, grads, gOff);
      for (int i0 = 0; i0 < w; i0 += 16) {
        dhRows16(w, wts, off, i0, g, 0, dh);
        rowsUpdate(w, wts, off, i0, i0 + 16, lr, hSave, so, g, 0, grads, gOff);
      }
      return;
    }
    if (V == 8) {
      // the same at 256 bits (dhRows8)
      biasUpdate(w, wts, off, lr, g, 0, grads, gOff);
      for (int i0 = 0; i0 < w; i0 += 8) {
        dhRows8(w, wts, off, i0, g, 0, dh);
        rowsUpdate(w, wts, off, i0, i0 + 8, lr, hSave, so, g, 0, grads, gOff);
      }
      return;
    }
    FloatVector zero = FloatVector.zero(S);
    long bias = off + 4L * w * w;
    for (int o0 = 0; o0 < w; o0 += V) {
      FloatVector gb = zero.add(FloatVector.fromArray(S, g, o0));
      if (grads != null) {
        gb.intoArray(grads, gOff + w * w + o0);
      }
      long p = bias + 4L * o0;
      FloatVector.fromMemorySegment(S, wts, p, LE).sub(gb.mul(lr)).intoMemorySegment(wts, p, LE);
    }
    for (int i0 = 0; i0 < w; i0 += V) {
      for (int j = 0; j < V; j++) {
        int i = i0 + j;
        long row = off + 4L * i * w;
        float hi = hSave[so + i];
        FloatVector acc = zero;
        for (int o0 = 0; o0 < w; o0 += V) {
          long p = row + 4L * o0;
          FloatVector gv = FloatVector.fromArray(S, g, o0);
          FloatVector wv = FloatVector.fromMemorySegment(S, wts, p, LE);
          acc = acc.add(gv.mul(wv));
          FloatVector gw = zero.add(gv.mul(hi));
          if (grads != null) {
            gw.intoArray(grads, gOff + i * w + o0);
          }
          wv.sub(gw.mul(lr)).intoMemorySegment(wts, p, LE);
        }
        acc.intoArray(buf, j * V);
      }
      treeReduce(V, sums, 0);
      for (int j = 0; j < V; j++) {
        dh[i0 + j] += sums[j];
      }
    }
  }

  /**
   * The dh half of {@link #backwardRowUpdate}: g into {@code gs} at {@code gOff}, and dh[i] +=
   * sum_o g[o] W[i][o] (old W) with its operations and tree, so the same bits.
   */
  private void rowDh(int w, MemorySegment wts, long off, float alpha, float[] dSave, int so,
      float[] dh, float[] gs, int gOff) {
    scaleGrad(w, alpha, dh, dSave, so, gs, gOff);
    if (V == 16) {
      for (int i0 = 0; i0 < w; i0 += 16) {
        dhRows16(w, wts, off, i0, gs, gOff, dh);
      }
      return;
    }
    if (V == 8) {
      for (int i0 = 0; i0 < w; i0 += 8) {
        dhRows8(w, wts, off, i0, gs, gOff, dh);
      }
      return;
    }
    FloatVector zero = FloatVector.zero(S);
    for (int i0 = 0; i0 < w; i0 += V) {
      for (int j = 0; j < V; j++) {
        long row = off + 4L * (i0 + j) * w;
        FloatVector acc = zero;
        for (int o0 = 0; o0 < w; o0 += V) {
          FloatVector gv = FloatVector.fromArray(S, gs, gOff + o0);
          acc = acc.add(gv.mul(FloatVector.fromMemorySegment(S, wts, row + 4L * o0, LE)));
        }
        acc.intoArray(buf, j * V);
      }
      treeReduce(V, sums, 0);
      for (int j = 0; j < V; j++) {
        dh[i0 + j] += sums[j];
      }
    }
  }

  /**
   * The update half of {@link #backwardRowUpdate}, from the g that {@link #rowDh} kept: W[i][o]
   * -= lr (0 + h[i] g[o]), b[o] -= lr (0 + g[o]), with its operations, so the same bits.
   */
  private static void rowUpdate(int w, MemorySegment wts, long off, float lr, float[] hSave,
      int so, float[] gs, int gOff, float[] grads, int gradsOff) {
    biasUpdate(w, wts, off, lr, gs, gOff, grads, gradsOff);
    rowsUpdate(w, wts, off, 0, w, lr, hSave, so, gs, gOff, grads, gradsOff);
  }

  /** b[o] -= lr (0 + g[o]), gb into {@code grads} when asked. */
  private static void biasUpdate(int w, MemorySegment wts, long off, float lr, float[] gs,
      int gOff, float[] grads, int gradsOff) {
    FloatVector zero = FloatVector.zero(S);
    long bias = off + 4L * w * w;
    for (int o0 = 0; o0 < w; o0 += V) {
      FloatVector gb = zero.add(FloatVector.fromArray(S, gs, gOff + o0));
      if (grads != null) {
        gb.intoArray(grads, gradsOff + w * w + o0);
      }
      long p = bias + 4L * o0;
      FloatVector.fromMemorySegment(S, wts, p, LE).sub(gb.mul(lr)).intoMemorySegment(wts, p, LE);
    }
  }

  /** W[i][o] -= lr (0 + h[i] g[o]) for rows {@code from .. to - 1}, gW into {@code grads}. */
  private static void rowsUpdate(int w, MemorySegment wts, long off, int from, int to,
      float lr, float[] hSave, int so, float[] gs, int gOff, float[] grads, int gradsOff) {
    FloatVector zero = FloatVector.zero(S);
    for (int i = from; i < to; i++) {
      long row = off + 4L * i * w;
      float hi = hSave[so + i];
      for (int o0 = 0; o0 < w; o0 += V) {
        long p = row + 4L * o0;
        FloatVector gw = zero.add(FloatVector.fromArray(S, gs, gOff + o0).mul(hi));
        if (grads != null) {
          gw.intoArray(grads, gradsOff + i * w + o0);
        }
        FloatVector.fromMemorySegment(S, wts, p, LE).sub(gw.mul(lr))
            .intoMemorySegment(wts, p, LE);
      }
    }
  }

  /**
   * dh[i0 .. i0 + 15] += sum_o g[o] W[i][o] at 512 bits, for a width that is a multiple of 16:
   * the sixteen rows' lane-wise sums over the o-blocks and the transpose-and-add tree in
   * registers, with {@link #treeReduce}'s pairing, so the bits of the path through {@code buf}
   * (which stored and reloaded every vector of every level: 2.5x the time of this one).
   */
  private static void dhRows16(int w, MemorySegment wts, long off, int i0, float[] gs,
      int gOff, float[] dh) {
    FloatVector zero = FloatVector.zero(S);
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
    long rs = 4L * w;
    for (int o0 = 0; o0 < w; o0 += 16) {
      FloatVector gv = FloatVector.fromArray(S, gs, gOff + o0);
      long p = off + 4L * (i0 * w + o0);
      v0 = v0.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p, LE)));
      v1 = v1.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + rs, LE)));
      v2 = v2.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 2 * rs, LE)));
      v3 = v3.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 3 * rs, LE)));
      v4 = v4.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 4 * rs, LE)));
      v5 = v5.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 5 * rs, LE)));
      v6 = v6.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 6 * rs, LE)));
      v7 = v7.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 7 * rs, LE)));
      v8 = v8.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 8 * rs, LE)));
      v9 = v9.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 9 * rs, LE)));
      v10 = v10.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 10 * rs, LE)));
      v11 = v11.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 11 * rs, LE)));
      v12 = v12.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 12 * rs, LE)));
      v13 = v13.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 13 * rs, LE)));
      v14 = v14.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 14 * rs, LE)));
      v15 = v15.add(gv.mul(FloatVector.fromMemorySegment(S, wts, p + 15 * rs, LE)));
    }
    FloatVector r0 = v0.blend(v1, M1).add(v1.blend(v0, M1).rearrange(X1));
    FloatVector r1 = v2.blend(v3, M1).add(v3.blend(v2, M1).rearrange(X1));
    FloatVector r2 = v4.blend(v5, M1).add(v5.blend(v4, M1).rearrange(X1));
    FloatVector r3 = v6.blend(v7, M1).add(v7.blend(v6, M1).rearrange(X1));
    FloatVector r4 = v8.blend(v9, M1).add(v9.blend(v8, M1).rearrange(X1));
    FloatVector r5 = v10.blend(v11, M1).add(v11.blend(v10, M1).rearrange(X1));
    FloatVector r6 = v12.blend(v13, M1).add(v13.blend(v12, M1).rearrange(X1));
    FloatVector r7 = v14.blend(v15, M1).add(v15.blend(v14, M1).rearrange(X1));
    FloatVector q0 = r0.blend(r1, M2).add(r1.blend(r0, M2).rearrange(X2));
    FloatVector q1 = r2.blend(r3, M2).add(r3.blend(r2, M2).rearrange(X2));
    FloatVector q2 = r4.blend(r5, M2).add(r5.blend(r4, M2).rearrange(X2));
    FloatVector q3 = r6.blend(r7, M2).add(r7.blend(r6, M2).rearrange(X2));
    FloatVector e = q0.blend(q1, M4).add(q1.blend(q0, M4).rearrange(X4));
    FloatVector f = q2.blend(q3, M4).add(q3.blend(q2, M4).rearrange(X4));
    FloatVector sums = e.blend(f, M8).add(f.blend(e, M8).rearrange(X8));
    FloatVector.fromArray(S, dh, i0).add(sums).intoArray(dh, i0);
  }

  /**
   * {@link #dhRows16} at 256 bits: dh[i0 .. i0 + 7] += sum_o g[o] W[i][o], eight rows' sums
   * and their tree (distances 1, 2, 4) in registers, the bits of the path through {@code buf}.
   * Each sum's new term is the receiver (p + v is v + p exactly), as in {@link Width4V8}'s
   * updates: a loop-carried receiver can leave C2 unable to bind the add at 256 bits.
   */
  private static void dhRows8(int w, MemorySegment wts, long off, int i0, float[] gs,
      int gOff, float[] dh) {
    FloatVector zero = FloatVector.zero(S);
    FloatVector v0 = zero;
    FloatVector v1 = zero;
    FloatVector v2 = zero;
    FloatVector v3 = zero;
    FloatVector v4 = zero;
    FloatVector v5 = zero;
    FloatVector v6 = zero;
    FloatVector v7 = zero;
    long rs = 4L * w;
    for (int o0 = 0; o0 < w; o0 += 8) {
      FloatVector gv = FloatVector.fromArray(S, gs, gOff + o0);
      long p = off + 4L * (i0 * w + o0);
      v0 = gv.mul(FloatVector.fromMemorySegment(S, wts, p, LE)).add(v0);
      v1 = gv.mul(FloatVector.fromMemorySegment(S, wts, p + rs, LE)).add(v1);
      v2 = gv.mul(FloatVector.fromMemorySegment(S, wts, p + 2 * rs, LE)).add(v2);
      v3 = gv.mul(FloatVector.fromMemorySegment(S, wts, p + 3 * rs, LE)).add(v3);
      v4 = gv.mul(FloatVector.fromMemorySegment(S, wts, p + 4 * rs, LE)).add(v4);
      v5 = gv.mul(FloatVector.fromMemorySegment(S, wts, p + 5 * rs, LE)).add(v5);
      v6 = gv.mul(FloatVector.fromMemorySegment(S, wts, p + 6 * rs, LE)).add(v6);
      v7 = gv.mul(FloatVector.fromMemorySegment(S, wts, p + 7 * rs, LE)).add(v7);
    }
    FloatVector r0 = v0.blend(v1, M1).add(v1.blend(v0, M1).rearrange(X1));
    FloatVector r1 = v2.blend(v3, M1).add(v3.blend(v2, M1).rearrange(X1));
    FloatVector r2 = v4.blend(v5, M1).add(v5.blend(v4, M1).rearrange(X1));
    FloatVector r3 = v6.blend(v7, M1).add(v7.blend(v6, M1).rearrange(X1));
    FloatVector q0 = r0.blend(r1, M2).add(r1.blend(r0, M2).rearrange(X2));
    FloatVector q1 = r2.blend(r3, M2).add(r3.blend(r2, M2).rearrange(X2));
    FloatVector sums = q0.blend(q1, M4).add(q1.blend(q0, M4).rearrange(X4));
    FloatVector.fromArray(S, dh, i0).add(sums).intoArray(dh, i0);
  }

  /** buf vector j = lane-wise sum over o-blocks of g[o] W[i][o] for the row at rowOff. */
  private void rowDot(int w, MemorySegment wts, long rowOff, float[] g, int j) {
    FloatVector acc = FloatVector.zero(S);
    for (int o0 = 0; o0 < w; o0 += V) {
      VectorMask<Float> m = S.indexInRange(o0, w);
      acc = acc.add(FloatVector.fromArray(S, g, o0, m)
          .mul(FloatVector.fromMemorySegment(S, wts, rowOff + 4L * o0, LE, m)));
    }
    acc.intoArray(buf, j * V);
  }

  /**
   * z = b + h W by fused multiply-adds, i ascending (the scalar order), V samples at a time,
   * four outputs at once (four independent chains, each input vector loaded once for them).
   */
  private void affine(int w, int batch, MemorySegment wts, long off, float[] h, float[] z) {
    float[] lw = layer(w, wts, off);
    int b0 = 0;
    for (; b0 + V <= batch; b0 += V) {
      affineBlock(w, batch, b0, lw, h, z);
    }
    if (b0 < batch) {
      affineTail(w, batch, b0, lw, h, z);
    }
  }

  /** {@link #affine} for the V samples from b0 (all in range): unmasked loads and stores. */
  private static void affineBlock(int w, int batch, int b0, float[] lw, float[] h, float[] z) {
    int ww = w * w;
    int o = 0;
    // eight outputs at once: eight independent chains keep both FMA ports busy (four are
    // bound by the FMA's latency)
    for (; o + 8 <= w; o += 8) {
      FloatVector a0 = FloatVector.broadcast(S, lw[ww + o]);
      FloatVector a1 = FloatVector.broadcast(S, lw[ww + o + 1]);
      FloatVector a2 = FloatVector.broadcast(S, lw[ww + o + 2]);
      FloatVector a3 = FloatVector.broadcast(S, lw[ww + o + 3]);
      FloatVector a4 = FloatVector.broadcast(S, lw[ww + o + 4]);
      FloatVector a5 = FloatVector.broadcast(S, lw[ww + o + 5]);
      FloatVector a6 = FloatVector.broadcast(S, lw[ww + o + 6]);
      FloatVector a7 = FloatVector.broadcast(S, lw[ww + o + 7]);
      for (int i = 0; i < w; i++) {
        FloatVector hv = FloatVector.fromArray(S, h, i * batch + b0);
        int r = i * w + o;
        a0 = hv.fma(FloatVector.broadcast(S, lw[r]), a0);
        a1 = hv.fma(FloatVector.broadcast(S, lw[r + 1]), a1);
        a2 = hv.fma(FloatVector.broadcast(S, lw[r + 2]), a2);
        a3 = hv.fma(FloatVector.broadcast(S, lw[r + 3]), a3);
        a4 = hv.fma(FloatVector.broadcast(S, lw[r + 4]), a4);
        a5 = hv.fma(FloatVector.broadcast(S, lw[r + 5]), a5);
        a6 = hv.fma(FloatVector.broadcast(S, lw[r + 6]), a6);
        a7 = hv.fma(FloatVector.broadcast(S, lw[r + 7]), a7);
      }
      a0.intoArray(z, o * batch + b0);
      a1.intoArray(z, (o + 1) * batch + b0);
      a2.intoArray(z, (o + 2) * batch + b0);
      a3.intoArray(z, (o + 3) * batch + b0);
      a4.intoArray(z, (o + 4) * batch + b0);
      a5.intoArray(z, (o + 5) * batch + b0);
      a6.intoArray(z, (o + 6) * batch + b0);
      a7.intoArray(z, (o + 7) * batch + b0);
    }
    for (; o + 4 <= w; o += 4) {
      FloatVector a0 = FloatVector.broadcast(S, lw[ww + o]);
      FloatVector a1 = FloatVector.broadcast(S, lw[ww + o + 1]);
      FloatVector a2 = FloatVector.broadcast(S, lw[ww + o + 2]);
      FloatVector a3 = FloatVector.broadcast(S, lw[ww + o + 3]);
      for (int i = 0; i < w; i++) {
        // one feature for V samples times one broadcast weight, for each of the four
        FloatVector hv = FloatVector.fromArray(S, h, i * batch + b0);
        int r = i * w + o;
        a0 = hv.fma(FloatVector.broadcast(S, lw[r]), a0);
        a1 = hv.fma(FloatVector.broadcast(S, lw[r + 1]), a1);
        a2 = hv.fma(FloatVector.broadcast(S, lw[r + 2]), a2);
        a3 = hv.fma(FloatVector.broadcast(S, lw[r + 3]), a3);
      }
      a0.intoArray(z, o * batch + b0);
      a1.intoArray(z, (o + 1) * batch + b0);
      a2.intoArray(z, (o + 2) * batch + b0);
      a3.intoArray(z, (o + 3) * batch + b0);
    }
    for (; o < w; o++) {
      FloatVector acc = FloatVector.broadcast(S, lw[ww + o]);
      for (int i = 0; i < w; i++) {
        acc = FloatVector.fromArray(S, h, i * batch + b0)
            .fma(FloatVector.broadcast(S, lw[i * w + o]), acc);
      }
      acc.intoArray(z, o * batch + b0);
    }
  }

  /** {@link #affine} for the last, partial block of samples: masked, four outputs at once. */
  private static void affineTail(int w, int batch, int b0, float[] lw, float[] h, float[] z) {
    int ww = w * w;
    VectorMask<Float> m = S.indexInRange(b0, batch);
    int o = 0;
    for (; o + 4 <= w; o += 4) {
      FloatVector a0 = FloatVector.broadcast(S, lw[ww + o]);
      FloatVector a1 = FloatVector.broadcast(S, lw[ww + o + 1]);
      FloatVector a2 = FloatVector.broadcast(S, lw[ww + o + 2]);
      FloatVector a3 = FloatVector.broadcast(S, lw[ww + o + 3]);
      for (int i = 0; i < w; i++) {
        FloatVector hv = FloatVector.fromArray(S, h, i * batch + b0, m);
        int r = i * w + o;
        a0 = hv.fma(FloatVector.broadcast(S, lw[r]), a0);
        a1 = hv.fma(FloatVector.broadcast(S, lw[r + 1]), a1);
        a2 = hv.fma(FloatVector.broadcast(S, lw[r + 2]), a2);
        a3 = hv.fma(FloatVector.broadcast(S, lw[r + 3]), a3);
      }
      a0.intoArray(z, o * batch + b0, m);
      a1.intoArray(z, (o + 1) * batch + b0, m);
      a2.intoArray(z, (o + 2) * batch + b0, m);
      a3.intoArray(z, (o + 3) * batch + b0, m);
    }
    for (; o < w; o++) {
      FloatVector acc = FloatVector.broadcast(S, lw[ww + o]);
      for (int i = 0; i < w; i++) {
        acc = FloatVector.fromArray(S, h, i * batch + b0, m)
            .fma(FloatVector.broadcast(S, lw[i * w + o]), acc);
      }
      acc.intoArray(z, o * batch + b0, m);
    }
  }

  /**
   * This instance's copy of one layer's weights: the per-layer paths read each weight for
   * every block of V samples, and one bulk copy costs less than as many segment reads.
   */
  private float[] lw = new float[0];

  private float[] layer(int w, MemorySegment wts, long off) {
    int n = Kernels.layerFloats(w);
    if (lw.length < n) {
      lw = new float[n];
    }
    // in vectors: MemorySegment.copy into an array took 30% of a w8 b16 step at 256 bits
    // (a JFR profile; the per-layer path copies each layer twice a step)
    int k = 0;
    for (; k + V <= n; k += V) {
      FloatVector.fromMemorySegment(S, wts, off + 4L * k, LE).intoArray(lw, k);
    }
    for (; k < n; k++) {
      lw[k] = wts.get(F32, off + 4L * k);
    }
    return lw;
  }

  /**
   * tanh from add, mul, div, compare and bit moves only, so that it gives the same bits
   * interpreted and compiled. {@code VectorOperators.TANH} does not: compiled it calls a
   * vector math library, interpreted it loops over {@code Math.tanh}, and the two differ in
   * the last bit, which broke bit-identical training across chunk sizes. {@link
   * TanhMath#tanh(float)} is the same algorithm one lane at a time (the test oracle).
   */
  static FloatVector tanh(FloatVector x) {
    // min(|x|, CLAMP) as a compare and blend: the same values (NaN stays NaN), without the
    // fix-ups the JIT adds to min for Java's NaN and signed-zero rules
    FloatVector u = x.abs();
    FloatVector a = u.blend(TanhMath.CLAMP, u.compare(VectorOperators.GT, TanhMath.CLAMP));
    // |x| < SMALL: odd Taylor polynomial in x^2 (Horner)
    FloatVector a2 = a.mul(a);
    FloatVector p = FloatVector.broadcast(S, TanhMath.T[TanhMath.T.length - 1]);
    for (int j = TanhMath.T.length - 2; j >= 0; j--) {
      p = p.mul(a2).add(TanhMath.T[j]);
    }
    FloatVector small = p.mul(a2).mul(a).add(a);
    // otherwise (1 - e) / (1 + e) with e = exp(-2|x|) = 2^n exp(r)
    FloatVector y = a.mul(-2f);
    FloatVector k = y.mul(TanhMath.LOG2E).add(TanhMath.ROUND);
    FloatVector n = k.sub(TanhMath.ROUND);
    FloatVector r = y.sub(n.mul(TanhMath.LN2_HI)).sub(n.mul(TanhMath.LN2_LO));
    FloatVector q = FloatVector.broadcast(S, TanhMath.E[TanhMath.E.length - 1]);
    for (int j = TanhMath.E.length - 2; j >= 0; j--) {
      q = q.mul(r).add(TanhMath.E[j]);
    }
    // 2^n from k's bits (TanhMath.EXP_BIAS): exactly the scalar (int) n route's 2^n, without
    // the conversion's fix-ups for NaN and overflow
    FloatVector scale = k.reinterpretAsInts().sub(TanhMath.EXP_BIAS)
        .lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    FloatVector e = q.mul(scale);
    FloatVector large = FloatVector.broadcast(S, 1f).sub(e).div(e.add(1f));
    FloatVector t = large.blend(small, a.compare(VectorOperators.LT, TanhMath.SMALL));
    return t.blend(t.neg(), x.compare(VectorOperators.LT, 0f));
  }

  private static FloatVector act(Activation act, FloatVector z) {
    return switch (act) {
      case TANH -> tanh(z);
      case SOFTSIGN -> z.div(z.abs().add(1f));
      case RELU -> FloatVector.zero(S).blend(z, z.compare(VectorOperators.GT, 0f));
    };
  }

  /**
   * Batch 1 at widths up to 8: one sample fills a few lanes at most, so the scalar kernels run
   * it (in chunks, {@link Width2} and {@link Narrow}), per-layer calls included.
   */
  private static boolean scalarShape(int w, int batch) {
    return Width2.applies(w, batch) || Narrow.applies(w, batch);
  }

  /** Whether the width-4 batch-16 chunk kernels ({@link Width4}) apply. */
  private static boolean width4(int w, int batch) {
    return w == 4 && batch == 16 && S == FloatVector.SPECIES_512;
  }

  /** Width 4, batch 32, 48, ...: {@link Width4} one group of 16 samples at a time. */
  private static boolean width4Groups(int w, int batch) {
    return w == 4 && batch > 16 && batch % 16 == 0 && S == FloatVector.SPECIES_512;
  }

  /** Width 8, batch 16, 32, ...: the {@link Width8} kernels, one group of 16 samples at a time. */
  private static boolean width8(int w, int batch) {
    return w == 8 && batch % 16 == 0 && S == FloatVector.SPECIES_512;
  }

  /**
   * Warms the chunk kernels of this shape on a scratch segment of the kind the cores use
   * (native, shared arena): each is called on {@value #WARM_LAYERS} layers until a call
   * runs at compiled speed three times in a row (under {@value #WARM_NS_PER_LAYER} ns a layer
   * at w4 b16, scaled by W^2 B; interpreted or C1-compiled Vector API code is tens of times
   * slower) and the JIT has then compiled nothing for {@value #WARM_QUIET_MS} ms, or {@value
   * #WARM_SECONDS} s pass.
   */
  @Override
  public double warmUp(int w, int batch, Activation act) {
    return warm(w, batch, act, 3);
  }

  /** As {@link #warmUp}, for {@link #forwardChunk} alone (eval). */
  @Override
  public double warmUpForward(int w, int batch, Activation act) {
    return warm(w, batch, act, 1);
  }

  /**
   * Empties this instance's scratch arrays, so that the warm-up also runs the branches that
   * grow them. A fresh instance ({@link #fork}, the second training thread's) grows them on its
   * first call; compiled as never taken, that branch deoptimised the backward in the first step
   * and C2 recompiled it while both cores were training.
   */
  private void dropScratch() {
    gseg = new float[0];
    w8Block = new float[0];
    w4Block = new float[0];
    lw = new float[0];
    padIn = new float[0];
    padH = new float[0];
    padD = new float[0];
    bwdH = new float[0];
    bwdD = new float[0];
    bwdGrads = new float[0];
    padZ = new float[0];
    gT = new float[0];
    gradSink = new float[0];
  }

  /**
   * Warms the first {@code kernels} of forward (with the two threads' halves where {@link
   * #splitsForward}), forward with saves (and two segments' in one call where {@link
   * #recomputesInPairs}), backward + update. At a batch of 16 it also times
   * the halves against the whole batch once they run compiled, {@value #SPLIT_SAMPLES} rounds
   * at least, for {@link #forwardSplitPays}.
   */
  private double warm(int w, int batch, Activation act, int kernels) {
    long t0 = System.nanoTime();
    int nb = w * batch;
    int n = WARM_LAYERS;
    long slow = (long) (n * WARM_NS_PER_LAYER * Math.max(1.0, w * (double) w * batch / 256));
    int lf = Kernels.layerFloats(w);
    try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared()) {
      MemorySegment ws = arena.allocate(n * Kernels.layerBytes(w), 64);
      for (long o = 0; o < ws.byteSize(); o += 4) {
        ws.set(F32, o, (float) ((o * 2654435761L) % 997) * 1e-4f - 0.05f);
      }
      float[] h = new float[nb];
      float[] z = new float[nb];
      float[] dh = new float[nb];
      float[] g = new float[nb];
      float[] hs = new float[nb * n];
      float[] ds = new float[nb * n];
      boolean pairs = recomputesInPairs(w, batch, act);
      float[] h2 = pairs ? new float[nb] : null;
      float[] hs2 = pairs ? new float[nb * n] : null;
      float[] ds2 = pairs ? new float[nb * n] : null;
      float[] gW = new float[w * w];
      float[] gb = new float[w];
      float[] grads = new float[lf * n + 16];
      long deadline = t0 + (long) (WARM_SECONDS * 1e9);
      // round robin, so that the JIT compiles the three at the same time; done when each ran
      // fast three times in a row and the JIT has compiled nothing for WARM_QUIET_MS (C1
      // code can pass the speed test while C2 is still compiling the per-layer methods)
      JitQuiet quiet = new JitQuiet();
      // at a batch of 16 the halves have kernels of their own, faster than the whole batch's
      // on some CPUs and slower on others: timed here once compiled, for forwardSplitPays
      boolean halves = splitsForward(w, batch, act);
      boolean timeSplit = kernels >= 1 && batch == 16 && halves;
      double[] whole = new double[SPLIT_SAMPLES];
      double[] half = new double[SPLIT_SAMPLES];
      int timed = 0;
      int[] fast = new int[3];
      for (int kernel = kernels; kernel < 3; kernel++) {
        fast[kernel] = 3;
      }
      int round = 0;
      while ((fast[0] < 3 || fast[1] < 3 || fast[2] < 3
          || !quiet.quietFor(WARM_QUIET_MS) || timeSplit && timed < SPLIT_SAMPLES)
          && System.nanoTime() < deadline) {
        quiet.poll();
        round++;
        if (((fast[0] + fast[1] + fast[2]) & 1) == 1) {
          dropScratch();
        }
        for (int kernel = 0; kernel < kernels; kernel++) {
          java.util.Arrays.fill(h, 0.5f);
          java.util.Arrays.fill(dh, 0.01f);
          long t = System.nanoTime();
          switch (kernel) {
            case 0 -> {
              forwardChunk(w, batch, ws, 0, n, 0.01f, act, h, z);
              if (halves) {
                long a = System.nanoTime();
                forwardChunkSamples(w, batch, ws, 0, n, 0.01f, act, h, 0, batch / 2);
                long b = System.nanoTime();
                forwardChunkSamples(w, batch, ws, 0, n, 0.01f, act, h, batch / 2, batch);
                long c = System.nanoTime();
                if (timeSplit && fast[0] >= 3) {
                  // two threads run the halves side by side: the slower one is the pass's time
                  whole[timed % SPLIT_SAMPLES] = a - t;
                  half[timed % SPLIT_SAMPLES] = Math.max(b - a, c - b);
                  timed++;
                }
              }
            }
            case 1 -> {
              forwardSaveChunk(w, batch, ws, 0, n, 0.01f, act, h, z, hs, ds);
              if (pairs) {
                // the trainer's recompute of two segments a call (its first half and second)
                forwardSaveChunkPair(w, batch, ws, 0, n / 2 * Kernels.layerBytes(w), n / 2,
                    0.01f, act, h, h2, z, hs, ds, hs2, ds2);
              }
            }
            // with and without the diagnostics' gradient copy, and with and without the
            // two-thread hand-off, so that no path is compiled as never taken (which would
            // deoptimise a run's first step that takes it)
            default -> backwardUpdateChunk(w, batch, ws, 0, n, 0.01f, 0f, hs, ds, dh, gW, gb, g,
                (fast[2] & 1) == 0 ? null : grads, (round & 2) == 0 ? null : NO_HAND_OFF);
          }
          fast[kernel] = System.nanoTime() - t < slow ? fast[kernel] + 1 : 0;
        }
      }
      if (timed >= SPLIT_SAMPLES) {
        SPLIT_PAYS.put(splitKey(w, act), halvesPay(whole, half));
      }
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  /**
   * Compiled rounds of the warm-up whose times of the whole batch's forward and of its halves
   * decide {@link #forwardSplitPays} (the last ones count; a warm-up runs thousands).
   */
  static final int SPLIT_SAMPLES = 256;
  /** The halves must take less than this share of the whole batch's time to be used. */
  static final double SPLIT_RATIO = 0.9;
  /**
   * By width and activation (batch 16): whether the last warm-up in this process found the
   * halves faster ({@link #halvesPay}); absent, not measured.
   */
  static final java.util.Map<Integer, Boolean> SPLIT_PAYS =
      new java.util.concurrent.ConcurrentHashMap<>();

  static int splitKey(int w, Activation act) {
    return w * Activation.values().length + act.ordinal();
  }

  /**
   * Whether the halves' median time is under {@link #SPLIT_RATIO} of the whole batch's (the
   * arrays hold matching samples, in nanoseconds).
   */
  static boolean halvesPay(double[] whole, double[] half) {
    return Rates.median(half) < SPLIT_RATIO * Rates.median(whole);
  }

  /**
   * {@link #splitsForward}, except at batch 16 where a warm-up in this process found the halves'
   * kernel no faster than the whole batch's. On a Zen 5 EPYC, where a 512-bit division issues
   * every 0.7-0.9 ns, the width-4 half kernel's permutes on the chain make a half slower than
   * the whole batch (10M layers: forward 118-128 ms a step on one thread against 133-140 split);
   * on the Intel machine, with a division every 3.7 ns, the halves ran 21 ns a layer against
   * 28 (docs/decisions.md, "The forward split by samples, where it pays").
   */
  @Override
  public boolean forwardSplitPays(int w, int batch, Activation act) {
    return splitsForward(w, batch, act)
        && (batch != 16 || SPLIT_PAYS.getOrDefault(splitKey(w, act), true));
  }

  /**
   * Layers a warm-up call runs. Few, so that the calls are many: C2 takes a method once it has
   * been called about 900 times with 16 layers a call, or once its loop has run 40,000 times,
   * and at C1's speed for these kernels (10-50 us a layer) 256-layer calls took over a second to
   * get there: the backward's C2 code then sometimes arrived during the first step.
   */
  private static final int WARM_LAYERS = 16;
  private static final double WARM_NS_PER_LAYER = 400;
  /**
   * The warm-up's limit. It normally ends in 1-3 s; the limit matters when the JIT is busy:
   * in an `abyss bench` process, after a dozen other shapes, C2 took 2.5 s to compile the
   * width-4 batch-32 gradient kernel, deoptimised it once (an uncommon trap during the
   * warm-up) and took 4 s more to compile it again; with a 5 s limit the measured steps ran
   * C1's code at 30x the time (docs/decisions.md).
   */
  private static final double WARM_SECONDS = 15;
  private static final long WARM_QUIET_MS = 150;

  // ---- widths 4 and 8 at a batch that is not a multiple of 16 -----------------------------
  // The chunk kernels run on a copy padded to the next multiple of 16 samples, the padding
  // zero in h, dh and the saves. A padded sample's g is then alpha * 0 * 0 = +0, so its
  // products and its terms in every gradient sum are +0: the lanes the per-layer path masks
  // off, which load as +0 there. So the same bits as the per-layer path (tested), at the
  // kernels' speed plus the copies.

  /** Layers a padded call converts at a time: bounds the scratch below. */
  private static final int PAD_LAYERS = 256;
  private float[] padIn = new float[0];
  private float[] padH = new float[0];
  private float[] padD = new float[0];
  private float[] bwdH = new float[0];
  private float[] bwdD = new float[0];
  private float[] bwdGrads = new float[0];
  /** z scratch for the padded calls (the chunk kernels they reach do not use it). */
  private float[] padZ = new float[0];

  /**
   * The padded batch (the next multiple of 16) where widths 4 and 8 at 512 bits run their
   * chunk kernels on a padded copy, else 0. The backward kernels take any activation, the
   * forward ones too ({@link #paddedForward}: tanh from batch 8).
   */
  private static int padded(int w, int batch) {
    if (S != FloatVector.SPECIES_512 || batch <= 1 || batch % 16 == 0 || (w != 4 && w != 8)) {
      return 0;
    }
    return (batch + 15) / 16 * 16;
  }

  /**
   * {@link #padded} for the forward kernels: tanh's from batch 8 up. Its chunk kernels against
   * the per-layer path, padded (one process, alternating; forward / forward with saves): w4 b8
   * 0.76 / 0.68, w4 b24 0.52 / 0.64, w8 b8 0.80 / 0.99, but w4 b4 1.01 / 1.11.
   */
  private static int paddedForward(int w, int batch, Activation act) {
    return act == Activation.TANH && batch < 8 ? 0 : padded(w, batch);
  }

  private float[] padZ(int n) {
    if (padZ.length < n) {
      padZ = new float[n];
    }
    return padZ;
  }

  /** h (W, batch) into this instance's (W, bp) scratch, padded with zeros. */
  private float[] expandH(int w, int batch, int bp, float[] h) {
    if (padIn.length < w * bp) {
      padIn = new float[w * bp];
    }
    expand(w, batch, bp, 1, h, 0, padIn);
    return padIn;
  }

  /**
   * {@code layers} blocks of (W, batch) from {@code src} at {@code so} into (W, bp) blocks of
   * {@code dst} from 0, zero in the padded lanes: one masked load (zero past the batch) and
   * one store per 16 lanes (a call of System.arraycopy per row cost more than the kernels).
   */
  private static void expand(int w, int batch, int bp, int layers, float[] src, int so,
      float[] dst) {
    for (int k = 0; k < bp; k += 16) {
      VectorMask<Float> m = S.indexInRange(k, batch);
      for (int r = 0; r < layers * w; r++) {
        FloatVector.fromArray(S, src, so + r * batch + k, m).intoArray(dst, r * bp + k);
      }
    }
  }

  /** {@code layers} (W, bp) blocks of {@code src} from 0, unpadded into dst at dO. */
  private static void compact(int w, int batch, int bp, int layers, float[] src, float[] dst,
      int dO) {
    for (int k = 0; k < bp; k += 16) {
      VectorMask<Float> m = S.indexInRange(k, batch);
      for (int r = 0; r < layers * w; r++) {
        FloatVector.fromArray(S, src, r * bp + k).intoArray(dst, dO + r * batch + k, m);
      }
    }
  }

  /**
   * The width-4 and width-8 softsign and ReLU chunk kernels at batch 16 and more: keeping
   * every activation (512 bytes a layer per 16 samples at width 4, written and read back) ran
   * 1.41x slower than the recompute at batch 16 and 1.4-1.5x at batch 32 (1M layers in memory,
   * softsign); width 8 (200,000 layers) 1.04-1.10x at batch 16 and 1.36x at batch 32; ReLU
   * 1.01-1.10x at width 4 and 1.03-1.20x at width 8, batch 16. Batches in between run these
   * kernels padded: at 24, 1.20x (width 4) and 1.05x (width 8) slower kept; below 16 the
   * padded recompute costs more and keeping won (w4 b4 0.92x, w8 b8 0.90x) or tied (w4 b8).
   * At 256 bits, width-4 softsign at batch 16, 32, ... ({@link Width4V8}; a Zen 1 EPYC, 1M
   * layers, 12 steps): 0.18-0.23 s a step recomputing on two threads against 0.25-0.30 kept,
   * 0.30-0.31 against 0.31-0.36 on one (the recompute 0.155-0.157 after a fix to the updates);
   * ReLU and tanh there tied, and keep.
   * Every other shape measured ran faster with them kept (docs/decisions.md, "The memory
   * planner's default").
   */
  @Override
  public boolean prefersRecompute(int w, int batch, Activation act) {
    return (w == 4 || w == 8) && batch >= 16 && S == FloatVector.SPECIES_512
        && act != Activation.TANH
        || Width4V8.applies(S, w, batch) && act == Activation.SOFTSIGN;
  }

  /**
   * Also widths of 16 and more, softsign and ReLU, on two threads or more: there the recompute
   * in turns beat keeping every activation in turns (two threads on the Intel machine, steps
   * alternating in one process, the ratio to one thread keeping: w32 b1 0.66-0.68 against
   * 0.70-0.75, w16 b16 0.60 against 0.68, w32 b16 0.69 against 0.74, w64 b1 0.68 against 0.71,
   * w16 b1 0.78 against 0.84); not tanh, whose recompute costs more (w4 b16 1.09 against 0.89,
   * w8 b16 0.89 against 0.86), nor the narrow generic shapes (w3 b16: a tie).
   */
  @Override
  public boolean prefersRecompute(int w, int batch, Activation act, int threads) {
    return prefersRecompute(w, batch, act) || (threads > 1 && w >= 16
        && act != Activation.TANH && handsOffBeforeUpdates(w, batch));
  }

  @Override
  public void forwardChunk(int w, int batch, MemorySegment wts, long off, int count,
      float alpha, Activation act, float[] h, float[] z) {
    int bp = paddedForward(w, batch, act);
    if (bp > 0) {
      float[] hp = expandH(w, batch, bp, h);
      forwardChunk(w, bp, wts, off, count, alpha, act, hp, padZ(w * bp));
      compact(w, batch, bp, 1, hp, h, 0);
      return;
    }
    if (w == 4 && batch == 1 && Rows.forwardApplies(act)) {
      Rows.forward(wts, off, count, alpha, act, h, null, null);
      return;
    }
    if (Width4V8.applies(S, w, batch) && act == Activation.SOFTSIGN && batch >= 32) {
      // eval's minibatches: a block of layers copied once for all groups of 16
      float[] wa = w4Block();
      for (int l0 = 0; l0 < count; l0 += Width4V8.BLOCK) {
        int n = Math.min(Width4V8.BLOCK, count - l0);
        MemorySegment.copy(wts, F32, off + l0 * Kernels.layerBytes(4), wa, 0,
            n * Kernels.layerFloats(4));
        for (int g0 = 0; g0 < batch; g0 += 16) {
          Width4V8.forwardSoftsignSkewed(wa, n, alpha, h, batch, g0);
        }
      }
      return;
    }
    if (Width4V8.applies(S, w, batch) && act == Activation.SOFTSIGN) {
      for (int g0 = 0; g0 < batch; g0 += 16) {
        Width4V8.forwardSoftsign2(wts, off, count, alpha, h, batch, g0);
      }
      return;
    }
    if (Width4V8.applies(S, w, batch) && act == Activation.RELU) {
      for (int g0 = 0; g0 < batch; g0 += 8) {
        Width4V8.forwardRelu(wts, off, count, alpha, h, batch, g0);
      }
      return;
    }
    if (Width4V8.applies(S, w, batch) && act == Activation.TANH) {
      for (int g0 = 0; g0 < batch; g0 += 8) {
        Width4V8.forwardTanh(wts, off, count, alpha, h, batch, g0);
      }
      return;
    }
    if (w == 8 && batch == 1 && V >= 8 && Rows.forwardApplies(act)) {
      Rows.forward8(wts, off, count, alpha, act, h, null, null);
      return;
    }
    if (!forwardGroups(w, batch, wts, off, count, alpha, act, h, 0, batch)) {
      Kernels.super.forwardChunk(w, batch, wts, off, count, alpha, act, h, z);
    }
  }

  /**
   * The forward of the groups of 16 samples {@code from .. to - 1} (multiples of 16) through
   * the chunk kernels of widths 4 and 8, where they apply (512 bits, a batch of whole groups);
   * false, having done nothing, where they do not.
   */
  private static boolean forwardGroups(int w, int batch, MemorySegment wts, long off,
      int count, float alpha, Activation act, float[] h, int from, int to) {
    if (S != FloatVector.SPECIES_512 || batch % 16 != 0 || (w != 4 && w != 8)) {
      return false;
    }
    if (w == 8) {
      for (int g0 = from; g0 < to; g0 += 16) {
        switch (act) {
          case SOFTSIGN -> Width8.forwardSoftsign(wts, off, count, alpha, h, batch, g0);
          case RELU -> Width8.forwardRelu(wts, off, count, alpha, h, batch, g0);
          case TANH -> Width8.forwardTanh(wts, off, count, alpha, h, batch, g0);
        }
      }
      return true;
    }
    if (act == Activation.SOFTSIGN) {
      // two groups at a time where there are two (eval's throughput)
      int g0 = from;
      for (; g0 + 32 <= to; g0 += 32) {
        Width4.forwardSoftsign2(wts, off, count, alpha, h, batch, g0);
      }
      if (g0 < to) {
        Width4.forwardSoftsign(wts, off, count, alpha, h, batch, g0);
      }
    } else {
      for (int g0 = from; g0 < to; g0 += 16) {
        if (act == Activation.RELU) {
          Width4.forwardRelu(wts, off, count, alpha, h, batch, g0);
        } else {
          Width4.forwardTanh(wts, off, count, alpha, h, batch, g0);
        }
      }
    }
    return true;
  }

  /**
   * Widths 4 and 8 at batch 16 with softsign ({@link Width4#forwardSoftsignHalf}, {@link
   * Width8#forwardSoftsignHalf}: eight samples each), and at batch 32, 64, ... (the groups of
   * 16 samples in two halves, each through the group kernels); at 256 bits, width 4 at batch
   * 16, 32, ... with any activation ({@link Width4V8}: eight samples a chain).
   */
  @Override
  public boolean splitsForward(int w, int batch, Activation act) {
    return (w == 4 || w == 8) && batch == 16 && S == FloatVector.SPECIES_512
        && act == Activation.SOFTSIGN
        || (w == 4 || w == 8) && batch % 32 == 0 && S == FloatVector.SPECIES_512
        || Width4V8.applies(S, w, batch);
  }

  @Override
  public void forwardChunkSamples(int w, int batch, MemorySegment wts, long off, int count,
      float alpha, Activation act, float[] h, int from, int to) {
    boolean half = batch == 16 && S == FloatVector.SPECIES_512 && act == Activation.SOFTSIGN
        && to - from == 8 && (from == 0 || from == 8);
    if (Width4V8.applies(S, w, batch) && act == Activation.SOFTSIGN && from % 8 == 0
        && to % 8 == 0) {
      // eight samples at a time: a half of batch 16, or whole groups of 16 in pairs
      int g0 = from;
      for (; g0 + 16 <= to; g0 += 16) {
        Width4V8.forwardSoftsign2(wts, off, count, alpha, h, batch, g0);
      }
      for (; g0 < to; g0 += 8) {
        Width4V8.forwardSoftsign(wts, off, count, alpha, h, batch, g0);
      }
    } else if (Width4V8.applies(S, w, batch) && act != Activation.SOFTSIGN && from % 8 == 0
        && to % 8 == 0) {
      for (int g0 = from; g0 < to; g0 += 8) {
        if (act == Activation.RELU) {
          Width4V8.forwardRelu(wts, off, count, alpha, h, batch, g0);
        } else {
          Width4V8.forwardTanh(wts, off, count, alpha, h, batch, g0);
        }
      }
    } else if (half && w == 4) {
      Width4.forwardSoftsignHalf(wts, off, count, alpha, h, from);
    } else if (half && w == 8) {
      Width8.forwardSoftsignHalf(wts, off, count, alpha, h, from);
    } else if (from % 16 != 0 || to % 16 != 0
        || !forwardGroups(w, batch, wts, off, count, alpha, act, h, from, to)) {
      Kernels.super.forwardChunkSamples(w, batch, wts, off, count, alpha, act, h, from, to);
    }
  }

  @Override
  public void forwardSaveChunk(int w, int batch, MemorySegment wts, long off, int count,
      float alpha, Activation act, float[] h, float[] z, float[] hSave, float[] dSave) {
    int bp = paddedForward(w, batch, act);
    if (bp > 0) {
      float[] hp = expandH(w, batch, bp, h);
      long lb = Kernels.layerBytes(w);
      int n = w * batch;
      int np = w * bp;
      for (int l0 = 0; l0 < count; l0 += PAD_LAYERS) {
        int c = Math.min(PAD_LAYERS, count - l0);
        if (padH.length < c * np) {
          padH = new float[PAD_LAYERS * np];
          padD = new float[PAD_LAYERS * np];
        }
        forwardSaveChunk(w, bp, wts, off + l0 * lb, c, alpha, act, hp, padZ(np), padH, padD);
        compact(w, batch, bp, c, padH, hSave, l0 * n);
        compact(w, batch, bp, c, padD, dSave, l0 * n);
      }
      compact(w, batch, bp, 1, hp, h, 0);
      return;
    }
    if (w == 4 && batch == 1 && Rows.forwardApplies(act)) {
      Rows.forward(wts, off, count, alpha, act, h, hSave, dSave);
    } else if (w == 8 && batch == 1 && V >= 8 && Rows.forwardApplies(act)) {
      Rows.forward8(wts, off, count, alpha, act, h, hSave, dSave);
    } else if (Width4V8.applies(S, w, batch) && act == Activation.SOFTSIGN) {
      for (int g0 = 0; g0 < batch; g0 += 8) {
        Width4V8.forwardSaveSoftsign(wts, off, count, alpha, h, hSave, dSave, batch, g0);
      }
    } else if (Width4V8.applies(S, w, batch) && act == Activation.RELU) {
      for (int g0 = 0; g0 < batch; g0 += 8) {
        Width4V8.forwardSaveRelu(wts, off, count, alpha, h, hSave, dSave, batch, g0);
      }
    } else if (Width4V8.applies(S, w, batch) && act == Activation.TANH) {
      for (int g0 = 0; g0 < batch; g0 += 8) {
        Width4V8.forwardSaveTanh(wts, off, count, alpha, h, hSave, dSave, batch, g0);
      }
    } else if (width4(w, batch) && act == Activation.SOFTSIGN) {
      Width4.forwardSaveSoftsign(wts, off, count, alpha, h, hSave, dSave);
    } else if (width8(w, batch) && act == Activation.SOFTSIGN) {
      for (int g0 = 0; g0 < batch; g0 += 16) {
        Width8.forwardSaveSoftsign(wts, off, count, alpha, h, hSave, dSave, batch, g0);
      }
      Width8.activationToDerivative(dSave, 8 * batch * count);
    } else if (width8(w, batch) && act == Activation.RELU) {
      for (int g0 = 0; g0 < batch; g0 += 16) {
        Width8.forwardSaveRelu(wts, off, count, alpha, h, hSave, dSave, batch, g0);
      }
      Width8.reluDerivative(dSave, 8 * batch * count);
    } else if (width8(w, batch) && act == Activation.TANH) {
      for (int g0 = 0; g0 < batch; g0 += 16) {
        Width8.forwardSaveTanh(wts, off, count, alpha, h, hSave, dSave, batch, g0);
      }
      Width8.tanhDerivative(dSave, 8 * batch * count);
    } else if (width4Groups(w, batch) && act == Activation.SOFTSIGN) {
      for (int g0 = 0; g0 < batch; g0 += 16) {
        Width4.forwardSaveSoftsignGroup(wts, off, count, alpha, h, hSave, dSave, batch, g0);
      }
    } else if ((width4(w, batch) || width4Groups(w, batch)) && act == Activation.RELU) {
      for (int g0 = 0; g0 < batch; g0 += 16) {
        Width4.forwardSaveReluGroup(wts, off, count, alpha, h, hSave, dSave, batch, g0);
      }
    } else if ((width4(w, batch) || width4Groups(w, batch)) && act == Activation.TANH) {
      for (int g0 = 0; g0 < batch; g0 += 16) {
        Width4.forwardSaveTanhGroup(wts, off, count, alpha, h, hSave, dSave, batch, g0);
      }
    } else {
      Kernels.super.forwardSaveChunk(w, batch, wts, off, count, alpha, act, h, z, hSave, dSave);
    }
  }

  /**
   * Width 4, batch 16, softsign at 512 bits: {@link Width4#forwardSaveSoftsignPair}. One
   * segment's recompute is a chain that waits on its divisions layer after layer; two
   * segments' chains in one loop keep more units busy (docs/decisions.md, "Two segments
   * recomputed in one call").
   */
  @Override
  public boolean recomputesInPairs(int w, int batch, Activation act) {
    return width4(w, batch) && act == Activation.SOFTSIGN;
  }

  @Override
  public void forwardSaveChunkPair(int w, int batch, MemorySegment wts, long offA, long offB,
      int count, float alpha, Activation act, float[] hA, float[] hB, float[] z, float[] hSaveA,
      float[] dSaveA, float[] hSaveB, float[] dSaveB) {
    if (recomputesInPairs(w, batch, act)) {
      Width4.forwardSaveSoftsignPair(wts, offA, offB, count, alpha, hA, hSaveA, dSaveA, hB,
          hSaveB, dSaveB);
    } else {
      Kernels.super.forwardSaveChunkPair(w, batch, wts, offA, offB, count, alpha, act, hA, hB, z,
          hSaveA, dSaveA, hSaveB, dSaveB);
    }
  }

  @Override
  public void backwardUpdateChunk(int w, int batch, MemorySegment wts, long off, int count,
      float alpha, float lr, float[] hSave, float[] dSave, float[] dh, float[] gW, float[] gb,
      float[] g, float[] grads, Runnable dhDone) {
    int bp = padded(w, batch);
    if (bp > 0) {
      // the last layers first, as the chunk's contract says, PAD_LAYERS at a time
      float[] dhp = expandH(w, batch, bp, dh);
      long lb = Kernels.layerBytes(w);
      int n = w * batch;
      int np = w * bp;
      int lf = Kernels.layerFloats(w);
      if (bwdH.length < PAD_LAYERS * np) {
        bwdH = new float[PAD_LAYERS * np];
        bwdD = new float[PAD_LAYERS * np];
      }
      if (grads != null && bwdGrads.length < PAD_LAYERS * lf + 16) {
        bwdGrads = new float[PAD_LAYERS * lf + 16];
      }
      for (int hi = count; hi > 0; hi -= PAD_LAYERS) {
        int l0 = Math.max(0, hi - PAD_LAYERS);
        int c = hi - l0;
        expand(w, batch, bp, c, hSave, l0 * n, bwdH);
        expand(w, batch, bp, c, dSave, l0 * n, bwdD);
        float[] gr = grads == null ? null : bwdGrads;
        backwardUpdateChunk(w, bp, wts, off + l0 * lb, c, alpha, lr, bwdH, bwdD, dhp, gW, gb,
            g, gr);
        if (grads != null) {
          System.arraycopy(bwdGrads, 0, grads, l0 * lf, c * lf);
        }
      }
      compact(w, batch, bp, 1, dhp, dh, 0);
      done(dhDone);
      return;
    }
    if (w == 4 && batch == 1) {
      Rows.backwardUpdate(wts, off, count, alpha, lr, hSave, dSave, dh, grads);
      done(dhDone);
    } else if (w == 8 && batch == 1 && V >= 8) {
      Rows.backwardUpdate8(wts, off, count, alpha, lr, hSave, dSave, dh, grads);
      done(dhDone);
    } else if (scalarShape(w, batch)) {
      Kernels.super.backwardUpdateChunk(w, batch, wts, off, count, alpha, lr, hSave, dSave, dh,
          gW, gb, g, grads, dhDone);
    } else if (batch == 1 && w % V == 0) {
      long lb = Kernels.layerBytes(w);
      int lf = Kernels.layerFloats(w);
      if (dhDone != null) {
        // a hand-off: the dh chain first (each layer's g kept), then the updates, so that
        // another thread's dh chain runs beside them
        growGseg(w * count);
        for (int l = count - 1; l >= 0; l--) {
          rowDh(w, wts, off + l * lb, alpha, dSave, l * w, dh, gseg, l * w);
        }
        dhDone.run();
        // from the first layer up: the dh chain read the lowest ones last
        for (int l = 0; l < count; l++) {
          rowUpdate(w, wts, off + l * lb, lr, hSave, l * w, gseg, l * w, grads, l * lf);
        }
        return;
      }
      // wide layers, one sample: one pass over each layer's W
      for (int l = count - 1; l >= 0; l--) {
        backwardRowUpdate(w, wts, off + l * lb, alpha, lr, hSave, dSave, l * w, dh, g, grads,
            l * lf);
      }
    } else if (Width4V8.applies(S, w, batch) || Width8V8.applies(S, w, batch)) {
      growGseg(w * batch * count);
      boolean four = w == 4;
      float[] wa = four ? w4Block() : w8Block();
      int block = four ? Width4V8.BLOCK : Width8V8.BLOCK;
      // the dh chains read a block of weights copied from the segment, the last block first
      for (int hi = count; hi > 0; hi -= block) {
        int l0 = Math.max(0, hi - block);
        MemorySegment.copy(wts, F32, off + l0 * Kernels.layerBytes(w), wa, 0,
            (hi - l0) * Kernels.layerFloats(w));
        for (int g0 = 0; g0 < batch; g0 += 8) {
          if (four) {
            Width4V8.dhChain(wa, hi - l0, alpha, dSave, dh, gseg, 4 * batch * l0, batch, g0);
          } else {
            Width8V8.dhChain(wa, hi - l0, alpha, dSave, dh, gseg, 8 * batch * l0, batch, g0);
          }
        }
      }
      done(dhDone);
      if (four) {
        Width4V8.updates(wts, off, count, lr, hSave, gseg,
            grads != null ? grads : gradSink(20 * count), batch);
      } else {
        Width8V8.updates(wts, off, count, lr, hSave, gseg, grads, batch);
      }
    } else if (width4(w, batch)) {
      growGseg(64 * count);
      Width4.backwardUpdate(wts, off, count, alpha, lr, hSave, dSave, dh, gseg, grads, dhDone);
    } else if (width8(w, batch)) {
      growGseg(8 * batch * count);
      for (int g0 = 0; g0 < batch; g0 += 16) {
        Width8.dhChain(wts, off, count, alpha, dSave, dh, gseg, batch, g0);
      }
      done(dhDone);
      Width8.updates(wts, off, count, lr, hSave, gseg, grads, batch);
    } else if (width4Groups(w, batch)) {
      growGseg(4 * batch * count);
      int g0 = 0;
      for (; g0 + 32 <= batch; g0 += 32) {
        Width4.dhChain2(wts, off, count, alpha, dSave, dh, gseg, batch, g0);
      }
      if (g0 < batch) {
        Width4.dhChain(wts, off, count, alpha, dSave, dh, gseg, batch, g0);
      }
      done(dhDone);
      Width4.updatesGroups(wts, off, count, lr, hSave, gseg, grads, batch);
    } else if (dhDone != null && batch > 1) {
      // a hand-off, the generic layers: the dh chain first (each layer's g kept), then the
      // weight gradients and updates; residualBackward's operations, so the same bits
      int n = w * batch;
      long lb = Kernels.layerBytes(w);
      int lf = Kernels.layerFloats(w);
      growGseg(n * count);
      for (int l = count - 1; l >= 0; l--) {
        scaleGrad(n, alpha, dh, dSave, l * n, g);
        inputGrad(w, batch, wts, off + l * lb, g, dh);
        System.arraycopy(g, 0, gseg, l * n, n);
      }
      dhDone.run();
      for (int l = 0; l < count; l++) {
        System.arraycopy(gseg, l * n, g, 0, n);
        if (w % V == 0) {
          weightGradsWide(w, batch, hSave, l * n, g, gW);
        } else {
          weightGrads(w, batch, hSave, l * n, g, gW);
        }
        biasGrads(w, batch, g, gb);
        if (grads != null) {
          System.arraycopy(gW, 0, grads, l * lf, w * w);
          System.arraycopy(gb, 0, grads, l * lf + w * w, w);
        }
        sgdUpdate(w, wts, off + l * lb, lr, gW, gb);
      }
    } else {
      Kernels.super.backwardUpdateChunk(w, batch, wts, off, count, alpha, lr, hSave, dSave, dh,
          gW, gb, g, grads, dhDone);
    }
  }

  /**
   * Width 4 and 8 in their chunk kernels, and where a hand-off splits the backward in two (the
   * dh chain, then the updates): wide layers of one sample and the generic layers of a batch
   * (every shape that reaches the last branches of {@link #backwardUpdateChunk}). Not the
   * scalar shapes, nor the padded batches (whose chunks run unsplit on a padded copy).
   */
  @Override
  public boolean handsOffBeforeUpdates(int w, int batch) {
    if (width4(w, batch) || width8(w, batch) || width4Groups(w, batch)
        || Width4V8.applies(S, w, batch) || Width8V8.applies(S, w, batch)) {
      return true;
    }
    if (padded(w, batch) > 0 || (w == 4 && batch == 1) || (w == 8 && batch == 1 && V >= 8)
        || scalarShape(w, batch)) {
      return false;
    }
    return batch > 1 || w % V == 0;
  }

  /**
   * Width 4 at 256 bits ({@link Width4V8}): there the step is slow enough that a streamed
   * core's I/O thread fits beside two training threads on two cores. On a Zen 1 EPYC (AVX2),
   * streamed, two threads against one: w4 b16 softsign at 1M layers 0.82-0.93x the step, ReLU
   * 0.82-0.87, tanh 0.60-0.84, w4 b32 at 500,000 layers 0.68-0.88; w16 b16 0.94-0.99 and w32 b1
   * 1.05-1.17 (not taken). At 512 bits two threads beside the I/O thread were 1.1-1.4x slower
   * (docs/decisions.md).
   */
  @Override
  public boolean helperSharesCores(int w, int batch) {
    return Width4V8.applies(S, w, batch);
  }

  /** This instance's block of {@link Width4V8}'s weights (the skewed forward, the dh chain). */
  private float[] w4Block() {
    if (w4Block.length == 0) {
      w4Block = new float[Width4V8.BLOCK * Kernels.layerFloats(4)];
    }
    return w4Block;
  }

  /** This instance's block of {@link Width8V8}'s weights. */
  private float[] w8Block() {
    if (w8Block.length == 0) {
      w8Block = new float[Width8V8.BLOCK * Kernels.layerFloats(8)];
    }
    return w8Block;
  }

  /**
   * Scratch of at least {@code n} floats for the gradients of a kernel that writes them always
   * ({@link Width4V8#updates}), where the caller wants none.
   */
  private float[] gradSink(int n) {
    if (gradSink.length < n) {
      gradSink = new float[n];
    }
    return gradSink;
  }

  /** Grows the segment's g buffer to at least {@code n} floats. */
  private void growGseg(int n) {
    if (gseg.length < n) {
      gseg = new float[n];
    }
  }

  private static final Runnable NO_HAND_OFF = () -> { };

  private static void done(Runnable dhDone) {
    if (dhDone != null) {
      dhDone.run();
    }
  }

  @Override
  public void residualForward(int w, int batch, MemorySegment wts, long off, float alpha,
      Activation act, float[] h, float[] z) {
    if (scalarShape(w, batch)) {
      scalar.residualForward(w, batch, wts, off, alpha, act, h, z);
      return;
    }
    if (batch == 1) {
      affineRow(w, wts, off, h, z);
    } else {
      affine(w, batch, wts, off, h, z);
    }
    int n = w * batch;
    FloatVector va = FloatVector.broadcast(S, alpha);
    // elementwise over the whole (B, W) tensor, whatever its layout: whole vectors unmasked,
    // then the tail
    int k = 0;
    for (; k + V <= n; k += V) {
      act(act, FloatVector.fromArray(S, z, k)).fma(va, FloatVector.fromArray(S, h, k))
          .intoArray(h, k);
    }
    if (k < n) {
      VectorMask<Float> m = S.indexInRange(k, n);
      FloatVector zv = FloatVector.fromArray(S, z, k, m);
      FloatVector hv = FloatVector.fromArray(S, h, k, m);
      act(act, zv).fma(va, hv).intoArray(h, k, m);
    }
    assert n <= h.length;
  }

  @Override
  public void residualForwardSave(int w, int batch, MemorySegment wts, long off, float alpha,
      Activation act, float[] h, float[] z, float[] hSave, float[] dSave, int saveOff) {
    if (scalarShape(w, batch)) {
      scalar.residualForwardSave(w, batch, wts, off, alpha, act, h, z, hSave, dSave, saveOff);
      return;
    }
    int n = w * batch;
    System.arraycopy(h, 0, hSave, saveOff, n);
    if (batch == 1) {
      affineRow(w, wts, off, h, z);
    } else {
      affine(w, batch, wts, off, h, z);
    }
    // one loop per activation: merging vectors from different branches would box them
    switch (act) {
      case TANH -> saveTanh(w, batch, alpha, h, z, dSave, saveOff);
      case SOFTSIGN -> saveSoftsign(w, batch, alpha, h, z, dSave, saveOff);
      case RELU -> saveRelu(w, batch, alpha, h, z, dSave, saveOff);
    }
  }

  private static void saveTanh(int w, int batch, float alpha, float[] h, float[] z,
      float[] dSave, int saveOff) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    int n = w * batch;
    FloatVector va = FloatVector.broadcast(S, alpha);
    for (int k = 0; k < n; k += V) {
      VectorMask<Float> m = S.indexInRange(k, n);
      FloatVector a = tanh(FloatVector.fromArray(S, z, k, m));
      one.sub(a.mul(a)).intoArray(dSave, saveOff + k, m);
      a.fma(va, FloatVector.fromArray(S, h, k, m)).intoArray(h, k, m);
    }
  }

  private static void saveSoftsign(int w, int batch, float alpha, float[] h, float[] z,
      float[] dSave, int saveOff) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    int n = w * batch;
    FloatVector va = FloatVector.broadcast(S, alpha);
    int k = 0;
    for (; k + V <= n; k += V) {
      FloatVector zv = FloatVector.fromArray(S, z, k);
      FloatVector a = zv.div(zv.abs().add(1f));
      FloatVector r = one.sub(a.abs());
      r.mul(r).intoArray(dSave, saveOff + k);
      a.fma(va, FloatVector.fromArray(S, h, k)).intoArray(h, k);
    }
    if (k < n) {
      VectorMask<Float> m = S.indexInRange(k, n);
      FloatVector zv = FloatVector.fromArray(S, z, k, m);
      FloatVector a = zv.div(zv.abs().add(1f));
      FloatVector r = one.sub(a.abs());
      r.mul(r).intoArray(dSave, saveOff + k, m);
      a.fma(va, FloatVector.fromArray(S, h, k, m)).intoArray(h, k, m);
    }
  }

  private static void saveRelu(int w, int batch, float alpha, float[] h, float[] z,
      float[] dSave, int saveOff) {
    FloatVector one = FloatVector.broadcast(S, 1f);
    FloatVector zero = FloatVector.zero(S);
    int n = w * batch;
    FloatVector va = FloatVector.broadcast(S, alpha);
    int k = 0;
    for (; k + V <= n; k += V) {
      FloatVector zv = FloatVector.fromArray(S, z, k);
      VectorMask<Float> pos = zv.compare(VectorOperators.GT, 0f);
      zero.blend(one, pos).intoArray(dSave, saveOff + k);
      zero.blend(zv, pos).fma(va, FloatVector.fromArray(S, h, k)).intoArray(h, k);
    }
    if (k < n) {
      VectorMask<Float> m = S.indexInRange(k, n);
      FloatVector zv = FloatVector.fromArray(S, z, k, m);
      VectorMask<Float> pos = zv.compare(VectorOperators.GT, 0f);
      zero.blend(one, pos).intoArray(dSave, saveOff + k, m);
      zero.blend(zv, pos).fma(va, FloatVector.fromArray(S, h, k, m)).intoArray(h, k, m);
    }
  }

  @Override
  public void residualBackward(int w, int batch, MemorySegment wts, long off, float alpha,
      float[] hSave, float[] dSave, int saveOff, float[] dh, float[] gW, float[] gb,
      float[] g) {
    if (scalarShape(w, batch)) {
      // one sample in a few lanes: the scalar kernel, whose bits Width2 and Narrow keep
      scalar.residualBackward(w, batch, wts, off, alpha, hSave, dSave, saveOff, dh, gW, gb, g);
      return;
    }
    if (batch == 1 && w > 1) {
      backwardRow(w, wts, off, alpha, hSave, dSave, saveOff, dh, gW, gb, g);
      return;
    }
    if (w == 4 && V == 16 && batch == 16) {
      backward4(batch, wts, off, alpha, hSave, dSave, saveOff, dh, gW, gb, g);
      return;
    }
    // four small methods, each its own compilation unit: one big method exceeds the JIT's
    // inlining budget and then boxes the masks and vectors of the calls it could not inline
    scaleGrad(w * batch, alpha, dh, dSave, saveOff, g);
    if (w % V == 0) {
      weightGradsWide(w, batch, hSave, saveOff, g, gW);
    } else {
      weightGrads(w, batch, hSave, saveOff, g, gW);
    }
    biasGrads(w, batch, g, gb);
    inputGrad(w, batch, wts, off, g, dh);
  }

  // ---- width 4, batch 16 at 512 bits: one full vector per feature, no masks -------------
  // The 16 weight gradients are exactly one transpose-and-add tree (15 combines, no
  // horizontal reductions), with the pairing of treeReduce, so the results are bitwise those
  // of the generic path. C2 stops inlining past a node budget that a few dozen Vector API
  // calls exhaust, and a vector that crosses a call it did not inline is boxed; so the work
  // is split into small methods that pass vectors only through memory (L1).

  private static FloatVector c1(FloatVector a, FloatVector b) {
    return a.blend(b, M1).add(b.blend(a, M1).rearrange(X1));
  }

  private static FloatVector c2(FloatVector a, FloatVector b) {
    return a.blend(b, M2).add(b.blend(a, M2).rearrange(X2));
  }

  private static FloatVector c4(FloatVector a, FloatVector b) {
    return a.blend(b, M4).add(b.blend(a, M4).rearrange(X4));
  }

  private static FloatVector c8(FloatVector a, FloatVector b) {
    return a.blend(b, M8).add(b.blend(a, M8).rearrange(X8));
  }

  private void backward4(int batch, MemorySegment wts, long off, float alpha, float[] hSave,
      float[] dSave, int so, float[] dh, float[] gW, float[] gb, float[] g) {
    scale4(alpha, dh, dSave, so, g);
    row4(batch, hSave, so, g, 0);
    row4(batch, hSave, so, g, 1);
    row4(batch, hSave, so, g, 2);
    row4(batch, hSave, so, g, 3);
    finish4(gW);
    bias4(batch, g, gb);
    dh4(batch, wts, off, g, dh, 0);
    dh4(batch, wts, off, g, dh, 1);
    dh4(batch, wts, off, g, dh, 2);
    dh4(batch, wts, off, g, dh, 3);
  }

  private static void scale4(float alpha, float[] dh, float[] dSave, int so, float[] g) {
    for (int k = 0; k < 64; k += 16) {
      FloatVector.fromArray(S, dh, k).mul(alpha).mul(FloatVector.fromArray(S, dSave, so + k))
          .intoArray(g, k);
    }
  }

  /** buf vector i = the first two tree levels of x_i * (g0, g1, g2, g3). */
  private void row4(int batch, float[] hSave, int so, float[] g, int i) {
    FloatVector x = FloatVector.fromArray(S, hSave, so + i * batch);
    FloatVector g0 = FloatVector.fromArray(S, g, 0);
    FloatVector g1 = FloatVector.fromArray(S, g, batch);
    FloatVector g2 = FloatVector.fromArray(S, g, 2 * batch);
    FloatVector g3 = FloatVector.fromArray(S, g, 3 * batch);
    c2(c1(x.mul(g0), x.mul(g1)), c1(x.mul(g2), x.mul(g3))).intoArray(buf, i * V);
  }

  /** The last two tree levels: lane 4i + o of gW. */
  private void finish4(float[] gW) {
    FloatVector q0 = FloatVector.fromArray(S, buf, 0);
    FloatVector q1 = FloatVector.fromArray(S, buf, V);
    FloatVector q2 = FloatVector.fromArray(S, buf, 2 * V);
    FloatVector q3 = FloatVector.fromArray(S, buf, 3 * V);
    c8(c4(q0, q1), c4(q2, q3)).intoArray(gW, 0);
  }

  /** gb[o] = sum_b g_o, as the generic tree pads four vectors with zeros. */
  private static void bias4(int batch, float[] g, float[] gb) {
    FloatVector g0 = FloatVector.fromArray(S, g, 0);
    FloatVector g1 = FloatVector.fromArray(S, g, batch);
    FloatVector g2 = FloatVector.fromArray(S, g, 2 * batch);
    FloatVector g3 = FloatVector.fromArray(S, g, 3 * batch);
    FloatVector zero = FloatVector.zero(S);
    c8(c4(c2(c1(g0, g1), c1(g2, g3)), zero), zero).intoArray(gb, 0, FIRST4);
  }

  /** dh_i = fma(g_o, W[i][o], dh_i) for o = 0..3 (the scalar order). */
  private static void dh4(int batch, MemorySegment wts, long off, float[] g, float[] dh,
      int i) {
    int r = 4 * i;
    FloatVector acc = FloatVector.fromArray(S, dh, i * batch);
    for (int o = 0; o < 4; o++) {
      FloatVector wio = FloatVector.broadcast(S, w(wts, off, r + o));
      acc = FloatVector.fromArray(S, g, o * batch).fma(wio, acc);
    }
    acc.intoArray(dh, i * batch);
  }

  /** g = alpha * dh * act'(z), in the scalar order. */
  private static void scaleGrad(int n, float alpha, float[] dh, float[] dSave, int saveOff,
      float[] g) {
    scaleGrad(n, alpha, dh, dSave, saveOff, g, 0);
  }

  /** {@link #scaleGrad} into g from {@code gOff}. */
  private static void scaleGrad(int n, float alpha, float[] dh, float[] dSave, int saveOff,
      float[] g, int gOff) {
    int k = 0;
    // whole vectors without masks (computing a mask each time costs at 256 bits), then the tail
    for (; k + V <= n; k += V) {
      FloatVector.fromArray(S, dh, k).mul(alpha)
          .mul(FloatVector.fromArray(S, dSave, saveOff + k)).intoArray(g, gOff + k);
    }
    if (k < n) {
      VectorMask<Float> m = S.indexInRange(k, n);
      FloatVector.fromArray(S, dh, k, m).mul(alpha)
          .mul(FloatVector.fromArray(S, dSave, saveOff + k, m)).intoArray(g, gOff + k, m);
    }
  }

  /** gW[i][o] = sum_b hSave[i][b] g[o][b]: V weights at a time through the tree. */
  private void weightGrads(int w, int batch, float[] hSave, int saveOff, float[] g,
      float[] gW) {
    int ww = w * w;
    for (int p0 = 0; p0 < ww; p0 += V) {
      int cnt = Math.min(V, ww - p0);
      if (V == 16 && cnt == 16 && batch % 16 == 0) {
        weightGrads16(w, batch, hSave, saveOff, g, gW, p0);
        continue;
      }
      for (int j = 0; j < cnt; j++) {
        int p = p0 + j;
        products(hSave, saveOff + (p / w) * batch, g, (p % w) * batch, batch, j);
      }
      treeReduce(cnt, gW, p0);
    }
  }

  /**
   * Sixteen of the weight gradients, gW[p0 .. p0 + 15] (p = i W + o), at 512 bits and a batch
   * of whole vectors (masked loads check each lane's bounds, and cost more than the sums): the
   * products summed over the blocks of samples and the transpose-and-add tree all in registers,
   * with {@link #products} and {@link #treeReduce}'s operations and pairing (so the same bits):
   * those make a call and a trip through {@code buf} for each of the sixteen.
   */
  private static void weightGrads16(int w, int batch, float[] hSave, int so, float[] g,
      float[] gW, int p0) {
    // where each of the sixteen products reads its input feature and its g (counted up from
    // p0's row and column: sixteen integer divisions cost more than the sums)
    int[] xo = new int[16];
    int[] go = new int[16];
    int row = p0 / w;
    int col = p0 - row * w;
    for (int j = 0; j < 16; j++) {
      xo[j] = so + row * batch;
      go[j] = col * batch;
      if (++col == w) {
        col = 0;
        row++;
      }
    }
    FloatVector zero = FloatVector.zero(S);
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
    for (int b0 = 0; b0 < batch; b0 += 16) {
      v0 = v0.add(FloatVector.fromArray(S, hSave, xo[0] + b0)
          .mul(FloatVector.fromArray(S, g, go[0] + b0)));
      v1 = v1.add(FloatVector.fromArray(S, hSave, xo[1] + b0)
          .mul(FloatVector.fromArray(S, g, go[1] + b0)));
      v2 = v2.add(FloatVector.fromArray(S, hSave, xo[2] + b0)
          .mul(FloatVector.fromArray(S, g, go[2] + b0)));
      v3 = v3.add(FloatVector.fromArray(S, hSave, xo[3] + b0)
          .mul(FloatVector.fromArray(S, g, go[3] + b0)));
      v4 = v4.add(FloatVector.fromArray(S, hSave, xo[4] + b0)
          .mul(FloatVector.fromArray(S, g, go[4] + b0)));
      v5 = v5.add(FloatVector.fromArray(S, hSave, xo[5] + b0)
          .mul(FloatVector.fromArray(S, g, go[5] + b0)));
      v6 = v6.add(FloatVector.fromArray(S, hSave, xo[6] + b0)
          .mul(FloatVector.fromArray(S, g, go[6] + b0)));
      v7 = v7.add(FloatVector.fromArray(S, hSave, xo[7] + b0)
          .mul(FloatVector.fromArray(S, g, go[7] + b0)));
      v8 = v8.add(FloatVector.fromArray(S, hSave, xo[8] + b0)
          .mul(FloatVector.fromArray(S, g, go[8] + b0)));
      v9 = v9.add(FloatVector.fromArray(S, hSave, xo[9] + b0)
          .mul(FloatVector.fromArray(S, g, go[9] + b0)));
      v10 = v10.add(FloatVector.fromArray(S, hSave, xo[10] + b0)
          .mul(FloatVector.fromArray(S, g, go[10] + b0)));
      v11 = v11.add(FloatVector.fromArray(S, hSave, xo[11] + b0)
          .mul(FloatVector.fromArray(S, g, go[11] + b0)));
      v12 = v12.add(FloatVector.fromArray(S, hSave, xo[12] + b0)
          .mul(FloatVector.fromArray(S, g, go[12] + b0)));
      v13 = v13.add(FloatVector.fromArray(S, hSave, xo[13] + b0)
          .mul(FloatVector.fromArray(S, g, go[13] + b0)));
      v14 = v14.add(FloatVector.fromArray(S, hSave, xo[14] + b0)
          .mul(FloatVector.fromArray(S, g, go[14] + b0)));
      v15 = v15.add(FloatVector.fromArray(S, hSave, xo[15] + b0)
          .mul(FloatVector.fromArray(S, g, go[15] + b0)));
    }
    // the tree, with treeReduce's combine at each level
    FloatVector r0 = v0.blend(v1, M1).add(v1.blend(v0, M1).rearrange(X1));
    FloatVector r1 = v2.blend(v3, M1).add(v3.blend(v2, M1).rearrange(X1));
    FloatVector r2 = v4.blend(v5, M1).add(v5.blend(v4, M1).rearrange(X1));
    FloatVector r3 = v6.blend(v7, M1).add(v7.blend(v6, M1).rearrange(X1));
    FloatVector r4 = v8.blend(v9, M1).add(v9.blend(v8, M1).rearrange(X1));
    FloatVector r5 = v10.blend(v11, M1).add(v11.blend(v10, M1).rearrange(X1));
    FloatVector r6 = v12.blend(v13, M1).add(v13.blend(v12, M1).rearrange(X1));
    FloatVector r7 = v14.blend(v15, M1).add(v15.blend(v14, M1).rearrange(X1));
    FloatVector q0 = r0.blend(r1, M2).add(r1.blend(r0, M2).rearrange(X2));
    FloatVector q1 = r2.blend(r3, M2).add(r3.blend(r2, M2).rearrange(X2));
    FloatVector q2 = r4.blend(r5, M2).add(r5.blend(r4, M2).rearrange(X2));
    FloatVector q3 = r6.blend(r7, M2).add(r7.blend(r6, M2).rearrange(X2));
    FloatVector e = q0.blend(q1, M4).add(q1.blend(q0, M4).rearrange(X4));
    FloatVector f = q2.blend(q3, M4).add(q3.blend(q2, M4).rearrange(X4));
    e.blend(f, M8).add(f.blend(e, M8).rearrange(X8)).intoArray(gW, p0);
  }

  /**
   * gW for widths that are a multiple of V (a small matrix product, X^T G): g is transposed to
   * sample-major once, then each row of gW is V outputs at a time, summed over the batch in
   * order from 0 (the scalar kernel's order: bitwise equal to it, no tree). W x W/V x B
   * multiply-adds against W x W trees of B products for {@link #weightGrads}.
   */
  private void weightGradsWide(int w, int batch, float[] hSave, int saveOff, float[] g,
      float[] gW) {
    if (gT.length < w * batch) {
      gT = new float[w * batch];
    }
    // element by element this copy took a quarter of the backward at w16 b16. 16 x 16 blocks
    // by permutes where they fit, else one gather per V outputs of a sample: the backward ran
    // 0.84x with the gathers, and 0.87x (w16) and 0.84x (w32) of that with the permutes (b16,
    // one process alternating)
    if (gIdx.length != V || gIdx[1] != batch) {
      gIdx = new int[V];
      for (int l = 0; l < V; l++) {
        gIdx[l] = l * batch;
      }
    }
    if (V == 16 && batch % 16 == 0) {
      for (int o0 = 0; o0 < w; o0 += 16) {
        for (int b0 = 0; b0 < batch; b0 += 16) {
          transpose16(g, o0 * batch + b0, batch, gT, b0 * w + o0, w);
        }
      }
    } else if (V == 8 && batch % 8 == 0) {
      for (int o0 = 0; o0 < w; o0 += 8) {
        for (int b0 = 0; b0 < batch; b0 += 8) {
          transpose8(g, o0 * batch + b0, batch, gT, b0 * w + o0, w);
        }
      }
    } else {
      for (int b = 0; b < batch; b++) {
        for (int o0 = 0; o0 < w; o0 += V) {
          FloatVector.fromArray(S, g, o0 * batch + b, gIdx, 0).intoArray(gT, b * w + o0);
        }
      }
    }
    int i = 0;
    for (; i + 8 <= w; i += 8) {
      wideRows8(w, batch, hSave, saveOff + i * batch, gW, i);
    }
    for (; i + 4 <= w; i += 4) {
      wideRows4(w, batch, hSave, saveOff + i * batch, gW, i);
    }
    for (; i < w; i++) {
      int hi = saveOff + i * batch;
      for (int o0 = 0; o0 < w; o0 += V) {
        FloatVector acc = FloatVector.zero(S);
        for (int b = 0; b < batch; b++) {
          acc = acc.add(FloatVector.fromArray(S, gT, b * w + o0).mul(hSave[hi + b]));
        }
        acc.intoArray(gW, i * w + o0);
      }
    }
  }

  // Index vectors of transpose16's four stages (stage j exchanges bit j of the row and the
  // lane): lane c of a lower row keeps its lane where bit j of c is 0 and takes the upper row's
  // lane c - 2^j elsewhere; lane c of an upper row takes the lower row's lane c + 2^j where
  // bit j of c is 0 and keeps its own elsewhere (selectFrom: 16 + i is lane i of the second).
  private static final FloatVector TLO0 = transposeIndex(1, false);
  private static final FloatVector THI0 = transposeIndex(1, true);
  private static final FloatVector TLO1 = transposeIndex(2, false);
  private static final FloatVector THI1 = transposeIndex(2, true);
  private static final FloatVector TLO2 = transposeIndex(4, false);
  private static final FloatVector THI2 = transposeIndex(4, true);
  private static final FloatVector TLO3 = transposeIndex(8, false);
  private static final FloatVector THI3 = transposeIndex(8, true);

  private static FloatVector transposeIndex(int d, boolean upper) {
    float[] ix = new float[16];
    for (int c = 0; c < 16; c++) {
      boolean bit = (c & d) != 0;
      ix[c] = upper ? (bit ? 16 + c : c + d) : (bit ? 16 + c - d : c);
    }
    return FloatVector.fromArray(FloatVector.SPECIES_512, ix, 0);
  }

  /**
   * The 8 x 8 block of {@code src} whose row r starts at {@code so + r * ss}, transposed into
   * {@code dst} (row c at {@code dOff + c * ds}), 256-bit vectors only: three stages, each
   * pairing rows d apart (d = 1, 2, 4) and exchanging their lanes d apart by a permute and a
   * blend ({@link Width8V8#updates} transposes with it too). On a Zen 1 EPYC a gather a row
   * cost about 9 ns (w8 b16: 140 of the updates' 345 ns a layer), this about 2 a row.
   */
  static void transpose8(float[] src, int so, int ss, float[] dst, int dOff, int ds) {
    FloatVector v0 = FloatVector.fromArray(S, src, so);
    FloatVector v1 = FloatVector.fromArray(S, src, so + ss);
    FloatVector v2 = FloatVector.fromArray(S, src, so + 2 * ss);
    FloatVector v3 = FloatVector.fromArray(S, src, so + 3 * ss);
    FloatVector v4 = FloatVector.fromArray(S, src, so + 4 * ss);
    FloatVector v5 = FloatVector.fromArray(S, src, so + 5 * ss);
    FloatVector v6 = FloatVector.fromArray(S, src, so + 6 * ss);
    FloatVector v7 = FloatVector.fromArray(S, src, so + 7 * ss);
    FloatVector u0 = v0.blend(v1.rearrange(X1), M1);
    FloatVector u1 = v0.rearrange(X1).blend(v1, M1);
    FloatVector u2 = v2.blend(v3.rearrange(X1), M1);
    FloatVector u3 = v2.rearrange(X1).blend(v3, M1);
    FloatVector u4 = v4.blend(v5.rearrange(X1), M1);
    FloatVector u5 = v4.rearrange(X1).blend(v5, M1);
    FloatVector u6 = v6.blend(v7.rearrange(X1), M1);
    FloatVector u7 = v6.rearrange(X1).blend(v7, M1);
    v0 = u0.blend(u2.rearrange(X2), M2);
    v2 = u0.rearrange(X2).blend(u2, M2);
    v1 = u1.blend(u3.rearrange(X2), M2);
    v3 = u1.rearrange(X2).blend(u3, M2);
    v4 = u4.blend(u6.rearrange(X2), M2);
    v6 = u4.rearrange(X2).blend(u6, M2);
    v5 = u5.blend(u7.rearrange(X2), M2);
    v7 = u5.rearrange(X2).blend(u7, M2);
    v0.blend(v4.rearrange(X4), M4).intoArray(dst, dOff);
    v0.rearrange(X4).blend(v4, M4).intoArray(dst, dOff + 4 * ds);
    v1.blend(v5.rearrange(X4), M4).intoArray(dst, dOff + ds);
    v1.rearrange(X4).blend(v5, M4).intoArray(dst, dOff + 5 * ds);
    v2.blend(v6.rearrange(X4), M4).intoArray(dst, dOff + 2 * ds);
    v2.rearrange(X4).blend(v6, M4).intoArray(dst, dOff + 6 * ds);
    v3.blend(v7.rearrange(X4), M4).intoArray(dst, dOff + 3 * ds);
    v3.rearrange(X4).blend(v7, M4).intoArray(dst, dOff + 7 * ds);
  }

  /**
   * The 16 x 16 block of {@code src} whose row r starts at {@code so + r * ss}, transposed
   * into {@code dst} (row c at {@code dOff + c * ds}): four stages of two-vector permutes, 64
   * in all (a gather per row cost about as much as the gradient products it feeds). 512-bit
   * vectors only.
   */
  private static void transpose16(float[] src, int so, int ss, float[] dst, int dOff, int ds) {
    VectorSpecies<Float> s16 = FloatVector.SPECIES_512;
    FloatVector r0 = FloatVector.fromArray(s16, src, so + 0 * ss);
    FloatVector r1 = FloatVector.fromArray(s16, src, so + 1 * ss);
    FloatVector r2 = FloatVector.fromArray(s16, src, so + 2 * ss);
    FloatVector r3 = FloatVector.fromArray(s16, src, so + 3 * ss);
    FloatVector r4 = FloatVector.fromArray(s16, src, so + 4 * ss);
    FloatVector r5 = FloatVector.fromArray(s16, src, so + 5 * ss);
    FloatVector r6 = FloatVector.fromArray(s16, src, so + 6 * ss);
    FloatVector r7 = FloatVector.fromArray(s16, src, so + 7 * ss);
    FloatVector r8 = FloatVector.fromArray(s16, src, so + 8 * ss);
    FloatVector r9 = FloatVector.fromArray(s16, src, so + 9 * ss);
    FloatVector r10 = FloatVector.fromArray(s16, src, so + 10 * ss);
    FloatVector r11 = FloatVector.fromArray(s16, src, so + 11 * ss);
    FloatVector r12 = FloatVector.fromArray(s16, src, so + 12 * ss);
    FloatVector r13 = FloatVector.fromArray(s16, src, so + 13 * ss);
    FloatVector r14 = FloatVector.fromArray(s16, src, so + 14 * ss);
    FloatVector r15 = FloatVector.fromArray(s16, src, so + 15 * ss);
    FloatVector q0_0 = TLO0.selectFrom(r0, r1);
    FloatVector q0_1 = THI0.selectFrom(r0, r1);
    FloatVector q0_2 = TLO0.selectFrom(r2, r3);
    FloatVector q0_3 = THI0.selectFrom(r2, r3);
    FloatVector q0_4 = TLO0.selectFrom(r4, r5);
    FloatVector q0_5 = THI0.selectFrom(r4, r5);
    FloatVector q0_6 = TLO0.selectFrom(r6, r7);
    FloatVector q0_7 = THI0.selectFrom(r6, r7);
    FloatVector q0_8 = TLO0.selectFrom(r8, r9);
    FloatVector q0_9 = THI0.selectFrom(r8, r9);
    FloatVector q0_10 = TLO0.selectFrom(r10, r11);
    FloatVector q0_11 = THI0.selectFrom(r10, r11);
    FloatVector q0_12 = TLO0.selectFrom(r12, r13);
    FloatVector q0_13 = THI0.selectFrom(r12, r13);
    FloatVector q0_14 = TLO0.selectFrom(r14, r15);
    FloatVector q0_15 = THI0.selectFrom(r14, r15);
    FloatVector q1_0 = TLO1.selectFrom(q0_0, q0_2);
    FloatVector q1_2 = THI1.selectFrom(q0_0, q0_2);
    FloatVector q1_1 = TLO1.selectFrom(q0_1, q0_3);
    FloatVector q1_3 = THI1.selectFrom(q0_1, q0_3);
    FloatVector q1_4 = TLO1.selectFrom(q0_4, q0_6);
    FloatVector q1_6 = THI1.selectFrom(q0_4, q0_6);
    FloatVector q1_5 = TLO1.selectFrom(q0_5, q0_7);
    FloatVector q1_7 = THI1.selectFrom(q0_5, q0_7);
    FloatVector q1_8 = TLO1.selectFrom(q0_8, q0_10);
    FloatVector q1_10 = THI1.selectFrom(q0_8, q0_10);
    FloatVector q1_9 = TLO1.selectFrom(q0_9, q0_11);
    FloatVector q1_11 = THI1.selectFrom(q0_9, q0_11);
    FloatVector q1_12 = TLO1.selectFrom(q0_12, q0_14);
    FloatVector q1_14 = THI1.selectFrom(q0_12, q0_14);
    FloatVector q1_13 = TLO1.selectFrom(q0_13, q0_15);
    FloatVector q1_15 = THI1.selectFrom(q0_13, q0_15);
    FloatVector q2_0 = TLO2.selectFrom(q1_0, q1_4);
    FloatVector q2_4 = THI2.selectFrom(q1_0, q1_4);
    FloatVector q2_1 = TLO2.selectFrom(q1_1, q1_5);
    FloatVector q2_5 = THI2.selectFrom(q1_1, q1_5);
    FloatVector q2_2 = TLO2.selectFrom(q1_2, q1_6);
    FloatVector q2_6 = THI2.selectFrom(q1_2, q1_6);
    FloatVector q2_3 = TLO2.selectFrom(q1_3, q1_7);
    FloatVector q2_7 = THI2.selectFrom(q1_3, q1_7);
    FloatVector q2_8 = TLO2.selectFrom(q1_8, q1_12);
    FloatVector q2_12 = THI2.selectFrom(q1_8, q1_12);
    FloatVector q2_9 = TLO2.selectFrom(q1_9, q1_13);
    FloatVector q2_13 = THI2.selectFrom(q1_9, q1_13);
    FloatVector q2_10 = TLO2.selectFrom(q1_10, q1_14);
    FloatVector q2_14 = THI2.selectFrom(q1_10, q1_14);
    FloatVector q2_11 = TLO2.selectFrom(q1_11, q1_15);
    FloatVector q2_15 = THI2.selectFrom(q1_11, q1_15);
    FloatVector q3_0 = TLO3.selectFrom(q2_0, q2_8);
    FloatVector q3_8 = THI3.selectFrom(q2_0, q2_8);
    FloatVector q3_1 = TLO3.selectFrom(q2_1, q2_9);
    FloatVector q3_9 = THI3.selectFrom(q2_1, q2_9);
    FloatVector q3_2 = TLO3.selectFrom(q2_2, q2_10);
    FloatVector q3_10 = THI3.selectFrom(q2_2, q2_10);
    FloatVector q3_3 = TLO3.selectFrom(q2_3, q2_11);
    FloatVector q3_11 = THI3.selectFrom(q2_3, q2_11);
    FloatVector q3_4 = TLO3.selectFrom(q2_4, q2_12);
    FloatVector q3_12 = THI3.selectFrom(q2_4, q2_12);
    FloatVector q3_5 = TLO3.selectFrom(q2_5, q2_13);
    FloatVector q3_13 = THI3.selectFrom(q2_5, q2_13);
    FloatVector q3_6 = TLO3.selectFrom(q2_6, q2_14);
    FloatVector q3_14 = THI3.selectFrom(q2_6, q2_14);
    FloatVector q3_7 = TLO3.selectFrom(q2_7, q2_15);
    FloatVector q3_15 = THI3.selectFrom(q2_7, q2_15);
    q3_0.intoArray(dst, dOff + 0 * ds);
    q3_1.intoArray(dst, dOff + 1 * ds);
    q3_2.intoArray(dst, dOff + 2 * ds);
    q3_3.intoArray(dst, dOff + 3 * ds);
    q3_4.intoArray(dst, dOff + 4 * ds);
    q3_5.intoArray(dst, dOff + 5 * ds);
    q3_6.intoArray(dst, dOff + 6 * ds);
    q3_7.intoArray(dst, dOff + 7 * ds);
    q3_8.intoArray(dst, dOff + 8 * ds);
    q3_9.intoArray(dst, dOff + 9 * ds);
    q3_10.intoArray(dst, dOff + 10 * ds);
    q3_11.intoArray(dst, dOff + 11 * ds);
    q3_12.intoArray(dst, dOff + 12 * ds);
    q3_13.intoArray(dst, dOff + 13 * ds);
    q3_14.intoArray(dst, dOff + 14 * ds);
    q3_15.intoArray(dst, dOff + 15 * ds);
  }

  /** {@link #wideRows4} for eight rows: eight independent sums (four are latency-bound). */
  private void wideRows8(int w, int batch, float[] hSave, int hi, float[] gW, int i) {
    for (int o0 = 0; o0 < w; o0 += V) {
      FloatVector a0 = FloatVector.zero(S);
      FloatVector a1 = a0;
      FloatVector a2 = a0;
      FloatVector a3 = a0;
      FloatVector a4 = a0;
      FloatVector a5 = a0;
      FloatVector a6 = a0;
      FloatVector a7 = a0;
      for (int b = 0; b < batch; b++) {
        FloatVector gv = FloatVector.fromArray(S, gT, b * w + o0);
        a0 = a0.add(gv.mul(hSave[hi + b]));
        a1 = a1.add(gv.mul(hSave[hi + batch + b]));
        a2 = a2.add(gv.mul(hSave[hi + 2 * batch + b]));
        a3 = a3.add(gv.mul(hSave[hi + 3 * batch + b]));
        a4 = a4.add(gv.mul(hSave[hi + 4 * batch + b]));
        a5 = a5.add(gv.mul(hSave[hi + 5 * batch + b]));
        a6 = a6.add(gv.mul(hSave[hi + 6 * batch + b]));
        a7 = a7.add(gv.mul(hSave[hi + 7 * batch + b]));
      }
      a0.intoArray(gW, i * w + o0);
      a1.intoArray(gW, (i + 1) * w + o0);
      a2.intoArray(gW, (i + 2) * w + o0);
      a3.intoArray(gW, (i + 3) * w + o0);
      a4.intoArray(gW, (i + 4) * w + o0);
      a5.intoArray(gW, (i + 5) * w + o0);
      a6.intoArray(gW, (i + 6) * w + o0);
      a7.intoArray(gW, (i + 7) * w + o0);
    }
  }

  /**
   * Rows i .. i + 3 of {@link #weightGradsWide}: four sums over the batch side by side (four
   * independent chains of adds instead of one), each g vector loaded once for them; each sum's
   * terms in the same order, so the same bits.
   */
  private void wideRows4(int w, int batch, float[] hSave, int hi, float[] gW, int i) {
    for (int o0 = 0; o0 < w; o0 += V) {
      FloatVector a0 = FloatVector.zero(S);
      FloatVector a1 = a0;
      FloatVector a2 = a0;
      FloatVector a3 = a0;
      for (int b = 0; b < batch; b++) {
        FloatVector gv = FloatVector.fromArray(S, gT, b * w + o0);
        a0 = a0.add(gv.mul(hSave[hi + b]));
        a1 = a1.add(gv.mul(hSave[hi + batch + b]));
        a2 = a2.add(gv.mul(hSave[hi + 2 * batch + b]));
        a3 = a3.add(gv.mul(hSave[hi + 3 * batch + b]));
      }
      a0.intoArray(gW, i * w + o0);
      a1.intoArray(gW, (i + 1) * w + o0);
      a2.intoArray(gW, (i + 2) * w + o0);
      a3.intoArray(gW, (i + 3) * w + o0);
    }
  }

  /** g transposed to (B, W), for {@link #weightGradsWide}; grown on demand. */
  private float[] gT = new float[0];
  /** The gather's offsets for that transpose: lane l reads output l, {@code l * batch}. */
  private int[] gIdx = new int[0];

  /** gb[o] = sum_b g[o][b]. */
  private void biasGrads(int w, int batch, float[] g, float[] gb) {
    for (int o0 = 0; o0 < w; o0 += V) {
      int cnt = Math.min(V, w - o0);
      for (int j = 0; j < cnt; j++) {
        int go = (o0 + j) * batch;
        FloatVector acc = FloatVector.zero(S);
        int b0 = 0;
        for (; b0 + V <= batch; b0 += V) {
          acc = acc.add(FloatVector.fromArray(S, g, go + b0));
        }
        if (b0 < batch) {
          acc = acc.add(FloatVector.fromArray(S, g, go + b0, S.indexInRange(b0, batch)));
        }
        acc.intoArray(buf, j * V);
      }
      treeReduce(cnt, gb, o0);
    }
  }

  /**
   * dh[i][b] = fma(g[o][b], W[i][o], dh[i][b]), o ascending (the scalar order). Full blocks of
   * V samples and the masked tail are separate methods: one method with both, four masked
   * accumulators and the loops ran C1 out of virtual registers, and the tiered JIT left it in
   * C1's tier 2 (50x slower).
   */
  private void inputGrad(int w, int batch, MemorySegment wts, long off, float[] g,
      float[] dh) {
    float[] lw = layer(w, wts, off);
    int b0 = 0;
    for (; b0 + V <= batch; b0 += V) {
      inputGradBlock(w, batch, b0, lw, g, dh);
    }
    if (b0 < batch) {
      VectorMask<Float> m = S.indexInRange(b0, batch);
      for (int i = 0; i < w; i++) {
        int di = i * batch + b0;
        FloatVector acc = FloatVector.fromArray(S, dh, di, m);
        for (int o = 0; o < w; o++) {
          acc = FloatVector.fromArray(S, g, o * batch + b0, m)
              .fma(FloatVector.broadcast(S, lw[i * w + o]), acc);
        }
        acc.intoArray(dh, di, m);
      }
    }
  }

  /** {@link #inputGrad} for the V samples from b0 (all in range), four inputs at once. */
  private static void inputGradBlock(int w, int batch, int b0, float[] lw, float[] g,
      float[] dh) {
    int i = 0;
    // eight inputs at once, as in affineBlock
    for (; i + 8 <= w; i += 8) {
      int d = i * batch + b0;
      FloatVector a0 = FloatVector.fromArray(S, dh, d);
      FloatVector a1 = FloatVector.fromArray(S, dh, d + batch);
      FloatVector a2 = FloatVector.fromArray(S, dh, d + 2 * batch);
      FloatVector a3 = FloatVector.fromArray(S, dh, d + 3 * batch);
      FloatVector a4 = FloatVector.fromArray(S, dh, d + 4 * batch);
      FloatVector a5 = FloatVector.fromArray(S, dh, d + 5 * batch);
      FloatVector a6 = FloatVector.fromArray(S, dh, d + 6 * batch);
      FloatVector a7 = FloatVector.fromArray(S, dh, d + 7 * batch);
      for (int o = 0; o < w; o++) {
        FloatVector gv = FloatVector.fromArray(S, g, o * batch + b0);
        int r = i * w + o;
        a0 = gv.fma(FloatVector.broadcast(S, lw[r]), a0);
        a1 = gv.fma(FloatVector.broadcast(S, lw[r + w]), a1);
        a2 = gv.fma(FloatVector.broadcast(S, lw[r + 2 * w]), a2);
        a3 = gv.fma(FloatVector.broadcast(S, lw[r + 3 * w]), a3);
        a4 = gv.fma(FloatVector.broadcast(S, lw[r + 4 * w]), a4);
        a5 = gv.fma(FloatVector.broadcast(S, lw[r + 5 * w]), a5);
        a6 = gv.fma(FloatVector.broadcast(S, lw[r + 6 * w]), a6);
        a7 = gv.fma(FloatVector.broadcast(S, lw[r + 7 * w]), a7);
      }
      a0.intoArray(dh, d);
      a1.intoArray(dh, d + batch);
      a2.intoArray(dh, d + 2 * batch);
      a3.intoArray(dh, d + 3 * batch);
      a4.intoArray(dh, d + 4 * batch);
      a5.intoArray(dh, d + 5 * batch);
      a6.intoArray(dh, d + 6 * batch);
      a7.intoArray(dh, d + 7 * batch);
    }
    for (; i + 4 <= w; i += 4) {
      int d = i * batch + b0;
      FloatVector a0 = FloatVector.fromArray(S, dh, d);
      FloatVector a1 = FloatVector.fromArray(S, dh, d + batch);
      FloatVector a2 = FloatVector.fromArray(S, dh, d + 2 * batch);
      FloatVector a3 = FloatVector.fromArray(S, dh, d + 3 * batch);
      for (int o = 0; o < w; o++) {
        FloatVector gv = FloatVector.fromArray(S, g, o * batch + b0);
        int r = i * w + o;
        a0 = gv.fma(FloatVector.broadcast(S, lw[r]), a0);
        a1 = gv.fma(FloatVector.broadcast(S, lw[r + w]), a1);
        a2 = gv.fma(FloatVector.broadcast(S, lw[r + 2 * w]), a2);
        a3 = gv.fma(FloatVector.broadcast(S, lw[r + 3 * w]), a3);
      }
      a0.intoArray(dh, d);
      a1.intoArray(dh, d + batch);
      a2.intoArray(dh, d + 2 * batch);
      a3.intoArray(dh, d + 3 * batch);
    }
    for (; i < w; i++) {
      int d = i * batch + b0;
      FloatVector acc = FloatVector.fromArray(S, dh, d);
      for (int o = 0; o < w; o++) {
        acc = FloatVector.fromArray(S, g, o * batch + b0)
            .fma(FloatVector.broadcast(S, lw[i * w + o]), acc);
      }
      acc.intoArray(dh, d);
    }
  }

  /** buf[j] = lane-wise sum over batch blocks of a[ao + b] * c[co + b] (tails zero). */
  private void products(float[] a, int ao, float[] c, int co, int batch, int j) {
    FloatVector acc = FloatVector.zero(S);
    for (int b0 = 0; b0 < batch; b0 += V) {
      VectorMask<Float> m = S.indexInRange(b0, batch);
      acc = acc.add(FloatVector.fromArray(S, a, ao + b0, m)
          .mul(FloatVector.fromArray(S, c, co + b0, m)));
    }
    acc.intoArray(buf, j * V);
  }

  /**
   * Transpose-and-add: out[outOff + j] = sum of the lanes of buf vector j, for j < cnt.
   * Level d combines vectors a, b into one whose lanes with bit d clear hold a[l] + a[l^d]
   * and with bit d set b[l] + b[l^d]; after log2(V) levels lane l holds the sum of vector l.
   */
  private void treeReduce(int cnt, float[] out, int outOff) {
    for (int j = cnt; j < V; j++) {
      FloatVector.zero(S).intoArray(buf, j * V);
    }
    // levels unrolled, each naming its mask and shuffle directly: the intrinsics need them
    // as constants (passed as parameters they fall back to boxed Java code)
    if (V >= 2) {
      level1(V);
    }
    if (V >= 4) {
      level2(V / 2);
    }
    if (V >= 8) {
      level4(V / 4);
    }
    if (V >= 16) {
      level8(V / 8);
    }
    // scalar tail: copy the first cnt sums out
    System.arraycopy(buf, 0, out, outOff, cnt);
  }

  /** Tree level at lane distance 1: vectors 2j, 2j+1 of buf combine into vector j. */
  private void level1(int vectors) {
    for (int j = 0; j < vectors / 2; j++) {
      FloatVector a = FloatVector.fromArray(S, buf, 2 * j * V);
      FloatVector b = FloatVector.fromArray(S, buf, (2 * j + 1) * V);
      a.blend(b, M1).add(b.blend(a, M1).rearrange(X1)).intoArray(buf, j * V);
    }
  }

  /** Tree level at lane distance 2: vectors 2j, 2j+1 of buf combine into vector j. */
  private void level2(int vectors) {
    for (int j = 0; j < vectors / 2; j++) {
      FloatVector a = FloatVector.fromArray(S, buf, 2 * j * V);
      FloatVector b = FloatVector.fromArray(S, buf, (2 * j + 1) * V);
      a.blend(b, M2).add(b.blend(a, M2).rearrange(X2)).intoArray(buf, j * V);
    }
  }

  /** Tree level at lane distance 4: vectors 2j, 2j+1 of buf combine into vector j. */
  private void level4(int vectors) {
    for (int j = 0; j < vectors / 2; j++) {
      FloatVector a = FloatVector.fromArray(S, buf, 2 * j * V);
      FloatVector b = FloatVector.fromArray(S, buf, (2 * j + 1) * V);
      a.blend(b, M4).add(b.blend(a, M4).rearrange(X4)).intoArray(buf, j * V);
    }
  }

  /** Tree level at lane distance 8: vectors 2j, 2j+1 of buf combine into vector j. */
  private void level8(int vectors) {
    for (int j = 0; j < vectors / 2; j++) {
      FloatVector a = FloatVector.fromArray(S, buf, 2 * j * V);
      FloatVector b = FloatVector.fromArray(S, buf, (2 * j + 1) * V);
      a.blend(b, M8).add(b.blend(a, M8).rearrange(X8)).intoArray(buf, j * V);
    }
  }

  @Override
  public void sgdUpdate(int w, MemorySegment wts, long off, float lr, float[] gW, float[] gb) {
    int ww = w * w;
    update(wts, off, ww, lr, gW);
    update(wts, off + 4L * ww, w, lr, gb);
  }

  /** p -= lr * g over n floats at off (scalar order: p - lr*g). */
  private static void update(MemorySegment wts, long off, int n, float lr, float[] g) {
    int k = 0;
    // vector body
    for (; k <= n - V; k += V) {
      long p = off + 4L * k;
      FloatVector.fromMemorySegment(S, wts, p, LE)
          .sub(FloatVector.fromArray(S, g, k).mul(lr)).intoMemorySegment(wts, p, LE);
    }
    // scalar tail
    for (; k < n; k++) {
      long p = off + 4L * k;
      wts.set(F32, p, wts.get(F32, p) - lr * g[k]);
    }
  }
}
