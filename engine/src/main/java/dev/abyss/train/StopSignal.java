package dev.abyss.train;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Ctrl-C (SIGINT, SIGTERM) during training: the JVM's shutdown hook asks the training loop
 * to stop after the step in progress, then waits until the loop has saved a consistent model,
 * so an interrupted run loses at most the step it was in and never leaves a torn file.
 * Use: {@code try (StopSignal s = StopSignal.install()) { ... if (s.requested()) break; ... }}.
 */
public final class StopSignal implements AutoCloseable {
  private volatile boolean requested;
  private final CountDownLatch saved = new CountDownLatch(1);
  private final Thread hook;

  private StopSignal(boolean withHook) {
    this.hook = withHook ? new Thread(this::onShutdown, "abyss-stop") : null;
    if (hook != null) {
      Runtime.getRuntime().addShutdownHook(hook);
    }
  }

  /** Installs the shutdown hook for the duration of a run. */
  public static StopSignal install() {
    return new StopSignal(true);
  }

  /** A signal that only {@link #request} sets (tests, embedding). */
  public static StopSignal manual() {
    return new StopSignal(false);
  }

  private void onShutdown() {
    requested = true;
    try {
      // saving a large in-memory core can take a while; give it time, but do not hang forever
      saved.await(30, TimeUnit.MINUTES);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Asks the loop to stop after the current step. */
  public void request() {
    requested = true;
  }

  /** Whether a stop was asked for. */
  public boolean requested() {
    return requested;
  }

  /** The run has saved its files: the shutdown may proceed. */
  @Override
  public void close() {
    saved.countDown();
    if (hook != null) {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // already shutting down: the hook is running and now returns
      }
    }
  }
}
