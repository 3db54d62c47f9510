package dev.abyss.cli;

import dev.abyss.train.StepResult;
import dev.abyss.train.TrainListener;
import java.io.PrintWriter;
import java.util.Locale;

/** Prints the mean loss and accuracy of the last window of steps every N steps. */
final class Reporter implements TrainListener {
  private final PrintWriter out;
  private final TrainListener also;
  private final boolean quiet;
  private final int every;
  private long total;
  private long seen;
  private double loss;
  private long correct;
  private long samples;
  private double seconds;
  private long lastLine = System.nanoTime();
  /** Seconds between progress lines inside a long step. */
  static final double PROGRESS_SECONDS = 30;
  double progressSeconds = PROGRESS_SECONDS;

  Reporter(PrintWriter out, int every, long total) {
    this(out, every, total, false, TrainListener.NONE);
  }

  /** With --quiet only info lines are printed; {@code also} sees every step too. */
  Reporter(PrintWriter out, int every, long total, boolean quiet, TrainListener also) {
    this.out = out;
    this.quiet = quiet;
    this.also = also;
    this.every = Math.max(1, every);
    this.total = total;
  }

  @Override
  public void info(String line) {
    out.println(line);
  }

  /** The run's own step count (with --resume, what is left, not the flag's value). */
  @Override
  public void onStart(long steps) {
    total = steps;
    also.onStart(steps);
  }

  @Override
  public void onProgress(long step, String phase, long done, long layers) {
    also.onProgress(step, phase, done, layers);
    long now = System.nanoTime();
    if (!quiet && (now - lastLine) / 1e9 >= progressSeconds) {
      out.println(String.format(Locale.ROOT, "  step %d: %s %.0f%% (%d of %d layers)",
          step + 1, phase, 100.0 * done / layers, done, layers));
      out.flush();
      lastLine = now;
    }
  }

  @Override
  public void onStep(StepResult r) {
    lastLine = System.nanoTime();
    also.onStep(r);
    seen++;
    loss += r.lossSum();
    correct += r.correct();
    samples += r.batch();
    seconds += r.seconds();
    if (!quiet && (seen % every == 0 || seen == total)) {
      long n = seen % every == 0 ? every : seen % every;
      out.println(String.format(Locale.ROOT,
          "step %d/%d (model step %d)  loss %.4f  acc %.4f  %.3f s/step",
          seen, total, r.step() + 1, loss / samples, (double) correct / samples, seconds / n));
      out.flush();
      loss = 0;
      correct = 0;
      samples = 0;
      seconds = 0;
    }
  }
}
