package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.TestData;
import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.store.CoreFile;
import dev.abyss.store.HeadFile;
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

  private ResidualRun.TrainSpec spec(String name, long steps, boolean inMemory) {
    return new ResidualRun.TrainSpec(dir.resolve(name + "_w.bin"), dir.resolve(name + "_h.bin"),
        new CoreSpec(300L, 4, Activation.SOFTSIGN, null, 0.05f, 9L),
        new CoreSpec.Defaults(1, 1, Activation.TANH, 0.001f, 1), true, inMemory, steps, 16, 64,
        true, 0.2f, 0.05f, 100, 1, false, 0);
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
    assertArrayEquals(Files.readAllBytes(dir.resolve("full_w.bin")),
        Files.readAllBytes(dir.resolve("cut_w.bin")));
    assertArrayEquals(Files.readAllBytes(dir.resolve("full_h.bin")),
        Files.readAllBytes(dir.resolve("cut_h.bin")));
  }
}
