package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** A run warms the JIT up from its size threshold on, unless {@code abyss.warmUp=false}. */
class WarmUpSwitchTest {

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
