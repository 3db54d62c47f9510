package dev.abyss.kernel;

/**
 * Chooses the {@link Kernels} implementation once per JVM.
 *
 * <p>The system property {@code abyss.kernels=scalar|vector} forces a path. Today only the
 * scalar reference path exists; the Vector API implementation slots in here, loaded by
 * name after its checks pass, so that nothing touches {@code jdk.incubator.vector} before
 * then.
 */
public final class KernelProvider {
  private static final Kernels INSTANCE = choose();

  private KernelProvider() {}

  /** The kernels this JVM uses. */
  public static Kernels get() {
    return INSTANCE;
  }

  private static Kernels choose() {
    String forced = System.getProperty("abyss.kernels", "auto");
    return switch (forced) {
      case "scalar", "auto", "vector" -> new ScalarKernels();
      default ->
          throw new IllegalStateException(
              "abyss.kernels must be scalar or vector, not '" + forced + "'");
    };
  }
}
