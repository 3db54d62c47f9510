package dev.abyss.train;

import dev.abyss.AbyssException;

/** The loss became NaN or infinite; raised before the step changes any weight. */
public final class DivergedException extends AbyssException {
  private static final long serialVersionUID = 1L;
  public final long step;

  public DivergedException(long step, double loss) {
    super("training diverged at step " + (step + 1) + " (loss " + loss + "); the weights are"
        + " kept as they were after step " + step + ". Try a smaller --layer-lr / --head-lr");
    this.step = step;
  }
}
