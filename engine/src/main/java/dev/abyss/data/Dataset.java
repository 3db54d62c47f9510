package dev.abyss.data;

import dev.abyss.AbyssException;

/**
 * Labelled images in memory: pixels as unsigned bytes (N, 784) and labels (N).
 *
 * @param name for messages ("MNIST train")
 */
public record Dataset(String name, int count, int inputs, byte[] pixels, int base,
    byte[] labels) {

  /** A dataset whose pixels start at index 0. */
  public Dataset(String name, int count, int inputs, byte[] pixels, byte[] labels) {
    this(name, count, inputs, pixels, 0, labels);
  }

  public static Dataset of(String name, Idx.Images images, byte[] labels) {
    if (images.count() != labels.length) {
      throw new AbyssException(name + ": " + images.count() + " images but " + labels.length
          + " labels; the files do not belong together");
    }
    return new Dataset(name, images.count(), images.pixelsPerImage(), images.pixels(),
        images.offset(), labels);
  }

  public int label(int i) {
    return labels[i];
  }

  /**
   * Copies images {@code idx} into {@code x} (B, inputs) sample-major, scaled by 1/255.
   */
  public void fill(int[] idx, int n, float[] x) {
    for (int b = 0; b < n; b++) {
      int src = base + idx[b] * inputs;
      int dst = b * inputs;
      for (int p = 0; p < inputs; p++) {
        x[dst + p] = (pixels[src + p] & 0xff) / 255f;
      }
    }
  }

  /**
   * Runs {@link #fill} on scratch images until the JIT has compiled it (fifty batches of
   * {@code batch} MNIST-sized images), so that a run's first step does not convert its batch
   * in the interpreter. Changes nothing a run can see.
   */
  public static void warmUp(int batch) {
    int n = Math.max(1, batch);
    Dataset d = new Dataset("warm-up", n, 784, new byte[n * 784], new byte[n]);
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) {
      idx[i] = i;
    }
    float[] x = new float[n * 784];
    for (int r = 0; r < 50; r++) {
      d.fill(idx, n, x);
    }
  }

  /** The pixel (0..255) {@code p} of image {@code i}. */
  public int pixel(int i, int p) {
    return pixels[base + i * inputs + p] & 0xff;
  }

  /** A copy of the first {@code n} items. */
  public Dataset head(int n) {
    if (n > count) {
      throw new AbyssException(name + " has " + count + " items, fewer than the " + n
          + " asked for");
    }
    byte[] px = java.util.Arrays.copyOfRange(pixels, base, base + n * inputs);
    byte[] lb = java.util.Arrays.copyOf(labels, n);
    return new Dataset(name, n, inputs, px, lb);
  }
}
