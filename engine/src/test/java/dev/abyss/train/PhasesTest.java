package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.TestData;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.nn.HeadParams;
import dev.abyss.store.CoreFile;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.CoreWeights;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A step's time by phase and thread ({@link Phases}): one row per training thread, each phase
 * a disjoint part of the step on its thread (so a thread's phases add up to no more than the
 * step), the kernels' phases non-zero on every thread that trains, and I/O where the core is
 * streamed.
 */
class PhasesTest {
  @TempDir Path dir;

  /** The run summary's median step: the middle one, or the mean of the middle two. */
  @Test
  void medianOfTheRunsSteps() {
    assertTrue(Double.isNaN(ResidualRun.median(new double[4], 0)));
    assertEquals(0.5, ResidualRun.median(new double[] {0.5, 9, 9}, 1));
    assertEquals(0.2, ResidualRun.median(new double[] {0.9, 0.1, 0.2, 7}, 3));
    assertEquals(0.25, ResidualRun.median(new double[] {1.8, 0.2, 0.3, 0.1}, 4), 1e-12);
  }

  @Test
  void plusAddsThreadByThreadAndDescribeGivesShares() {
    Phases a = new Phases(new double[][] {{1, 2, 3, 0, 0}}, 10);
    Phases b = new Phases(new double[][] {{1, 0, 1, 1, 0}, {0, 1, 2, 0, 0}}, 10);
    Phases s = a.plus(b);
    assertEquals(20, s.stepSeconds());
    assertArrayEquals(new double[] {2, 2, 4, 1, 0}, s.seconds()[0]);
    assertArrayEquals(new double[] {0, 1, 2, 0, 0}, s.seconds()[1]);
    assertTrue(s.plus(null) == s, "plus(null) is the same");
    assertEquals("[{forward=0.0, recompute=1.0, backward=2.0, waiting=0.0, io=0.0}]",
        b.byName().subList(1, 2).toString(), "a thread's seconds by phase name, in order");
    assertEquals("main thread: forward 10%, recompute 10%, backward 20%, waiting 5%, io 0%,"
        + " other 55%\nworker 1: forward 0%, recompute 5%, backward 10%, waiting 0%, io 0%,"
        + " idle 85%", s.describe());
  }

  @Test
  void everyTrainingThreadsStepIsTimedByPhase() throws Exception {
    long layers = 4000;
    int i = 0;
    for (boolean inMemory : new boolean[] {true, false}) {
      for (int threads : new int[] {1, 2}) {
        CoreHeader h = new CoreHeader(4, layers, Activation.SOFTSIGN,
            (float) (1 / Math.sqrt(layers)), 0.3f, 11, 0, 3, 4);
        Path wf = dir.resolve("c" + i++ + ".bin");
        CoreFile.create(wf, h, null);
        try (CoreWeights cw = inMemory ? CoreFile.openInMemory(wf)
            : CoreFile.openStreamed(wf, true);
            ResidualTrainer tr = new ResidualTrainer(cw, HeadParams.glorot(4, 13),
                KernelProvider.get(), TestData.images(64, 21), 16, 1000, 0.5f, 0.1f, 64,
                threads, 0)) {
          String what = (inMemory ? "in memory" : "streamed") + ", " + threads + " thread(s)";
          for (long step = 0; step < 3; step++) {
            StepResult r = tr.step(step, 0);
            Phases p = r.phases();
            assertNotNull(p, what);
            assertEquals(r.seconds(), p.stepSeconds(), what);
            assertEquals(threads, p.seconds().length, what + ": a row per training thread");
            for (int t = 0; t < threads; t++) {
              double sum = 0;
              for (double s : p.seconds()[t]) {
                assertTrue(s >= 0, what);
                sum += s;
              }
              assertTrue(sum <= r.seconds(), what + ", thread " + t + ": its phases took "
                  + sum + " s of a " + r.seconds() + " s step");
              assertTrue(p.seconds()[t][Phases.RECOMPUTE] > 0, what + ", thread " + t);
              assertTrue(p.seconds()[t][Phases.BACKWARD] > 0, what + ", thread " + t);
            }
            assertTrue(p.seconds()[0][Phases.FORWARD] > 0, what);
            if (!inMemory) {
              assertTrue(p.seconds()[0][Phases.IO] > 0, what);
            }
          }
        }
      }
    }
  }
}
