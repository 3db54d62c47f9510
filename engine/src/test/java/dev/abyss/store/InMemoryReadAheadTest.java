package dev.abyss.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bf16 core in memory widens a prefetched range on a helper thread: what a load returns is
 * the same with or without the prefetch, also when a write-back changed part of the prefetched
 * range after the prefetch was asked for.
 */
class InMemoryReadAheadTest {
  @TempDir Path dir;

  /**
   * Each round loads [10, 30), maybe prefetches [20, 40), changes and writes back [10, 30),
   * then loads [20, 40) and keeps what it holds.
   */
  private float[] run(boolean prefetch, int rounds) throws Exception {
    return run(prefetch, rounds, false);
  }

  private float[] run(boolean prefetch, int rounds, boolean storedOnly) throws Exception {
    Path p = dir.resolve("c" + prefetch + rounds + storedOnly + ".bin");
    CoreFile.create(p, new CoreHeader(4, 50, Activation.SOFTSIGN, 0.1f, 0.3f, 11, 0, 3, 4,
        Dtype.BF16), null);
    int lf = Kernels.layerFloats(4);
    float[] out = new float[Math.max(1, rounds) * 20 * lf];
    try (CoreWeights cw = CoreFile.openInMemory(p)) {
      if (storedOnly) {
        MemorySegment t = cw.load(20, 20);
        for (long l = 20; l < 40; l++) {
          for (int k = 0; k < lf; k++) {
            out[(int) ((l - 20) * lf + k)] = t.get(Kernels.F32, cw.offsetOf(l) + 4L * k);
          }
        }
        return out;
      }
      for (int r = 0; r < rounds; r++) {
        cw.beginStep(r);
        MemorySegment s = cw.load(10, 20);
        if (prefetch) {
          cw.prefetch(20, 20);
        }
        for (long l = 10; l < 30; l++) {
          for (int k = 0; k < lf; k++) {
            long at = cw.offsetOf(l) + 4L * k;
            s.set(Kernels.F32, at, s.get(Kernels.F32, at) + 0.25f * (r + 1) + l);
          }
        }
        cw.writeBack(10, 20);
        MemorySegment t = cw.load(20, 20);
        for (long l = 20; l < 40; l++) {
          for (int k = 0; k < lf; k++) {
            out[(int) ((r * 20 + l - 20) * lf + k)] = t.get(Kernels.F32, cw.offsetOf(l) + 4L * k);
          }
        }
        cw.writeBack(20, 20);
      }
    }
    return out;
  }

  @Test
  void prefetchedRangeSeesTheWriteBackThatOverlapsIt() throws Exception {
    float[] plain = run(false, 8);
    float[] ahead = run(true, 8);
    assertArrayEquals(plain, ahead);
    // not vacuous: in round 0 the load of [20, 40) saw the write-back of layers 20..29 and
    // not yet anything else (run with 0 rounds of changes: the stored values)
    float[] stored = run(false, 0, true);
    int lf = Kernels.layerFloats(4);
    boolean changed = false;
    for (int i = 0; i < 10 * lf; i++) {
      changed |= plain[i] != stored[i];
    }
    assertTrue(changed, "layers 20..29 changed by the write-back");
    for (int i = 10 * lf; i < 20 * lf; i++) {
      assertEquals(stored[i], plain[i], "layers 30..39 untouched before round 0's load");
    }
  }
}
