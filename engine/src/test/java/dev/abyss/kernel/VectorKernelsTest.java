package dev.abyss.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The vector kernels against the scalar oracle, every width from the issue plus odd ones,
 * batch sizes around the lane count, every activation. Run by the build at the preferred
 * width and again at 128, 256 and 512 bits ({@code -Dabyss.vectorBits}).
 *
 * <p>Stated agreement: forward outputs, saved act'(z), dh and SGD updates are bitwise equal
 * for every activation (same operation order; tanh is TanhMath in both). Gradient sums gW, gb use a tree order: |vector -
 * scalar| <= (B + 8) * 2^-24 * sum|terms|; with batch 1, dh sums over W through the tree too:
 * |vector - scalar| <= (W + 8) * 2^-24 * (|dh| + sum|terms|).
 */
class VectorKernelsTest {
  static final int[] WIDTHS = {1, 2, 3, 4, 5, 8, 16, 17, 32, 64};

  @Test
  void vectorAgreesWithScalar() {
    int v = VectorKernels.V;
    int[] batches = {1, 2, 3, v - 1, v, v + 1, 16, 2 * v + 3};
    VectorKernels vk = new VectorKernels();
    ScalarKernels sk = new ScalarKernels();
    System.out.println("vector kernels under test: " + vk.name());
    SplittableRandom r = new SplittableRandom(2024);
    int cases = 0;
    try (Arena arena = Arena.ofConfined()) {
      for (int w : WIDTHS) {
        for (int batch : batches) {
          if (batch < 1) {
            continue;
          }
          for (Activation act : Activation.values()) {
            check(arena, r, vk, sk, w, batch, act);
            cases++;
          }
        }
      }
    }
    System.out.println("vector vs scalar: " + cases + " cases agree at " + vk.name());
  }

  /** Chunk-level kernels give the bits of the per-layer calls (width 4 has its own path). */
  @Test
  void chunkKernelsEqualPerLayerCalls() {
    int v = VectorKernels.V;
    SplittableRandom r = new SplittableRandom(7);
    for (Kernels k : new Kernels[] {new VectorKernels(), new ScalarKernels()}) {
      try (Arena arena = Arena.ofConfined()) {
        for (int w : new int[] {1, 2, 3, 4, 5, 8, 16, 32}) {
          for (int batch : new int[] {1, 3, v - 1, v, v + 1, 16, 2 * v + 5, 32, 48, 64, 80, 96}) {
            for (Activation act : Activation.values()) {
              int count = 37;
              int n = w * batch;
              long lb = Kernels.layerBytes(w);
              MemorySegment ws = layers(arena, r, count, w);
              // tanh: inputs that reach both of its branches and its clamp
              float[] h = rand(r, n, act == Activation.TANH ? 12f : 2f);
              float[] a = h.clone();
              float[] b = h.clone();
              float[] z = new float[n];
              k.forwardChunk(w, batch, ws, 8, count, 0.2f, act, a, z);
              for (int l = 0; l < count; l++) {
                k.residualForward(w, batch, ws, 8 + l * lb, 0.2f, act, b, z);
              }
              String where = k.name() + " " + act + " w" + w + " b" + batch;
              assertEquals(-1, java.util.Arrays.mismatch(a, b), where + " forwardChunk");
              float[] hs1 = new float[count * n];
              float[] ds1 = new float[count * n];
              float[] hs2 = new float[count * n];
              float[] ds2 = new float[count * n];
              a = h.clone();
              b = h.clone();
              k.forwardSaveChunk(w, batch, ws, 8, count, 0.2f, act, a, z, hs1, ds1);
              for (int l = 0; l < count; l++) {
                k.residualForwardSave(w, batch, ws, 8 + l * lb, 0.2f, act, b, z, hs2, ds2, l * n);
              }
              assertEquals(-1, java.util.Arrays.mismatch(a, b), where + " forwardSaveChunk h");
              assertEquals(-1, java.util.Arrays.mismatch(hs1, hs2), where + " saved h");
              assertEquals(-1, java.util.Arrays.mismatch(ds1, ds2), where + " saved act'");
              pairIsTwoCalls(arena, r, k, w, batch, act, where);
              float[] grads = backwardIsPerLayerCalls(arena, r, k, w, batch, ws, count, hs1, ds1,
                  where);
              float[] gW = new float[w * w];
              float[] gb = new float[w];
              float[] g = new float[n];
              // with a hand-off: run once, dh final by then, the same bits; and before the
              // updates exactly where the kernels say so (the threads' turns count on it)
              MemorySegment w3 = arena.allocate(ws.byteSize(), 4).copyFrom(ws);
              float[] dh3 = rand(r, n, 1f);
              float[] dh4 = dh3.clone();
              MemorySegment w4 = arena.allocate(ws.byteSize(), 4).copyFrom(ws);
              k.backwardUpdateChunk(w, batch, w4, 8, count, 0.2f, 0.05f, hs1, ds1, dh4, gW, gb,
                  g, grads);
              float[] grads3 = new float[grads.length];
              float[][] atHandOff = new float[1][];
              boolean[] updatedBefore = new boolean[1];
              k.backwardUpdateChunk(w, batch, w3, 8, count, 0.2f, 0.05f, hs1, ds1, dh3, gW, gb,
                  g, grads3, () -> {
                    assertNull(atHandOff[0], where + " hand-off ran twice");
                    atHandOff[0] = dh3.clone();
                    updatedBefore[0] = w3.mismatch(ws) >= 0;
                  });
              assertNotNull(atHandOff[0], where + " hand-off never ran");
              assertEquals(-1, java.util.Arrays.mismatch(atHandOff[0], dh3),
                  where + " dh changed after the hand-off");
              assertEquals(-1, java.util.Arrays.mismatch(dh3, dh4), where + " hand-off dh");
              assertEquals(-1, w3.mismatch(w4), where + " hand-off weights");
              assertEquals(-1, java.util.Arrays.mismatch(grads3, grads), where + " hand-off grads");
              if (k.handsOffBeforeUpdates(w, batch)) {
                assertFalse(updatedBefore[0], where + " weights updated before the hand-off");
              }
            }
          }
        }
      }
    }
  }

  /**
   * Two segments recomputed in one call ({@code forwardSaveChunkPair}: the two-chain kernel
   * for width 4, batch 16, softsign at 512 bits, two calls elsewhere) give the bits of two
   * {@code forwardSaveChunk} calls, whatever the two segments' order in the core.
   */
  private static void pairIsTwoCalls(Arena arena, SplittableRandom r, Kernels k, int w,
      int batch, Activation act, String where) {
    int count = 29;
    int n = w * batch;
    long lb = Kernels.layerBytes(w);
    MemorySegment ws = layers(arena, r, 2 * count + 3, w);
    float[] ha = rand(r, n, act == Activation.TANH ? 12f : 2f);
    float[] hb = rand(r, n, 2f);
    for (long[] off : new long[][] {{4, 4 + (count + 3) * lb}, {4 + (count + 3) * lb, 4}}) {
      float[] a1 = ha.clone();
      float[] b1 = hb.clone();
      float[][] s1 = new float[4][count * n];
      k.forwardSaveChunk(w, batch, ws, off[0], count, 0.2f, act, a1, new float[n], s1[0], s1[1]);
      k.forwardSaveChunk(w, batch, ws, off[1], count, 0.2f, act, b1, new float[n], s1[2], s1[3]);
      float[] a2 = ha.clone();
      float[] b2 = hb.clone();
      float[][] s2 = new float[4][count * n];
      k.forwardSaveChunkPair(w, batch, ws, off[0], off[1], count, 0.2f, act, a2, b2,
          new float[n], s2[0], s2[1], s2[2], s2[3]);
      String what = where + " pair at " + off[0] + ", " + off[1];
      assertEquals(-1, java.util.Arrays.mismatch(a1, a2), what + ": first h");
      assertEquals(-1, java.util.Arrays.mismatch(b1, b2), what + ": second h");
      for (int i = 0; i < 4; i++) {
        assertEquals(-1, java.util.Arrays.mismatch(s1[i], s2[i]), what + ": saves " + i);
      }
    }
    if (k instanceof VectorKernels && w == 4 && batch == 16 && act == Activation.SOFTSIGN) {
      assertEquals(VectorKernels.V == 16, k.recomputesInPairs(w, batch, act),
          where + ": the two-chain recompute is the 512-bit width-4 kernel's");
    }
  }

  /**
   * A forward pass split by samples between two threads ({@code forwardChunkSamples}, each half
   * on its own, in either order) gives the whole batch's bits: the width-4 batch-16 half kernel
   * at 512 bits, the copying default elsewhere.
   */
  @Test
  void forwardHalvesGiveTheWholeBatchsBits() {
    SplittableRandom r = new SplittableRandom(13);
    int split = 0;
    for (Kernels k : new Kernels[] {new VectorKernels(), new ScalarKernels()}) {
      try (Arena arena = Arena.ofConfined()) {
        for (int w : new int[] {1, 2, 4, 5, 8}) {
          for (int batch : new int[] {2, 3, 16, 17, 32, 64}) {
            for (Activation act : Activation.values()) {
              int count = 301;
              int n = w * batch;
              MemorySegment ws = layers(arena, r, count, w);
              float[] h = rand(r, n, act == Activation.TANH ? 12f : 2f);
              float[] whole = h.clone();
              k.forwardChunk(w, batch, ws, 8, count, 0.3f, act, whole, new float[n]);
              float[] halves = h.clone();
              int mid = batch / 2;
              k.forwardChunkSamples(w, batch, ws, 8, count, 0.3f, act, halves, mid, batch);
              k.forwardChunkSamples(w, batch, ws, 8, count, 0.3f, act, halves, 0, mid);
              String where = k.name() + " " + act + " w" + w + " b" + batch;
              assertEquals(-1, java.util.Arrays.mismatch(whole, halves), where);
              assertTrue(java.util.Arrays.mismatch(whole, h) >= 0, where + " changed nothing");
              if (k.splitsForward(w, batch, act)) {
                split++;
              }
            }
          }
        }
      }
    }
    if (VectorKernels.S == jdk.incubator.vector.FloatVector.SPECIES_512) {
      // w4 and w8 at b16 with softsign, and at b32 and b64 with every activation
      assertEquals(2 + 2 * 2 * Activation.values().length, split,
          "the shapes with kernels of their own for the halves");
    }
  }

  /**
   * The split of a batch-16 forward follows the warm-up's timing: the halves are used when
   * their median time is under 0.9 of the whole batch's, and a warm-up where the halves have a
   * kernel of their own records which. Other shapes keep {@code splitsForward}.
   */
  @Test
  void forwardSplitFollowsTheWarmUpsTiming() {
    double[] whole = new double[9];
    double[] faster = new double[9];
    double[] slower = new double[9];
    for (int i = 0; i < 9; i++) {
      whole[i] = 200 + i;
      faster[i] = 150 + i;
      slower[i] = 185 + i;
    }
    // outliers (a preemption) on the halves' side do not move the median
    faster[0] = 5_000;
    faster[1] = 6_000;
    assertTrue(VectorKernels.halvesPay(whole, faster), "median 0.77 of the whole");
    assertFalse(VectorKernels.halvesPay(whole, slower), "median 0.92 of the whole");
    assertFalse(VectorKernels.halvesPay(whole, whole.clone()), "a tie");

    VectorKernels k = new VectorKernels();
    int key = VectorKernels.splitKey(4, Activation.SOFTSIGN);
    Boolean before = VectorKernels.SPLIT_PAYS.remove(key);
    try {
      assertEquals(k.splitsForward(4, 16, Activation.SOFTSIGN),
          k.forwardSplitPays(4, 16, Activation.SOFTSIGN), "not measured: the kernels' say");
      if (!k.splitsForward(4, 16, Activation.SOFTSIGN)) {
        assertFalse(k.forwardSplitPays(4, 16, Activation.SOFTSIGN));
        return;
      }
      k.warmUp(4, 16, Activation.SOFTSIGN);
      Boolean pays = VectorKernels.SPLIT_PAYS.get(key);
      assertNotNull(pays, "the warm-up timed the halves");
      assertEquals(pays, k.forwardSplitPays(4, 16, Activation.SOFTSIGN));
      assertEquals(pays, new VectorKernels().forwardSplitPays(4, 16, Activation.SOFTSIGN),
          "for every instance in the process");
      VectorKernels.SPLIT_PAYS.put(key, false);
      assertFalse(k.forwardSplitPays(4, 16, Activation.SOFTSIGN));
      assertTrue(k.forwardSplitPays(4, 32, Activation.SOFTSIGN), "batch 32 splits its groups");
      VectorKernels.SPLIT_PAYS.put(key, true);
      assertTrue(k.forwardSplitPays(4, 16, Activation.SOFTSIGN));
    } finally {
      // the other tests' trainers split as the kernels say
      if (before == null) {
        VectorKernels.SPLIT_PAYS.remove(key);
      } else {
        VectorKernels.SPLIT_PAYS.put(key, before);
      }
    }
  }

  /**
   * The same once the JIT has compiled the halves: thousands of short calls, compared call by
   * call. A first version of the half kernel moved h in and out with the Vector API's gather
   * and scatter; it passed the test above (interpreted) and gave wrong lanes from about the
   * 3,000th call, when C2 had compiled it.
   */
  @Test
  void forwardHalvesGiveTheWholeBatchsBitsOnceCompiled() {
    for (int w : new int[] {4, 8}) {
      halvesOnceCompiled(w, 16, 16, 20_000);
    }
  }

  /**
   * The same at batch 32 over more layers than a block of weights (at 256 bits the whole
   * batch's forward runs {@link Width4V8#forwardSoftsignSkewed} a block at a time, the halves
   * {@link Width4V8#forwardSoftsign2} from the segment).
   */
  @Test
  void blockedForwardGivesTheHalvesBitsOnceCompiled() {
    halvesOnceCompiled(4, 32, Width4V8.BLOCK + 45, 3_000);
  }

  /**
   * The backward over more layers than two blocks of weights (at 256 bits the dh chains of
   * widths 4 and 8 read the weights from a block copied from the segment, the last block
   * first) gives the per-layer calls' bits: dh, every layer's gradients, the weights.
   */
  @Test
  void backwardOverBlocksEqualsPerLayerCalls() {
    SplittableRandom r = new SplittableRandom(19);
    Kernels k = new VectorKernels();
    int count = 2 * Width4V8.BLOCK + 45;
    try (Arena arena = Arena.ofConfined()) {
      for (int w : new int[] {4, 8}) {
        for (int batch : new int[] {16, 32}) {
          int n = w * batch;
          MemorySegment ws = layers(arena, r, count, w);
          float[] hs = new float[count * n];
          float[] ds = new float[count * n];
          k.forwardSaveChunk(w, batch, ws, 8, count, 0.2f, Activation.SOFTSIGN, rand(r, n, 2f),
              new float[n], hs, ds);
          backwardIsPerLayerCalls(arena, r, k, w, batch, ws, count, hs, ds,
              k.name() + " w" + w + " b" + batch);
        }
      }
    }
  }

  /**
   * {@code backwardUpdateChunk} over {@code count} layers from byte 8 of {@code ws} (on a copy)
   * against per-layer backward and update calls (on another), from the same random dh: the
   * same dh, every layer's gradients and the weights, bit for bit, and the weights changed;
   * and the chunk call without gradients (on a third) the same dh and weights. Returns the
   * chunk call's gradients.
   */
  private static float[] backwardIsPerLayerCalls(Arena arena, SplittableRandom r, Kernels k,
      int w, int batch, MemorySegment ws, int count, float[] hs, float[] ds, String where) {
    int n = w * batch;
    long lb = Kernels.layerBytes(w);
    int lf = Kernels.layerFloats(w);
    MemorySegment w1 = arena.allocate(ws.byteSize(), 4).copyFrom(ws);
    MemorySegment w2 = arena.allocate(ws.byteSize(), 4).copyFrom(ws);
    float[] dh1 = rand(r, n, 1f);
    float[] dh2 = dh1.clone();
    float[] dh0 = dh1.clone();
    float[] gW = new float[w * w];
    float[] gb = new float[w];
    float[] g = new float[n];
    float[] grads = new float[count * lf + 16];
    k.backwardUpdateChunk(w, batch, w1, 8, count, 0.2f, 0.05f, hs, ds, dh1, gW, gb, g, grads);
    for (int l = count - 1; l >= 0; l--) {
      k.residualBackward(w, batch, w2, 8 + l * lb, 0.2f, hs, ds, l * n, dh2, gW, gb, g);
      k.sgdUpdate(w, w2, 8 + l * lb, 0.05f, gW, gb);
      assertEquals(-1, java.util.Arrays.mismatch(gW, 0, w * w, grads, l * lf, l * lf + w * w),
          where + " grads gW layer " + l);
      assertEquals(-1, java.util.Arrays.mismatch(gb, 0, w, grads, l * lf + w * w, l * lf + lf),
          where + " grads gb layer " + l);
    }
    assertEquals(-1, java.util.Arrays.mismatch(dh1, dh2), where + " backwardUpdate dh");
    assertEquals(-1, w1.mismatch(w2), where + " backwardUpdate weights");
    assertTrue(w1.mismatch(ws) >= 0, where + " the update changed nothing");
    // without the gradients (a step without diagnostics): the same update and dh
    MemorySegment w0 = arena.allocate(ws.byteSize(), 4).copyFrom(ws);
    k.backwardUpdateChunk(w, batch, w0, 8, count, 0.2f, 0.05f, hs, ds, dh0, gW, gb, g, null);
    assertEquals(-1, java.util.Arrays.mismatch(dh0, dh1), where + " dh without gradients");
    assertEquals(-1, w0.mismatch(w1), where + " weights without gradients");
    return grads;
  }

  private static void halvesOnceCompiled(int w, int batch, int count, int calls) {
    Kernels k = new VectorKernels();
    int n = w * batch;
    int half = batch / 2;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment ws = arena.allocate(count * Kernels.layerBytes(w), 64);
      SplittableRandom r = new SplittableRandom(17);
      for (long o = 0; o < ws.byteSize(); o += 4) {
        ws.set(Kernels.F32, o, (float) (r.nextDouble() - 0.5) * 1.4f);
      }
      for (int call = 0; call < calls; call++) {
        float[] h = rand(r, n, 2f);
        float[] whole = h.clone();
        k.forwardChunk(w, batch, ws, 0, count, 0.1f, Activation.SOFTSIGN, whole, new float[n]);
        k.forwardChunkSamples(w, batch, ws, 0, count, 0.1f, Activation.SOFTSIGN, h, 0, half);
        k.forwardChunkSamples(w, batch, ws, 0, count, 0.1f, Activation.SOFTSIGN, h, half,
            batch);
        int m = java.util.Arrays.mismatch(whole, h);
        if (m >= 0) {
          throw new AssertionError("w" + w + " b" + batch + ", call " + call + ", float " + m + ": " + h[m]
              + " against " + whole[m] + " (" + k.name() + ")");
        }
      }
    }
  }

  /**
   * One instance that runs the padded path (widths 4 and 8 at a batch that is not a multiple of
   * 16) at one shape and then at another, over more layers than the chunk test: the scratch
   * follows the shape (the gradients a segment of width 8 writes need more room than width
   * 4's), and the results are a fresh instance's.
   */
  @Test
  void paddedScratchFollowsTheShape() {
    SplittableRandom r = new SplittableRandom(11);
    Kernels reused = new VectorKernels();
    try (Arena arena = Arena.ofConfined()) {
      for (int[] wb : new int[][] {{4, 37}, {8, 3}, {4, 5}, {8, 24}}) {
        int w = wb[0];
        int batch = wb[1];
        int count = 600;
        int n = w * batch;
        long lb = Kernels.layerBytes(w);
        MemorySegment ws = arena.allocate(count * lb, 4);
        for (long o = 0; o < ws.byteSize(); o += 4) {
          ws.set(Kernels.F32, o, (float) (r.nextDouble() - 0.5));
        }
        MemorySegment w1 = arena.allocate(ws.byteSize(), 4).copyFrom(ws);
        MemorySegment w2 = arena.allocate(ws.byteSize(), 4).copyFrom(ws);
        float[] h = rand(r, n, 2f);
        float[] dh = rand(r, n, 1f);
        int lf = Kernels.layerFloats(w);
        float[][] out = new float[2][];
        float[][] dhs = new float[2][];
        float[][] grads = new float[2][];
        Kernels[] ks = {reused, new VectorKernels()};
        MemorySegment[] segs = {w1, w2};
        for (int v = 0; v < 2; v++) {
          float[] hh = h.clone();
          float[] hs = new float[count * n];
          float[] ds = new float[count * n];
          ks[v].forwardSaveChunk(w, batch, segs[v], 0, count, 0.2f, Activation.SOFTSIGN, hh,
              new float[n], hs, ds);
          dhs[v] = dh.clone();
          grads[v] = new float[count * lf];
          ks[v].backwardUpdateChunk(w, batch, segs[v], 0, count, 0.2f, 0.05f, hs, ds, dhs[v],
              new float[w * w], new float[w], new float[n], grads[v]);
          out[v] = hh;
        }
        String where = "w" + w + " b" + batch;
        assertEquals(-1, java.util.Arrays.mismatch(out[0], out[1]), where + " h");
        assertEquals(-1, java.util.Arrays.mismatch(dhs[0], dhs[1]), where + " dh");
        assertEquals(-1, java.util.Arrays.mismatch(grads[0], grads[1]), where + " grads");
        assertEquals(-1, w1.mismatch(w2), where + " weights");
      }
    }
  }

  /**
   * Batch 1 at widths up to 8 runs the scalar kernels' operations in both kernel sets ({@link
   * Width2}, {@link Narrow}): a training step's three chunk calls give the same bits.
   */
  @Test
  void batch1AtNarrowWidthsIsBitwiseTheScalarOracle() {
    SplittableRandom r = new SplittableRandom(11);
    Kernels vk = new VectorKernels();
    Kernels sk = new ScalarKernels();
    try (Arena arena = Arena.ofConfined()) {
      for (int w = 1; w <= Narrow.MAX_WIDTH; w++) {
        for (Activation act : Activation.values()) {
          int count = 29;
          long lb = Kernels.layerBytes(w);
          MemorySegment ws = arena.allocate(count * lb + 4, 4);
          for (long o = 0; o < ws.byteSize(); o += 4) {
            ws.set(Kernels.F32, o, (float) (r.nextDouble() - 0.5));
          }
          MemorySegment wv = arena.allocate(ws.byteSize(), 4).copyFrom(ws);
          float[] h = rand(r, w, 2f);
          float[] hv = h.clone();
          float[] z = new float[w];
          String where = act + " w" + w;
          sk.forwardChunk(w, 1, ws, 4, count, 0.3f, act, h, z);
          vk.forwardChunk(w, 1, wv, 4, count, 0.3f, act, hv, z);
          assertEquals(-1, java.util.Arrays.mismatch(h, hv), where + " forward");
          float[] hs1 = new float[count * w];
          float[] ds1 = new float[count * w];
          float[] hs2 = new float[count * w];
          float[] ds2 = new float[count * w];
          sk.forwardSaveChunk(w, 1, ws, 4, count, 0.3f, act, h, z, hs1, ds1);
          vk.forwardSaveChunk(w, 1, wv, 4, count, 0.3f, act, hv, z, hs2, ds2);
          assertEquals(-1, java.util.Arrays.mismatch(hs1, hs2), where + " saved h");
          assertEquals(-1, java.util.Arrays.mismatch(ds1, ds2), where + " saved act'");
          float[] dh = rand(r, w, 1f);
          float[] dhv = dh.clone();
          float[] gW = new float[w * w];
          float[] gb = new float[w];
          sk.backwardUpdateChunk(w, 1, ws, 4, count, 0.3f, 0.05f, hs1, ds1, dh, gW, gb,
              new float[w], null);
          vk.backwardUpdateChunk(w, 1, wv, 4, count, 0.3f, 0.05f, hs2, ds2, dhv, gW, gb,
              new float[w], null);
          assertEquals(-1, java.util.Arrays.mismatch(dh, dhv), where + " dh");
          assertEquals(-1, ws.mismatch(wv), where + " updated weights");
        }
      }
    }
  }

  /**
   * At 512 bits the weight gradients of widths below 16 are sums of 16 lanes by the
   * transpose-and-add tree: each lane first summed over the blocks of 16 samples from zero in
   * order, then the lanes pairwise, (l0 + l1) + (l2 + l3) and so on up. Emulated here in scalar
   * floats, the result must match bit for bit (it pins the in-register version against the
   * tree it replaces).
   */
  @Test
  void weightGradientsAreThePairwiseTreeOfLaneSums() {
    if (VectorKernels.V != 16) {
      return; // the tree is that of 512-bit vectors; other widths have their own
    }
    SplittableRandom r = new SplittableRandom(5);
    VectorKernels vk = new VectorKernels();
    try (Arena arena = Arena.ofConfined()) {
      for (int w : new int[] {3, 5, 8}) {
        for (int batch : new int[] {16, 32, 48}) {
          int n = w * batch;
          MemorySegment ws = arena.allocate(Kernels.layerBytes(w), 4);
          for (long o = 0; o < ws.byteSize(); o += 4) {
            ws.set(Kernels.F32, o, (float) (r.nextDouble() - 0.5));
          }
          float[] hSave = rand(r, n, 2f);
          float[] dSave = rand(r, n, 1f);
          float[] dh = rand(r, n, 1f);
          float[] g = new float[n];
          float[] gW = new float[w * w];
          float[] gb = new float[w];
          float alpha = 0.3f;
          float[] ge = new float[n];
          for (int k = 0; k < n; k++) {
            ge[k] = alpha * dh[k] * dSave[k];
          }
          vk.residualBackward(w, batch, ws, 0, alpha, hSave, dSave, 0, dh.clone(), gW, gb, g);
          for (int i = 0; i < w; i++) {
            for (int o = 0; o < w; o++) {
              float[] lanes = new float[16];
              for (int b0 = 0; b0 < batch; b0 += 16) {
                for (int l = 0; l < 16; l++) {
                  lanes[l] += hSave[i * batch + b0 + l] * ge[o * batch + b0 + l];
                }
              }
              for (int d = 1; d < 16; d *= 2) {
                for (int l = 0; l < 16; l += 2 * d) {
                  lanes[l] = lanes[l] + lanes[l + d];
                }
              }
              assertEquals(Float.floatToIntBits(lanes[0]), Float.floatToIntBits(gW[i * w + o]),
                  "w" + w + " b" + batch + " gW[" + i + "][" + o + "]");
            }
          }
        }
      }
    }
  }

  private static void check(Arena arena, SplittableRandom r, Kernels vk, Kernels sk, int w,
      int batch, Activation act) {
    String where = act + " w" + w + " b" + batch + " " + vk.name();
    int n = w * batch;
    long lb = Kernels.layerBytes(w);
    MemorySegment ws = arena.allocate(2 * lb + 12, 4);
    MemorySegment wv = arena.allocate(2 * lb + 12, 4);
    long off = 12 + lb; // an unaligned offset, second layer
    for (long o = 0; o < ws.byteSize(); o += 4) {
      float x = (float) (r.nextDouble() - 0.5);
      ws.set(Kernels.F32, o, x);
      wv.set(Kernels.F32, o, x);
    }
    float[] h = rand(r, n, 2f);
    float[] hs = h.clone();
    float[] hv = h.clone();
    float[] z = new float[n];
    sk.residualForward(w, batch, ws, off, 0.3f, act, hs, z);
    vk.residualForward(w, batch, wv, off, 0.3f, act, hv, z);
    agree(hs, hv, act, where + " forward");

    float[] hs2 = h.clone();
    float[] hv2 = h.clone();
    float[] saveS = new float[n + 5];
    float[] saveV = new float[n + 5];
    float[] dS = new float[n + 5];
    float[] dV = new float[n + 5];
    sk.residualForwardSave(w, batch, ws, off, 0.3f, act, hs2, z, saveS, dS, 5);
    vk.residualForwardSave(w, batch, wv, off, 0.3f, act, hv2, z, saveV, dV, 5);
    agree(hs2, hv2, act, where + " forwardSave h");
    agree(dS, dV, act, where + " forwardSave act'");
    assertEquals(-1, java.util.Arrays.mismatch(saveS, saveV), where + " saved input");

    // backward from identical saved values, so the comparison isolates the backward
    float[] dhS = rand(r, n, 1f);
    float[] dhV = dhS.clone();
    float[] gWs = new float[w * w];
    float[] gWv = new float[w * w];
    float[] gbS = new float[w];
    float[] gbV = new float[w];
    float[] g = new float[n];
    float[] alphaDh = new float[n];
    for (int k = 0; k < n; k++) {
      alphaDh[k] = 0.3f * dhS[k] * dS[5 + k];
    }
    sk.residualBackward(w, batch, ws, off, 0.3f, saveS, dS, 5, dhS, gWs, gbS, g);
    vk.residualBackward(w, batch, wv, off, 0.3f, saveS, dS, 5, dhV, gWv, gbV, g);
    if (batch == 1 && w > 1) {
      // the batch-1 path sums dh over o through the tree: the gradient-sum tolerance
      for (int i = 0; i < w; i++) {
        double sumAbs = Math.abs(dhS[i]);
        for (int o = 0; o < w; o++) {
          sumAbs += Math.abs((double) alphaDh[o] * ws.get(Kernels.F32, off + 4L * (i * w + o)));
        }
        double tol = (w + 8) * 0x1p-24 * sumAbs;
        assertTrue(Math.abs(dhS[i] - dhV[i]) <= tol, where + " dh[" + i + "]");
      }
    } else {
      assertEquals(-1, java.util.Arrays.mismatch(dhS, dhV), where + " dh must be bitwise equal");
    }
    for (int i = 0; i < w; i++) {
      for (int o = 0; o < w; o++) {
        double sumAbs = 0;
        for (int b = 0; b < batch; b++) {
          sumAbs += Math.abs((double) saveS[5 + i * batch + b] * alphaDh[o * batch + b]);
        }
        double tol = (batch + 8) * 0x1p-24 * sumAbs;
        assertTrue(Math.abs(gWs[i * w + o] - gWv[i * w + o]) <= tol, where + " gW[" + i + "]["
            + o + "] " + gWs[i * w + o] + " vs " + gWv[i * w + o] + " tol " + tol);
      }
    }
    for (int o = 0; o < w; o++) {
      double sumAbs = 0;
      for (int b = 0; b < batch; b++) {
        sumAbs += Math.abs(alphaDh[o * batch + b]);
      }
      double tol = (batch + 8) * 0x1p-24 * sumAbs;
      assertTrue(Math.abs(gbS[o] - gbV[o]) <= tol, where + " gb[" + o + "]");
    }
    // the SGD update: bitwise
    sk.sgdUpdate(w, ws, off, 0.07f, gWs, gbS);
    vk.sgdUpdate(w, wv, off, 0.07f, gWs, gbS);
    assertEquals(-1, ws.mismatch(wv), where + " sgd update must be bitwise equal");
  }

  private static void agree(float[] a, float[] b, Activation act, String where) {
    assertEquals(-1, java.util.Arrays.mismatch(a, b), where + " " + act + " must be bitwise equal");
  }

  /** {@code count} layers of width w at byte offset 8, uniform in [-0.5, 0.5). */
  private static MemorySegment layers(Arena arena, SplittableRandom r, int count, int w) {
    MemorySegment ws = arena.allocate(count * Kernels.layerBytes(w) + 8, 4);
    for (long o = 0; o < ws.byteSize(); o += 4) {
      ws.set(Kernels.F32, o, (float) (r.nextDouble() - 0.5));
    }
    return ws;
  }

  private static float[] rand(SplittableRandom r, int n, float scale) {
    float[] a = new float[n];
    for (int k = 0; k < n; k++) {
      a[k] = (float) ((r.nextDouble() - 0.5) * scale);
    }
    return a;
  }
}
