package dev.abyss.kernel;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;

/**
 * A warm-up's stopping rule: whether the JIT has compiled nothing for a while, from the JVM's
 * total compilation time. Where the JVM does not report that time, it is always quiet and the
 * warm-up relies on its other tests.
 */
public final class JitQuiet {
  private final CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
  private final boolean observable = jit != null && jit.isCompilationTimeMonitoringSupported();
  private long compileMs = observable ? jit.getTotalCompilationTime() : 0;
  private long since = System.nanoTime();

  /** Whether this JVM reports its compilation time. */
  public boolean observable() {
    return observable;
  }

  /** Notes a compilation since the last call, if there was one. */
  public void poll() {
    if (observable) {
      long now = jit.getTotalCompilationTime();
      if (now != compileMs) {
        compileMs = now;
        since = System.nanoTime();
      }
    }
  }

  /** Whether, as of the last {@link #poll}, nothing was compiled for {@code millis} ms. */
  public boolean quietFor(long millis) {
    return !observable || System.nanoTime() - since >= millis * 1_000_000L;
  }
}
