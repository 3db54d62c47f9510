package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.TestData;
import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.store.CoreFile;
import dev.abyss.store.HeadFile;
import dev.abyss.store.Journal;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A run stopped (as by Ctrl-C) saves a consistent model at the last finished step; training
 * on from it reaches the weights of an uninterrupted run, bit for bit.
 */
class StopAndContinueTest {
  @TempDir Path dir;

  /** A run that saves after every step. */
  private ResidualRun.TrainSpec spec(String name, long steps, boolean inMemory) {
    return spec(name, steps, inMemory, 0);
  }

  /** A run that saves every {@code checkpointSeconds} and at its end. */
  private ResidualRun.TrainSpec spec(String name, long steps, boolean inMemory,
      double checkpointSeconds) {
    return new ResidualRun.TrainSpec(dir.resolve(name + "_w.bin"), dir.resolve(name + "_h.bin"),
        new CoreSpec(300L, 4, Activation.SOFTSIGN, null, 0.05f, 9L),
        new CoreSpec.Defaults(1, 1, Activation.TANH, 0.001f, 1), true, inMemory, steps, 16, 64,
        true, 0.2f, 0.05f, 100, 1, false, checkpointSeconds);
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void stoppedRunContinuesToTheSameBits(boolean inMemory) throws Exception {
    Dataset data = TestData.images(100, 4);
    ResidualRun.train(spec("full", 5, inMemory), () -> data, KernelProvider.get(),
        TrainListener.NONE, StopSignal.manual());

    StopSignal stop = StopSignal.manual();
    TrainListener stopAfter2 = new TrainListener() {
      @Override
      public void onStep(StepResult r) {
        if (r.step() == 1) {
          stop.request();
        }
      }
    };
    ResidualRun.Summary s = ResidualRun.train(spec("cut", 5, inMemory), () -> data,
        KernelProvider.get(), stopAfter2, stop);
    assertTrue(s.stopped());
    assertEquals(2, s.stepsDone());
    assertEquals(2, CoreFile.readHeader(dir.resolve("cut_w.bin")).step());
    assertEquals(2, HeadFile.read(dir.resolve("cut_h.bin")).header().step());

    ResidualRun.Summary rest = ResidualRun.train(spec("cut", 3, inMemory), () -> data,
        KernelProvider.get(), TrainListener.NONE, StopSignal.manual());
    assertEquals(5, rest.firstStep() + rest.stepsDone());
    assertSameModel("full", "cut");
  }

  /**
   * A step that fails part-way (here after the backward has written back two of its five
   * chunks and updated the classifier) leaves the files at the last save, not at a mix of the
   * steps since and part of the failed one; training on from there reaches the uninterrupted
   * weights.
   */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void stepFailingPartWayLeavesTheLastSave(boolean inMemory) throws Exception {
    Dataset data = TestData.images(100, 4);
    ResidualRun.train(spec("one", 1, inMemory), () -> data, KernelProvider.get(),
        TrainListener.NONE, StopSignal.manual());
    ResidualRun.train(spec("full", 5, inMemory), () -> data, KernelProvider.get(),
        TrainListener.NONE, StopSignal.manual());

    ResidualRun.train(spec("cut", 1, inMemory), () -> data, KernelProvider.get(),
        TrainListener.NONE, StopSignal.manual());
    class Boom extends RuntimeException {}
    TrainListener failInStep2 = new TrainListener() {
      @Override
      public void onProgress(long step, String phase, long done, long layers) {
        if (step == 2 && phase.equals("backward") && done >= 128) {
          throw new Boom();
        }
      }
    };
    // saves only at its end: step 1 is done and unsaved when step 2 fails
    assertThrows(Boom.class, () -> ResidualRun.train(spec("cut", 4, inMemory, 1e9),
        () -> data, KernelProvider.get(), failInStep2, StopSignal.manual()));
    assertEquals(Journal.Outcome.NOTHING,
        Journal.recover(dir.resolve("cut_w.bin"), dir.resolve("cut_h.bin")));
    assertSameModel("one", "cut");

    ResidualRun.train(spec("cut", 4, inMemory), () -> data, KernelProvider.get(),
        TrainListener.NONE, StopSignal.manual());
    assertSameModel("full", "cut");
  }

  /** Run {@code a}'s core and head files are byte for byte those of run {@code b}. */
  private void assertSameModel(String a, String b) throws IOException {
    assertArrayEquals(Files.readAllBytes(dir.resolve(a + "_w.bin")),
        Files.readAllBytes(dir.resolve(b + "_w.bin")));
    assertArrayEquals(Files.readAllBytes(dir.resolve(a + "_h.bin")),
        Files.readAllBytes(dir.resolve(b + "_h.bin")));
  }
}
