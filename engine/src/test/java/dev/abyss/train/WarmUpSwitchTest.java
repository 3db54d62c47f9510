package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.TestData;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.store.Dtype;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * A run warms the JIT up from its size threshold on, unless {@code abyss.warmUp=false}; the
 * step warm-up trains a scratch core of the run's kind and leaves nothing behind.
 */
class WarmUpSwitchTest {

  /**
   * A streamed scratch core writes a shadow core beside it (never committed): the warm-up
   * removes it with the core and its directory, f32 and bf16 alike, one thread or two.
   */
  @Test
  void streamedStepWarmUpLeavesNoFilesBehind() throws Exception {
    Path tmp = Paths.get(System.getProperty("java.io.tmpdir"));
    java.util.Set<Path> before = warmUpDirs(tmp);
    for (Dtype dt : new Dtype[] {Dtype.F32, Dtype.BF16}) {
      double s = ResidualTrainer.warmUp(4, Activation.SOFTSIGN, 16, 2, KernelProvider.get(),
          TestData.images(64, 5), dt, false, true);
      assertTrue(s > 0, "two threads warm up: " + s);
    }
    // one thread streamed warms up too (the other core is the I/O thread's); in memory not
    assertTrue(ResidualTrainer.warmUp(4, Activation.SOFTSIGN, 16, 1, KernelProvider.get(),
        TestData.images(64, 5), Dtype.F32, false, true) > 0, "one thread, streamed");
    assertEquals(0, ResidualTrainer.warmUp(4, Activation.SOFTSIGN, 16, 1, KernelProvider.get(),
        TestData.images(64, 5), Dtype.F32, false, false), "one thread, in memory");
    assertArrayEquals(before.toArray(), warmUpDirs(tmp).toArray(), "scratch left in " + tmp);
  }

  private static java.util.Set<Path> warmUpDirs(Path tmp) throws IOException {
    try (Stream<Path> l = Files.list(tmp)) {
      return l.filter(p -> p.getFileName().toString().startsWith("abyss-warm-up"))
          .collect(java.util.stream.Collectors.toCollection(java.util.TreeSet::new));
    }
  }

  /**
   * An eval warms up where a kernel call's loop is long (its first call would run in the
   * interpreter for seconds) or the whole is large, not for a small shallow one.
   */
  @Test
  void evalWarmsUpFromTheLengthOfAKernelCall() {
    assertTrue(ResidualEvaluator.worthWarming(128, 10_000_000, 100_000), "128 images at 10M");
    assertTrue(ResidualEvaluator.worthWarming(128, 100_000, 100_000), "128 images at 100k");
    assertTrue(ResidualEvaluator.worthWarming(1, 60_000, 1_000_000), "at the threshold");
    assertFalse(ResidualEvaluator.worthWarming(100, 10_000, 100_000), "the smoke run's eval");
    assertFalse(ResidualEvaluator.worthWarming(3000, 30_000, 100_000), "shallow, short calls");
    assertFalse(ResidualEvaluator.worthWarming(128, 1_000_000, 1000),
        "deep, but short calls and little work");
    assertTrue(ResidualEvaluator.worthWarming(10_000, 1_000_000, 1000), "2e9 image-layers");
  }

  @Test
  void warmUpFollowsTheRunsSizeAndTheSwitch() {
    String before = System.getProperty("abyss.warmUp");
    try {
      System.clearProperty("abyss.warmUp");
      assertTrue(ResidualRun.warmsUp(2e6, 1e6), "a long run warms up by default");
      assertTrue(ResidualRun.warmsUp(1e6, 1e6), "the threshold itself warms up");
      assertFalse(ResidualRun.warmsUp(9e5, 1e6), "a short run does not");
      System.setProperty("abyss.warmUp", "false");
      assertFalse(ResidualRun.warmsUp(2e6, 1e6), "switched off");
      System.setProperty("abyss.warmUp", "true");
      assertTrue(ResidualRun.warmsUp(2e6, 1e6), "switched on");
    } finally {
      if (before == null) {
        System.clearProperty("abyss.warmUp");
      } else {
        System.setProperty("abyss.warmUp", before);
      }
    }
  }
}
