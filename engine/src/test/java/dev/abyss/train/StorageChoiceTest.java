package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.AbyssException;
import dev.abyss.kernel.Activation;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.Dtype;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Where a training run keeps its core: as --in-memory or --streamed say, or, given neither, in
 * memory when the core's weights take at most {@link ResidualRun#SMALL_CORE_BYTES}; and how
 * often each kind of run saves by default.
 */
class StorageChoiceTest {

  private static ResidualRun.TrainSpec spec(boolean inMemory, boolean streamed,
      double checkpointSeconds) {
    return new ResidualRun.TrainSpec(Path.of("w.bin"), Path.of("h.bin"),
        new CoreSpec(null, null, null, null, null, null),
        new CoreSpec.Defaults(1000, 4, Activation.SOFTSIGN, 0.01f, 1), true, inMemory, 10, 16,
        1000, false, 0.01f, 0.01f, 100, 0, false, checkpointSeconds, null, 0,
        ResidualRun.TrainSpec.DEFAULT_BUDGET, streamed);
  }

  /** A width-4 f32 core whose weights take {@code bytes} or just under. */
  private static CoreHeader coreOf(long bytes, Dtype dtype) {
    CoreHeader one = CoreHeader.create(4, 1, Activation.SOFTSIGN, 0.01f, 0.01f, 1, 2, dtype);
    long layers = bytes / one.layerBytes();
    return CoreHeader.create(4, layers, Activation.SOFTSIGN, 0.01f, 0.01f, 1, 2, dtype);
  }

  @Test
  void smallCoresAreHeldInMemoryUnlessStreamingIsAskedFor() {
    long limit = ResidualRun.SMALL_CORE_BYTES;
    CoreHeader small = coreOf(limit, Dtype.F32);
    CoreHeader large = coreOf(limit + 2 * small.layerBytes(), Dtype.F32);
    assertTrue(small.dataBytes() <= limit && large.dataBytes() > limit);
    var auto = spec(false, false, -1);
    assertTrue(auto.holdsInMemory(small));
    assertFalse(auto.holdsInMemory(large));
    // bf16 counts its bytes in the file: twice the layers fit
    assertTrue(auto.holdsInMemory(coreOf(limit, Dtype.BF16)));
    assertFalse(spec(false, true, -1).holdsInMemory(small));
    assertTrue(spec(true, false, -1).holdsInMemory(large));
  }

  @Test
  void onlyAnExplicitInMemoryRunSavesOnlyAtItsEnd() {
    assertEquals(Double.POSITIVE_INFINITY, spec(true, false, -1).checkpointEvery());
    assertEquals(ResidualRun.DEFAULT_CHECKPOINT_SECONDS, spec(false, false, -1).checkpointEvery());
    assertEquals(ResidualRun.DEFAULT_CHECKPOINT_SECONDS, spec(false, true, -1).checkpointEvery());
    assertEquals(0, spec(true, false, 0).checkpointEvery());
    assertEquals(5, spec(false, false, 5).checkpointEvery());
  }

  @Test
  void bothModesAtOnceAreRefused() {
    AbyssException e = assertThrows(AbyssException.class, () -> spec(true, true, -1));
    assertTrue(e.getMessage().contains("--in-memory and --streamed"), e.getMessage());
  }

  @Test
  void theOldConstructorStreamsUnlessInMemory() {
    var old = new ResidualRun.TrainSpec(Path.of("w.bin"), Path.of("h.bin"),
        new CoreSpec(null, null, null, null, null, null),
        new CoreSpec.Defaults(1000, 4, Activation.SOFTSIGN, 0.01f, 1), true, false, 10, 16,
        1000, false, 0.01f, 0.01f, 100, 0, false, -1, null, 0, 0);
    assertFalse(old.holdsInMemory(coreOf(1 << 20, Dtype.F32)));
  }
}
