package dev.abyss.train;

import dev.abyss.nn.HeadParams;
import java.util.HashMap;
import java.util.Map;

/** A tap that keeps a copy of every gradient of a step: each core layer's, and the head's. */
final class GradientRecorder implements GradientTap {
  final int width;
  /** Layer -> gW (W x W) then gb (W). */
  final Map<Long, float[]> core = new HashMap<>();
  /** The head's gradient, laid out as its parameters. */
  final float[] head;

  GradientRecorder(int width, int headParams) {
    this.width = width;
    this.head = new float[headParams];
  }

  @Override
  public void core(long layer, float[] gW, float[] gb) {
    float[] g = new float[width * width + width];
    System.arraycopy(gW, 0, g, 0, width * width);
    System.arraycopy(gb, 0, g, width * width, width);
    core.put(layer, g);
  }

  @Override
  public void head(HeadParams grad, boolean second) {
    int from = second ? grad.w2 : grad.w1;
    int to = second ? grad.p.length : grad.w2;
    System.arraycopy(grad.p, from, head, from, to - from);
  }
}
