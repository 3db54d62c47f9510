package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.abyss.TestData;
import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.kernel.Kernels;
import dev.abyss.nn.HeadParams;
import dev.abyss.store.CoreFile;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.CoreWeights;
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
    // blocks of 4 layers: chunk ranges start and end inside checksum blocks
    CoreHeader h = new CoreHeader(width, L, act, (float) (1 / Math.sqrt(L)), 0.3f, 11, 0, 3, 4);
    Path wf = dir.resolve(name + ".bin");
    CoreFile.create(wf, h, null);
    HeadParams head = HeadParams.glorot(width, 13);
    Dataset data = TestData.images(64, 21);
    double[] losses = new double[STEPS];
    try (CoreWeights cw = inMemory ? CoreFile.openInMemory(wf)
        : CoreFile.openStreamed(wf, true)) {
      ResidualTrainer tr = new ResidualTrainer(cw, head, k, data, batch, chunk,
          0.5f, 0.1f, 64, threads);
      for (int s = 0; s < STEPS; s++) {
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

  /** Width 4, batch 16: the vector kernels' specialised path. */
  @Test
  void width4Batch16IsIdenticalAcrossChunksAndStorage() throws Exception {
    Kernels k = KernelProvider.get();
    Result ref = run("w4-ref", (int) L, true, Activation.SOFTSIGN, k, 4, 16, 1);
    for (int chunk : new int[] {1, 7, (int) L}) {
      for (boolean mem : new boolean[] {false, true}) {
        for (int threads : new int[] {1, 2}) {
          Result r = run("w4-" + chunk + mem + threads, chunk, mem, Activation.SOFTSIGN, k, 4,
              16, threads);
          String what = k.name() + " w4 b16 chunk " + chunk + " " + mem + " threads " + threads;
          assertArrayEquals(ref.core(), r.core(), what);
          assertArrayEquals(ref.head(), r.head(), what);
        }
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
