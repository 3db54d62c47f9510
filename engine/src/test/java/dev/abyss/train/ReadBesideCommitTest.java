package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.abyss.TestData;
import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.ScalarKernels;
import dev.abyss.nn.HeadParams;
import dev.abyss.store.CoreFile;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.HeadFile;
import dev.abyss.store.HeadHeader;
import dev.abyss.store.ModelLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An eval beside a training that commits while it reads: a training commits by renaming its new
 * core into place, then its new head. Here the eval opens the core between the two renames of
 * one commit, and by the time it looks again the training has committed once more, so the head
 * is a step past the core it holds open. It must open the core again and evaluate the last
 * commit, not wait for a head of a step that is gone (the eval before 2026-11-28, afternoon,
 * failed so: "head file ... is at step 2 but core file ... is at step 1").
 */
class ReadBesideCommitTest {
  @TempDir Path dir;

  private static final int WIDTH = 4;
  private static final int LAYERS = 100;

  @Test
  void anEvalBetweenTwoCommitsReadsTheLastOne() throws Exception {
    Path w = dir.resolve("w.bin");
    Path h = dir.resolve("h.bin");
    for (int s = 0; s <= 2; s++) {
      CoreFile.create(s == 0 ? w : dir.resolve("w" + s + ".bin"), CoreHeader.create(WIDTH,
          LAYERS, Activation.SOFTSIGN, 0.1f, 0.5f, 11 + s, 7).withStep(s), null);
      HeadFile.write(s == 0 ? h : dir.resolve("h" + s + ".bin"), new HeadHeader(
          HeadHeader.KIND_RESIDUAL, WIDTH, Activation.SOFTSIGN.code, s, 0, 0),
          HeadParams.glorot(WIDTH, 21 + s).p);
    }
    Dataset test = TestData.images(32, 5);
    CoreSpec any = new CoreSpec(null, null, null, null, null, null);
    EvalResult at0 = ResidualRun.eval(w, h, any, false, 32, 16, 50, () -> test,
        new ScalarKernels(), null);
    Thread[] rest = new Thread[1];
    // while the eval loads its test set: commit 1 renames its core, and 50 ms later its head,
    // then commit 2 renames both
    Supplier<Dataset> data = () -> {
      move(dir.resolve("w1.bin"), w);
      rest[0] = Thread.ofPlatform().start(() -> {
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
        move(dir.resolve("h1.bin"), h);
        move(dir.resolve("w2.bin"), w);
        move(dir.resolve("h2.bin"), h);
      });
      return test;
    };
    EvalResult during;
    // the lock held here stands for the training process: the eval then neither recovers nor
    // gives up at the first mismatch
    try (ModelLock training = ModelLock.forWriting(w, "train")) {
      during = ResidualRun.eval(w, h, any, false, 32, 16, 50, data, new ScalarKernels(), null);
    }
    rest[0].join();
    assertEquals(2, CoreFile.readHeader(w).step());
    EvalResult at2 = ResidualRun.eval(w, h, any, false, 32, 16, 50, () -> test,
        new ScalarKernels(), null);
    assertNotEquals(at0.meanLoss(), at2.meanLoss(), "the test needs commits that differ");
    assertEquals(at2.meanLoss(), during.meanLoss(), 0.0, "the eval read the last commit");
    assertEquals(at2.correct(), during.correct());
  }

  private static void move(Path from, Path to) {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
