package dev.abyss.train;

import dev.abyss.nn.HeadParams;

/**
 * Sees every gradient of a step (diagnostics, tests): the head's just before the optimiser
 * applies them, a segment of core layers' just after. Arrays are only valid during the call.
 */
public interface GradientTap {
  /** Gradient of core layer {@code layer}: gW (W x W), gb (W). Layers arrive L-1 .. 0. */
  void core(long layer, float[] gW, float[] gb);

  /**
   * Gradients of core layers {@code first .. first + count - 1}: layer {@code first + l}'s gW
   * (W x W) then gb (W) at {@code grads[l * (W * W + W)]}. The default passes them on to
   * {@link #core} one layer at a time, highest first.
   */
  default void coreRange(long first, int count, float[] grads, int w) {
    int lf = w * w + w;
    float[] gW = new float[w * w];
    float[] gb = new float[w];
    for (int l = count - 1; l >= 0; l--) {
      System.arraycopy(grads, l * lf, gW, 0, w * w);
      System.arraycopy(grads, l * lf + w * w, gb, 0, w);
      core(first + l, gW, gb);
    }
  }

  /** Head gradients: second layer filled first ({@code second}), then the first. */
  void head(HeadParams grad, boolean second);
}
