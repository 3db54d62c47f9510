package dev.abyss.train;

/** Receives training events; reporting lives in listeners, not in the trainer. */
public interface TrainListener {
  /** A one-line note for the user (a file was created, data was fetched, ...). */
  default void info(String line) {}

  /** Called once before the first step with the number of steps this run will do. */
  default void onStart(long steps) {}

  /** Called after each step with what it saw. */
  default void onStep(StepResult r) {}

  /**
   * Progress inside a step, after each chunk: {@code phase} is "forward" or "backward",
   * {@code done} of {@code layers} layers. For very deep cores, where one step takes minutes.
   */
  default void onProgress(long step, String phase, long done, long layers) {}

  /** Listener that ignores everything. */
  TrainListener NONE = new TrainListener() {};
}
