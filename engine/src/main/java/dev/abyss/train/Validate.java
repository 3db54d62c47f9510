package dev.abyss.train;

import dev.abyss.AbyssException;

/** Up-front checks of flag values, each failing with one actionable line. */
public final class Validate {
  private Validate() {}

  public static void positive(String flag, long v) {
    if (v < 1) {
      throw new AbyssException("--" + flag + " must be at least 1, not " + v);
    }
  }

  public static void learningRate(String flag, float v) {
    if (!Float.isFinite(v) || v < 0) {
      throw new AbyssException("--" + flag + " must be a finite number >= 0, not " + v);
    }
  }

  public static void coreShape(int width, long layers) {
    positive("width", width);
    positive("layers", layers);
    if (width > 4096) {
      throw new AbyssException("--width " + width + " is too large (at most 4096)");
    }
  }

  public static void training(long steps, int batch, int chunk, float layerLr, float headLr,
      int trainLimit) {
    if (steps < 0) {
      throw new AbyssException("--steps must be >= 0, not " + steps);
    }
    positive("batch", batch);
    positive("chunk-layers", chunk);
    positive("train-limit", trainLimit);
    learningRate("layer-lr", layerLr);
    learningRate("head-lr", headLr);
    if (batch > trainLimit) {
      throw new AbyssException("--batch " + batch + " is larger than --train-limit "
          + trainLimit + ": raise --train-limit or lower --batch");
    }
  }
}
