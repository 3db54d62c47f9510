package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.TestData;
import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.kernel.Kernels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The memory planner's default: every activation kept where that measured faster (every shape
 * but the width-4 softsign chunk kernels, batch 16 k), within a quarter of the heap in memory
 * and {@link ResidualTrainer#STREAMED_DEFAULT_BUDGET} when streamed; the bits are those of
 * checkpointing either way.
 */
class MemoryPlanTest {
  @TempDir Path dir;

  @Test
  void onlyTheWidth4And8ChunkKernelsPreferTheRecompute() {
    Kernels scalar = KernelProvider.scalar();
    Kernels vector = KernelProvider.get();
    boolean chunkPaths = vector.name().equals("vector-512");
    // at 256 bits: width 4, softsign, whole groups of 16 (Width4V8)
    boolean w4At256 = vector.name().equals("vector-256");
    for (int batch : new int[] {16, 24, 32, 37, 64}) {
      for (Activation act : new Activation[] {Activation.SOFTSIGN, Activation.RELU}) {
        assertEquals(chunkPaths
                || w4At256 && batch % 16 == 0 && act == Activation.SOFTSIGN,
            vector.prefersRecompute(4, batch, act), vector.name() + " w4 b" + batch + " " + act);
        assertEquals(chunkPaths, vector.prefersRecompute(8, batch, act),
            vector.name() + " w8 b" + batch + " " + act);
      }
    }
    for (Kernels k : new Kernels[] {scalar, vector}) {
      for (Activation act : Activation.values()) {
        for (int[] wb : new int[][] {{2, 1}, {4, 1}, {4, 4}, {4, 15}, {8, 1}, {8, 8}, {16, 16},
            {32, 1}}) {
          assertFalse(k.prefersRecompute(wb[0], wb[1], act),
              k.name() + " w" + wb[0] + " b" + wb[1] + " " + act);
        }
      }
      assertFalse(k.prefersRecompute(4, 16, Activation.TANH), k.name());
      assertFalse(k.prefersRecompute(8, 16, Activation.TANH), k.name());
    }
    assertFalse(scalar.prefersRecompute(4, 16, Activation.SOFTSIGN));
    assertFalse(scalar.prefersRecompute(8, 16, Activation.RELU));
  }

  @Test
  void stepWarmUpGivesEveryThreadThreeTurnsInAChunkAndAShortSegment() {
    // with fewer segments than threads some never ran and none took a second turn, and the
    // first real step deoptimised the turn loops (1.2-2.5x the median at 4 and 8 threads)
    for (int[] wb : new int[][] {{4, 16}, {4, 32}, {8, 16}, {8, 48}}) {
      for (int threads : new int[] {2, 3, 4, 8, 16, 64}) {
        int chunk = ResidualTrainer.warmChunk(wb[0], wb[1], threads);
        ResidualTrainer.Plan p = ResidualTrainer.plan(3L * chunk, wb[0], wb[1], chunk,
            ResidualTrainer.DEFAULT_CHECKPOINT_BYTES);
        long perChunk = (chunk + p.segment() - 1) / p.segment();
        assertTrue(perChunk >= 3L * threads,
            "w" + wb[0] + " b" + wb[1] + " threads " + threads + ": " + perChunk);
        assertTrue(chunk <= 1 << 17, "a small scratch core: " + chunk);
        // and a short last segment in each chunk, as a real run's chunks mostly have
        assertTrue(chunk % p.segment() != 0,
            "w" + wb[0] + " b" + wb[1] + " threads " + threads + ": no short segment");
      }
    }
  }

  /**
   * The default thread count leaves a core to a streamed core's I/O thread, and to a bf16 core's
   * conversion helper unless the vector conversions are in use (warmed up); an f32 core in
   * memory needs none.
   */
  @Test
  void onlyAnF32CoreOrWarmVectorConversionsLeaveEveryCoreToTraining() {
    assertTrue(ResidualTrainer.helperFree(true, dev.abyss.store.Dtype.F32));
    assertFalse(ResidualTrainer.helperFree(false, dev.abyss.store.Dtype.F32));
    assertFalse(ResidualTrainer.helperFree(false, dev.abyss.store.Dtype.BF16));
    boolean before = ResidualTrainer.helperFree(true, dev.abyss.store.Dtype.BF16);
    assertEquals(dev.abyss.store.Bf16.vectorInUse(), before);
    dev.abyss.store.Bf16.warmUp();
    assertEquals(dev.abyss.store.Bf16.vectorInUse(),
        ResidualTrainer.helperFree(true, dev.abyss.store.Dtype.BF16));
  }

  @Test
  void defaultBudgetIsAQuarterOfTheHeapInMemoryAndSmallWhenStreamed() {
    Kernels scalar = KernelProvider.scalar();
    long heap = Runtime.getRuntime().maxMemory();
    assertEquals(heap / 4,
        ResidualTrainer.defaultBudget(scalar, 2, 1, Activation.TANH, true));
    assertEquals(ResidualTrainer.STREAMED_DEFAULT_BUDGET,
        ResidualTrainer.defaultBudget(scalar, 2, 1, Activation.TANH, false));
    Kernels vector = KernelProvider.get();
    if (vector.prefersRecompute(4, 16, Activation.SOFTSIGN)) {
      assertEquals(0, ResidualTrainer.defaultBudget(vector, 4, 16, Activation.SOFTSIGN, true));
      assertEquals(0, ResidualTrainer.defaultBudget(vector, 4, 16, Activation.SOFTSIGN, false));
    }
    // wide layers keep with one thread and recompute in turns with two (the vector kernels
    // hand off there); tanh keeps either way; the scalar kernels keep
    assertEquals(heap / 4,
        ResidualTrainer.defaultBudget(vector, 32, 1, Activation.SOFTSIGN, true, 1));
    assertEquals(vector.handsOffBeforeUpdates(32, 1) ? 0 : heap / 4,
        ResidualTrainer.defaultBudget(vector, 32, 1, Activation.SOFTSIGN, true, 2));
    assertEquals(vector.handsOffBeforeUpdates(16, 16) ? 0 : heap / 4,
        ResidualTrainer.defaultBudget(vector, 16, 16, Activation.RELU, true, 2));
    assertEquals(heap / 4, ResidualTrainer.defaultBudget(vector, 16, 16, Activation.TANH, true,
        2));
    assertEquals(heap / 4,
        ResidualTrainer.defaultBudget(scalar, 32, 1, Activation.SOFTSIGN, true, 2));
  }

  private ResidualRun.TrainSpec spec(String name, boolean inMemory, long budget) {
    return new ResidualRun.TrainSpec(dir.resolve(name + "_w.bin"), dir.resolve(name + "_h.bin"),
        new CoreSpec(700L, 2, Activation.TANH, null, 0.05f, 9L),
        new CoreSpec.Defaults(1, 1, Activation.TANH, 0.001f, 1), true, inMemory, 4, 1, 300,
        true, 0.2f, 0.05f, 100, 1, false, 0, null, 0, budget);
  }

  /** Runs {@code spec} and returns the planner's lines. */
  private List<String> train(ResidualRun.TrainSpec spec, Dataset data) throws Exception {
    List<String> lines = new ArrayList<>();
    ResidualRun.train(spec, () -> data, KernelProvider.get(), new TrainListener() {
      @Override
      public void info(String line) {
        if (line.startsWith("memory plan")) {
          lines.add(line);
        }
      }
    }, StopSignal.manual());
    return lines;
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void theDefaultKeepsTheReferenceShapesActivationsWithTheSameBits(boolean inMemory)
      throws Exception {
    Dataset data = TestData.images(100, 4);
    List<String> byDefault = train(spec("auto", inMemory, ResidualRun.TrainSpec.DEFAULT_BUDGET),
        data);
    assertEquals(1, byDefault.size(), byDefault.toString());
    assertTrue(byDefault.get(0).contains("all activations kept"), byDefault.get(0));
    assertTrue(train(spec("recompute", inMemory, 0), data).isEmpty(),
        "--memory-budget 0 recomputes, silently as before");
    assertArrayEquals(Files.readAllBytes(dir.resolve("recompute_w.bin")),
        Files.readAllBytes(dir.resolve("auto_w.bin")));
    assertArrayEquals(Files.readAllBytes(dir.resolve("recompute_h.bin")),
        Files.readAllBytes(dir.resolve("auto_h.bin")));
  }
}
