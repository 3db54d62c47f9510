package dev.abyss.train;

import dev.abyss.nn.HeadParams;

/**
 * Sees every gradient of a step just before the optimiser applies it (diagnostics, tests).
 * Arrays are only valid during the call.
 */
public interface GradientTap {
  /** Gradient of core layer {@code layer}: gW (W x W), gb (W). Layers arrive L-1 .. 0. */
  void core(long layer, float[] gW, float[] gb);

  /** Head gradients: second layer filled first ({@code second}), then the first. */
  void head(HeadParams grad, boolean second);
}
