package dev.abyss;

import dev.abyss.data.Dataset;
import java.util.SplittableRandom;

/** Small generated datasets for unit tests (no MNIST needed). */
public final class TestData {
  private TestData() {}

  /** n images of 784 pixels, about 30% non-zero, labels 0..9, from a fixed seed. */
  public static Dataset images(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    byte[] px = new byte[n * 784];
    byte[] lb = new byte[n];
    for (int i = 0; i < n; i++) {
      lb[i] = (byte) r.nextInt(10);
      for (int p = 0; p < 784; p++) {
        if (r.nextInt(10) < 3) {
          px[i * 784 + p] = (byte) r.nextInt(256);
        }
      }
    }
    return new Dataset("generated", n, 784, px, lb);
  }
}
