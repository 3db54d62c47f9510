package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.TestData;
import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.kernel.Kernels;
import dev.abyss.nn.HeadParams;
import dev.abyss.store.CoreFile;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.CoreWeights;
import dev.abyss.store.Dtype;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Same seed, same data order: the trained core and head are bit-identical whatever the chunk
 * size and whether the core is streamed or held in memory.
 */
class BitIdentityTest {
  static final long L = 50; // not a multiple of 7
  static final int STEPS = 4;

  @TempDir Path dir;

  record Result(byte[] core, float[] head, double[] losses) {}

  private Result run(String name, int chunk, boolean inMemory, Activation act, Kernels k)
      throws Exception {
    return run(name, chunk, inMemory, act, k, 5, 3, 1);
  }

  private Result run(String name, int chunk, boolean inMemory, Activation act, Kernels k,
      int width, int batch, int threads) throws Exception {
    return run(name, chunk, inMemory, act, k, width, batch, threads, Dtype.F32);
  }

  private Result run(String name, int chunk, boolean inMemory, Activation act, Kernels k,
      int width, int batch, int threads, Dtype dtype) throws Exception {
    return run(name, chunk, inMemory, act, k, width, batch, threads, dtype, 0);
  }

  private Result run(String name, int chunk, boolean inMemory, Activation act, Kernels k,
      int width, int batch, int threads, Dtype dtype, long memoryBudget) throws Exception {
    return run(name, L, chunk, inMemory, act, k, width, batch, threads, dtype, memoryBudget);
  }

  private Result run(String name, long layers, int chunk, boolean inMemory, Activation act,
      Kernels k, int width, int batch, int threads, Dtype dtype, long memoryBudget)
      throws Exception {
    return run(name, layers, chunk, inMemory, act, k, width, batch, threads, dtype,
        memoryBudget, null);
  }

  /** With {@code shares}: the main thread's share of the layers fixed at step s to shares[s]. */
  private Result run(String name, long layers, int chunk, boolean inMemory, Activation act,
      Kernels k, int width, int batch, int threads, Dtype dtype, long memoryBudget,
      double[] shares) throws Exception {
    // blocks of 4 layers: chunk ranges start and end inside checksum blocks
    CoreHeader h = new CoreHeader(width, layers, act, (float) (1 / Math.sqrt(layers)), 0.3f, 11,
        0, 3, 4, dtype);
    Path wf = dir.resolve(name + ".bin");
    CoreFile.create(wf, h, null);
    HeadParams head = HeadParams.glorot(width, 13);
    Dataset data = TestData.images(64, 21);
    double[] losses = new double[STEPS];
    try (CoreWeights cw = inMemory ? CoreFile.openInMemory(wf)
        : CoreFile.openStreamed(wf, true)) {
      ResidualTrainer tr = new ResidualTrainer(cw, head, k, data, batch, chunk,
          0.5f, 0.1f, 64, threads, memoryBudget);
      assertEquals(memoryBudget > 0, tr.keepsActivations(), "the planner's choice");
      for (int s = 0; s < STEPS; s++) {
        if (shares != null) {
          assertTrue(tr.fixShare(shares[s]), "two threads recomputing in turns fit the shares");
        }
        losses[s] = tr.step(s).lossSum();
      }
      cw.commit(STEPS);
    }
    byte[] all = Files.readAllBytes(wf);
    return new Result(all, head.p, losses);
  }

  @Test
  void chunkSizesAndStorageModesGiveIdenticalBits() throws Exception {
    for (Kernels k : new Kernels[] {KernelProvider.scalar(), KernelProvider.get()}) {
      identicalBits(k);
    }
  }

  /**
   * The memory planner: keeping every activation (no recompute) gives the bits of
   * checkpointing, for both kernel sets, the width-4 path and a generic shape, any chunk size,
   * any storage mode.
   */
  @Test
  void keepingAllActivationsIsIdenticalToRecomputing() throws Exception {
    for (Kernels k : new Kernels[] {KernelProvider.scalar(), KernelProvider.get()}) {
      for (int[] wb : new int[][] {{4, 16}, {5, 3}}) {
        Result ref = run("plan-ref", (int) L, true, Activation.TANH, k, wb[0], wb[1], 1,
            Dtype.F32, 0);
        for (int chunk : new int[] {1, 7, (int) L}) {
          for (boolean mem : new boolean[] {false, true}) {
            Result r = run("plan-" + chunk + mem, chunk, mem, Activation.TANH, k, wb[0], wb[1],
                1, Dtype.F32, Long.MAX_VALUE);
            String what = k.name() + " kept w" + wb[0] + " b" + wb[1] + " chunk " + chunk + " "
                + (mem ? "in memory" : "streamed");
            assertArrayEquals(ref.core(), r.core(), what);
            assertArrayEquals(ref.head(), r.head(), what);
            assertArrayEquals(ref.losses(), r.losses(), what);
          }
        }
      }
    }
  }

  /**
   * Two, three and four threads take a chunk's segments in turns (512 layers a segment at w4
   * b16), each recomputing its own and handing dh to the next: chunks of two, three and six
   * segments (the last one short; with four threads and two segments, two threads have none),
   * both kernel sets, f32 and bf16, give the one-thread bits.
   */
  @Test
  void threadsTakingSegmentsInTurnsGiveTheOneThreadBits() throws Exception {
    long layers = 2600;
    for (Kernels k : new Kernels[] {KernelProvider.scalar(), KernelProvider.get()}) {
      for (Dtype dt : new Dtype[] {Dtype.F32, Dtype.BF16}) {
        Result ref = run("turns-ref", layers, (int) layers, true, Activation.SOFTSIGN, k, 4, 16,
            1, dt, 0);
        for (int chunk : new int[] {1024, 1100, (int) layers}) {
          int seg = ResidualTrainer.plan(layers, 4, 16, chunk,
              ResidualTrainer.DEFAULT_CHECKPOINT_BYTES).segment();
          assertTrue(2 * seg <= chunk, "chunk " + chunk + " holds two segments or more");
          for (boolean mem : new boolean[] {false, true}) {
            for (int threads = 2; threads <= 4; threads++) {
              Result r = run("turns-" + chunk + mem + threads, layers, chunk, mem,
                  Activation.SOFTSIGN, k, 4, 16, threads, dt, 0);
              String what = k.name() + " " + dt + " chunk " + chunk + " "
                  + (mem ? "in memory" : "streamed") + " threads " + threads;
              assertArrayEquals(ref.core(), r.core(), what);
              assertArrayEquals(ref.head(), r.head(), what);
              assertArrayEquals(ref.losses(), r.losses(), what);
            }
          }
        }
      }
    }
  }

  /**
   * Two threads with segments of two lengths, the main thread's the longer or the shorter
   * (shares of its layers from 0.35 to 0.65, changed from step to step as the trainer fits them
   * to the threads' speeds), give the one-thread bits: where a segment starts moves only where
   * a recompute begins.
   */
  @Test
  void segmentsOfTwoLengthsGiveTheOneThreadBits() throws Exception {
    long layers = 2600;
    double[][] plans = {{0.35, 0.35, 0.35, 0.35}, {0.65, 0.65, 0.65, 0.65},
      {0.5, 0.62, 0.41, 0.57}};
    for (Kernels k : new Kernels[] {KernelProvider.scalar(), KernelProvider.get()}) {
      Result ref = run("fit-ref", layers, (int) layers, true, Activation.SOFTSIGN, k, 4, 16, 1,
          Dtype.F32, 0);
      for (int chunk : new int[] {1100, (int) layers}) {
        for (boolean mem : new boolean[] {false, true}) {
          for (double[] shares : plans) {
            Result r = run("fit-" + chunk + mem, layers, chunk, mem, Activation.SOFTSIGN, k, 4,
                16, 2, Dtype.F32, 0, shares);
            String what = k.name() + " chunk " + chunk + " " + (mem ? "in memory" : "streamed")
                + " shares " + Arrays.toString(shares);
            assertArrayEquals(ref.core(), r.core(), what);
            assertArrayEquals(ref.head(), r.head(), what);
            assertArrayEquals(ref.losses(), r.losses(), what);
          }
        }
      }
    }
  }

  /**
   * The segments laid out for two threads: ascending, every chunk covered from its top by a
   * segment of the main thread's length, then one of the worker's, and so on, none crossing a
   * chunk's end; the lowest one of a chunk as long as what is left.
   */
  @Test
  void segmentsOfTwoLengthsCoverEveryChunkFromItsTop() {
    java.util.Random rnd = new java.util.Random(5);
    for (int trial = 0; trial < 500; trial++) {
      long layers = 1 + rnd.nextInt(5000);
      int chunk = 1 + rnd.nextInt(2000);
      int a = 1 + rnd.nextInt(300);
      int b = 1 + rnd.nextInt(300);
      long[] out = new long[(int) (layers + (layers + chunk - 1) / chunk)];
      int n = ResidualTrainer.layOut(layers, chunk, a, b, out);
      String what = "layers " + layers + " chunk " + chunk + " a " + a + " b " + b;
      assertEquals(0, out[0], what);
      for (int q = 0; q < n; q++) {
        long end = q + 1 < n ? out[q + 1] : layers;
        long chunkEnd = Math.min(layers, (out[q] / chunk + 1) * chunk);
        assertTrue(end > out[q] && end <= chunkEnd, what + " segment " + q);
        // its place from the chunk's top decides its length; the chunk's lowest may be short
        int fromTop = 0;
        for (int j = q + 1; j < n && out[j] < chunkEnd; j++) {
          fromTop++;
        }
        long len = end - out[q];
        long want = (fromTop & 1) == 0 ? a : b;
        if (out[q] % chunk == 0) {
          assertTrue(len <= want, what + " segment " + q);
        } else {
          assertEquals(want, len, what + " segment " + q);
        }
      }
      int chunks = (int) ((layers + chunk - 1) / chunk);
      long starts = Arrays.stream(out, 0, n).filter(x -> x % chunk == 0).count();
      assertEquals(chunks, starts, what + ": a segment starts every chunk");
    }
  }

  /**
   * The scalar oracle, but recomputing two segments a call where the trainer can ({@link
   * Kernels#recomputesInPairs}), as the 512-bit width-4 kernels do: the trainer's pairing on
   * any CPU. The pair is the default's two calls, so the bits are the oracle's.
   */
  static final class PairedScalar extends ScalarDelegate {
    final java.util.concurrent.atomic.AtomicInteger pairs;

    PairedScalar(java.util.concurrent.atomic.AtomicInteger pairs) {
      this.pairs = pairs;
    }

    @Override
    public String name() {
      return "scalar, paired recompute";
    }

    @Override
    public Kernels fork() {
      return new PairedScalar(pairs);
    }

    @Override
    public boolean recomputesInPairs(int w, int batch, Activation act) {
      return true;
    }

    @Override
    public void forwardSaveChunkPair(int w, int batch, java.lang.foreign.MemorySegment wts,
        long offA, long offB, int count, float alpha, Activation act, float[] hA, float[] hB,
        float[] z, float[] hSaveA, float[] dSaveA, float[] hSaveB, float[] dSaveB) {
      pairs.incrementAndGet();
      super.forwardSaveChunkPair(w, batch, wts, offA, offB, count, alpha, act, hA, hB,
          z, hSaveA, dSaveA, hSaveB, dSaveB);
    }
  }

  /**
   * Each thread recomputing its next two segments in one call gives the bits of one call a
   * segment: one to four threads, chunks of two to five segments (a short last one, which is
   * not paired with a full one), in memory and streamed.
   */
  @Test
  void segmentsRecomputedInPairsGiveTheOneCallBits() throws Exception {
    long layers = 2600;
    Result ref = run("pairs-ref", layers, (int) layers, true, Activation.SOFTSIGN,
        KernelProvider.scalar(), 4, 16, 1, Dtype.F32, 0);
    java.util.concurrent.atomic.AtomicInteger pairs =
        new java.util.concurrent.atomic.AtomicInteger();
    for (int chunk : new int[] {1100, 2048, (int) layers}) {
      for (boolean mem : new boolean[] {false, true}) {
        for (int threads = 1; threads <= 4; threads++) {
          int before = pairs.get();
          Result r = run("pairs-" + chunk + mem + threads, layers, chunk, mem,
              Activation.SOFTSIGN, new PairedScalar(pairs), 4, 16, threads, Dtype.F32, 0);
          String what = "paired chunk " + chunk + " " + (mem ? "in memory" : "streamed")
              + " threads " + threads;
          // one chunk of six segments (the last one short) pairs at every thread count
          assertTrue(chunk != layers || pairs.get() > before,
              what + ": no segments were recomputed in pairs");
          assertArrayEquals(ref.core(), r.core(), what);
          assertArrayEquals(ref.head(), r.head(), what);
          assertArrayEquals(ref.losses(), r.losses(), what);
        }
      }
    }
  }

  /**
   * Every activation kept (no recompute), two and three threads taking the segments in turns,
   * one's updates beside the next one's dh chain: the wide batch-1 rows (w32 and w16 b1), the
   * generic layers of a batch (w16 b3, w5 b3), and the width-4 chunk kernels with tanh (whose
   * plan keeps its activations); chunks of several segments, in memory and streamed, f32 and
   * bf16; both kernel sets give the one-thread bits.
   */
  @Test
  void threadsTakingKeptSegmentsInTurnsGiveTheOneThreadBits() throws Exception {
    long layers = 240;
    for (Kernels k : new Kernels[] {KernelProvider.scalar(), KernelProvider.get()}) {
      // {width, batch, activation: 0 softsign, 2 tanh}
      // {width, batch, activation: 0 softsign, 2 tanh, dtype: 0 f32, 1 bf16}
      for (int[] wb : new int[][] {{32, 1, 0, 0}, {16, 1, 0, 0}, {16, 3, 0, 0}, {5, 3, 0, 0},
          {4, 16, 2, 0}, {32, 1, 0, 1}, {16, 3, 0, 1}}) {
        Activation act = wb[2] == 2 ? Activation.TANH : Activation.SOFTSIGN;
        Dtype dt = wb[3] == 1 ? Dtype.BF16 : Dtype.F32;
        Result ref = run("kt-ref", layers, (int) layers, true, act, k, wb[0], wb[1], 1, dt,
            Long.MAX_VALUE);
        for (int chunk : new int[] {50, 97, (int) layers}) {
          for (boolean mem : new boolean[] {false, true}) {
            for (int threads = 2; threads <= 3; threads++) {
              Result r = run("kt-" + chunk + mem + threads, layers, chunk, mem, act, k, wb[0],
                  wb[1], threads, dt, Long.MAX_VALUE);
              String what = k.name() + " kept " + dt + " " + act + " w" + wb[0] + " b" + wb[1]
                  + " chunk " + chunk + " " + (mem ? "in memory" : "streamed") + " threads "
                  + threads;
              assertArrayEquals(ref.core(), r.core(), what);
              assertArrayEquals(ref.head(), r.head(), what);
              assertArrayEquals(ref.losses(), r.losses(), what);
            }
          }
        }
      }
    }
  }

  /**
   * The vector kernels' specialised paths: width 4 at batch 16 and 32 (`Width4`, the second in
   * groups of 16), width 8 at batch 16 and 32 (`Width8`), width 4 and 8 at batch 1 (`Rows`);
   * softsign, and ReLU's and tanh's own forward kernels at width 4 and 8; and batches of 8
   * and 24, which run the kernels of 16 and 32 padded.
   */
  @Test
  void specialisedPathsAreIdenticalAcrossChunksStorageAndThreads() throws Exception {
    Kernels k = KernelProvider.get();
    // {width, batch, activation: 0 softsign, 1 ReLU, 2 tanh}
    for (int[] wb : new int[][] {{4, 16, 0}, {4, 32, 0}, {8, 16, 0}, {8, 32, 0}, {4, 1, 0},
        {8, 1, 0}, {4, 16, 1}, {8, 32, 1}, {4, 8, 0}, {8, 24, 1}, {4, 16, 2}, {8, 16, 2},
        {4, 24, 2}}) {
      Activation act = new Activation[] {Activation.SOFTSIGN, Activation.RELU,
          Activation.TANH}[wb[2]];
      Result ref = run("s-ref", (int) L, true, act, k, wb[0], wb[1], 1);
      for (int chunk : new int[] {1, 7, (int) L}) {
        for (boolean mem : new boolean[] {false, true}) {
          for (int threads : new int[] {1, 2, 3}) {
            Result r = run("s-" + chunk + mem + threads, chunk, mem, act, k, wb[0], wb[1],
                threads);
            String what = k.name() + " " + act + " w" + wb[0] + " b" + wb[1] + " chunk "
                + chunk + " " + mem + " threads " + threads;
            assertArrayEquals(ref.core(), r.core(), what);
            assertArrayEquals(ref.head(), r.head(), what);
          }
        }
      }
    }
  }

  /**
   * bf16 storage: the stochastic rounding draws from (step, parameter index), so chunk size,
   * storage mode and thread count still do not change a bit; and the rounding does act (the
   * stored weights move although most single updates are below half a bf16 step).
   */
  @Test
  void bf16IsIdenticalAcrossChunksStorageAndThreads() throws Exception {
    for (Kernels k : new Kernels[] {KernelProvider.scalar(), KernelProvider.get()}) {
      for (int[] wb : new int[][] {{4, 16}, {5, 3}}) {
        Result ref = run("bf-ref", (int) L, true, Activation.SOFTSIGN, k, wb[0], wb[1], 1,
            Dtype.BF16);
        for (int chunk : new int[] {1, 7, (int) L}) {
          for (boolean mem : new boolean[] {false, true}) {
            int threads = chunk == 7 ? 2 : 1;
            Result r = run("bf-" + chunk + mem, chunk, mem, Activation.SOFTSIGN, k, wb[0], wb[1],
                threads, Dtype.BF16);
            String what = k.name() + " bf16 w" + wb[0] + " b" + wb[1] + " chunk " + chunk + " "
                + (mem ? "in memory" : "streamed") + " threads " + threads;
            assertArrayEquals(ref.core(), r.core(), what + ": core file differs");
            assertArrayEquals(ref.head(), r.head(), what + ": head differs");
            assertArrayEquals(ref.losses(), r.losses(), what + ": losses differ");
          }
        }
        Result f32 = run("bf-f32", (int) L, true, Activation.SOFTSIGN, k, wb[0], wb[1], 1);
        assertEquals(4096 + (f32.core().length - 4096) / 2, ref.core().length,
            "a bf16 core stores half the bytes");
        Path fresh = dir.resolve("bf-fresh.bin");
        CoreFile.create(fresh, new CoreHeader(wb[0], L, Activation.SOFTSIGN,
            (float) (1 / Math.sqrt(L)), 0.3f, 11, 0, 3, 4, Dtype.BF16), null);
        byte[] init = Files.readAllBytes(fresh);
        Files.delete(fresh);
        assertNotEquals(Arrays.hashCode(Arrays.copyOfRange(init, 4096, init.length)),
            Arrays.hashCode(Arrays.copyOfRange(ref.core(), 4096, init.length)),
            "bf16 training left the stored weights unchanged");
      }
    }
  }

  private void identicalBits(Kernels k) throws Exception {
    for (Activation act : Activation.values()) {
      Result ref = run(act + "-ref", (int) L, true, act, k);
      for (int chunk : new int[] {1, 7, 1000, (int) L}) {
        for (boolean mem : new boolean[] {false, true}) {
          Result r = run(act + "-" + chunk + "-" + mem, Math.min(chunk, 1000), mem, act, k, 5, 3,
              mem ? 2 : 1);
          String what = k.name() + " " + act + " chunk " + chunk
              + (mem ? " in memory" : " streamed");
          assertArrayEquals(ref.core(), r.core(), what + ": core file differs");
          assertArrayEquals(ref.head(), r.head(), what + ": head differs");
          assertArrayEquals(ref.losses(), r.losses(), what + ": losses differ");
        }
      }
      // and training did move the weights (so equality is not vacuous)
      CoreHeader h0 = new CoreHeader(5, L, act, (float) (1 / Math.sqrt(L)), 0.3f, 11, 0, 3, 4);
      Path fresh = dir.resolve(act + "-fresh.bin");
      CoreFile.create(fresh, h0, null);
      byte[] init = Files.readAllBytes(fresh);
      assertEquals(init.length, ref.core().length);
      assertNotEquals(Arrays.hashCode(Arrays.copyOfRange(init, 4096, init.length)),
          Arrays.hashCode(Arrays.copyOfRange(ref.core(), 4096, init.length)));
    }
  }
}
