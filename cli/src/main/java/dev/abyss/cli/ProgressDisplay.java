package dev.abyss.cli;

import dev.abyss.train.StepResult;
import dev.abyss.train.TrainListener;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar over the steps (rate, ETA, current loss) on the terminal's stderr; absent
 * when stderr is not a terminal (CI, logs) or with --quiet.
 */
final class ProgressDisplay implements TrainListener, AutoCloseable {
  private final ProgressBar bar;

  private ProgressDisplay(ProgressBar bar) {
    this.bar = bar;
  }

  /** A bar when attached to a terminal and not quiet; otherwise a listener doing nothing. */
  static ProgressDisplay open(String task, long steps, boolean quiet) {
    return bar(task, steps, " steps", 1, quiet);
  }

  private static ProgressDisplay bar(String task, long max, String unit, long unitSize,
      boolean quiet) {
    if (quiet || System.console() == null || max <= 0) {
      return new ProgressDisplay(null);
    }
    return new ProgressDisplay(new ProgressBarBuilder().setTaskName(task).setInitialMax(max)
        .setStyle(ProgressBarStyle.ASCII).setUnit(unit, unitSize).showSpeed()
        .setConsumer(new ConsoleProgressBarConsumer(System.err)).build());
  }

  /**
   * A bar over a core's layers (init, eval), in millions; the returned display's {@link
   * #layersDone} is the progress callback.
   */
  static ProgressDisplay layers(String task, long layers, boolean quiet) {
    return bar(task, layers, "M layers", 1_000_000, quiet);
  }

  /** Progress callback: {@code done} layers so far. */
  void layersDone(long done) {
    if (bar != null) {
      bar.stepTo(done);
    }
  }

  @Override
  public void onStart(long steps) {
    if (bar != null) {
      bar.maxHint(steps);
    }
  }

  /** Inside a long step: which pass, how far (the bar itself moves once per step). */
  @Override
  public void onProgress(long step, String phase, long done, long layers) {
    if (bar != null) {
      bar.setExtraMessage(String.format(Locale.ROOT, " step %d %s %.0f%%", step + 1, phase,
          100.0 * done / layers));
    }
  }

  @Override
  public void onStep(StepResult r) {
    if (bar != null) {
      bar.step();
      bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f", r.meanLoss()));
    }
  }

  @Override
  public void close() {
    if (bar != null) {
      bar.close();
    }
  }
}
