package dev.abyss.train;

import dev.abyss.nn.HeadParams;

/**
 * Sees every gradient of a step (diagnostics, tests): the head's just before the optimiser
 * applies them, a segment of core layers' just after. Arrays are only valid during the call.
 */
public interface GradientTap {
  /** Gradient of core layer {@code layer}: gW (W x W), gb (W). Layers arrive L-1 .. 0. */
  void core(long layer, float[] gW, float[] gb);

  /** Head gradients: second layer filled first ({@code second}), then the first. */
  void head(HeadParams grad, boolean second);
}
