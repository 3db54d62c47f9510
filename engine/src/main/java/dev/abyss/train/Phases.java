package dev.abyss.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where the time of a training step (or of several, summed) went, thread by thread: {@code
 * seconds[t][p]} is the time thread t (0: the calling thread, then the workers) spent in phase
 * p of {@link #NAMES}, of the steps' {@code stepSeconds} of wall time. The rest of a thread's
 * step (the head, the diagnostics, the loop itself; a worker's idle time) is in none.
 *
 * <p>Each phase is timed around whole segments and chunks, not layers (a few clock reads a
 * segment of some hundred layers), so that the timing costs nothing the step would show.
 */
public record Phases(double[][] seconds, double stepSeconds) {
  /**
   * The phases: kernel calls (forward, recompute, backward), waits for another thread (during
   * which a thread reads blocks of a streamed core's read-ahead, if there are any to take), and
   * the core's load, prefetch and write-back calls.
   */
  public static final String[] NAMES = {"forward", "recompute", "backward", "waiting", "io"};

  static final int FORWARD = 0;
  static final int RECOMPUTE = 1;
  static final int BACKWARD = 2;
  static final int WAITING = 3;
  static final int IO = 4;

  /** The sum of this and {@code o} thread by thread and phase by phase (null: this). */
  public Phases plus(Phases o) {
    if (o == null) {
      return this;
    }
    int threads = Math.max(seconds.length, o.seconds.length);
    double[][] s = new double[threads][NAMES.length];
    for (int t = 0; t < threads; t++) {
      for (int p = 0; p < NAMES.length; p++) {
        s[t][p] = (t < seconds.length ? seconds[t][p] : 0)
            + (t < o.seconds.length ? o.seconds[t][p] : 0);
      }
    }
    return new Phases(s, stepSeconds + o.stepSeconds);
  }

  /** Thread by thread (0: the calling thread), each phase's seconds by its name. */
  public List<Map<String, Double>> byName() {
    List<Map<String, Double>> l = new ArrayList<>();
    for (double[] t : seconds) {
      Map<String, Double> m = new LinkedHashMap<>();
      for (int p = 0; p < NAMES.length; p++) {
        m.put(NAMES[p], t[p]);
      }
      l.add(m);
    }
    return l;
  }

  /**
   * One line per thread: each phase's share of the steps' wall time, and what is left: the
   * main thread's "other" (the head, the diagnostics, the loop), a worker's "idle" (outside its
   * tasks: for example while the main thread runs a forward pass that is not split), e.g.
   * {@code main thread: forward 21%, recompute 27%, ...}.
   */
  public String describe() {
    double total = stepSeconds;
    StringBuilder sb = new StringBuilder();
    for (int t = 0; t < seconds.length; t++) {
      sb.append(t == 0 ? "main thread:" : "worker " + t + ":");
      double rest = total;
      for (int p = 0; p < NAMES.length; p++) {
        sb.append(String.format(Locale.ROOT, " %s %.0f%%,", NAMES[p],
            100 * seconds[t][p] / total));
        rest -= seconds[t][p];
      }
      sb.append(String.format(Locale.ROOT, " %s %.0f%%", t == 0 ? "other" : "idle",
          100 * Math.max(0, rest) / total));
      if (t + 1 < seconds.length) {
        sb.append('\n');
      }
    }
    return sb.toString();
  }
}
