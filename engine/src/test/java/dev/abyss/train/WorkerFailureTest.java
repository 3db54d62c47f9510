package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.abyss.TestData;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import dev.abyss.nn.HeadParams;
import dev.abyss.store.CoreFile;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.CoreWeights;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A training thread that fails in its backward ends the step with its error, whichever thread
 * it is and however many wait for turns behind it: the step neither hangs nor reports
 * success.
 */
class WorkerFailureTest {
  @TempDir Path dir;

  /** The scalar kernels, failing at the n-th segment backward of all threads together. */
  static final class FailingKernels extends ScalarDelegate {
    private final AtomicInteger calls;
    private final int failAt;

    FailingKernels(AtomicInteger calls, int failAt) {
      this.calls = calls;
      this.failAt = failAt;
    }

    @Override
    public String name() {
      return "failing";
    }

    @Override
    public Kernels fork() {
      return new FailingKernels(calls, failAt);
    }

    @Override
    public void backwardUpdateChunk(int w, int batch, MemorySegment wts, long off, int count,
        float alpha, float lr, float[] hSave, float[] dSave, float[] dh, float[] gW,
        float[] gb, float[] g, float[] grads, Runnable dhDone) {
      if (calls.incrementAndGet() == failAt) {
        throw new IllegalStateException("boom in " + Thread.currentThread().getName());
      }
      super.backwardUpdateChunk(w, batch, wts, off, count, alpha, lr, hSave, dSave,
          dh, gW, gb, g, grads, dhDone);
    }
  }

  /**
   * 2,600 layers in one chunk of six 512-layer segments, taken in turns from the top by
   * {@code threads} threads; segment backward number {@code failAt} fails (1: the main
   * thread's first, 2: the first worker's, ...).
   */
  @ParameterizedTest
  @CsvSource({"2, 1", "2, 2", "3, 2", "3, 3", "3, 4", "4, 4", "4, 6"})
  void aFailingThreadEndsTheStepWithItsError(int threads, int failAt) {
    assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
      long layers = 2600;
      CoreHeader h = new CoreHeader(4, layers, Activation.SOFTSIGN,
          (float) (1 / Math.sqrt(layers)), 0.3f, 11, 0, 3, 4, dev.abyss.store.Dtype.F32);
      Path wf = dir.resolve("f" + threads + "-" + failAt + ".bin");
      CoreFile.create(wf, h, null);
      AtomicInteger calls = new AtomicInteger();
      try (CoreWeights cw = CoreFile.openInMemory(wf);
          ResidualTrainer tr = new ResidualTrainer(cw, HeadParams.glorot(4, 13),
              new FailingKernels(calls, failAt), TestData.images(64, 21), 16, (int) layers,
              0.5f, 0.1f, 64, threads, 0)) {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> tr.step(0));
        assertEquals(true, e.getMessage().startsWith("boom in "), e.getMessage());
      }
    });
  }
}
