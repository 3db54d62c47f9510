package dev.abyss.kernel;

import java.util.logging.Logger;

/**
 * Chooses the {@link Kernels} implementation once per JVM.
 *
 * <p>{@code abyss.kernels=scalar|vector} forces a path (default: vector when usable);
 * {@code abyss.vectorBits=128|256|512} forces a vector width (default: the CPU's preferred).
 * The vector class is loaded by name only after the checks pass (the incubator module is
 * present and the JIT is C2), so no static initializer touches the Vector API before then;
 * otherwise the scalar path runs and one line says how to enable the fast one.
 */
public final class KernelProvider {
  private static final Logger LOG = Logger.getLogger(KernelProvider.class.getName());
  private static final Kernels INSTANCE = choose();

  private KernelProvider() {}

  /** A kernels instance for the calling thread (each call returns a fresh one). */
  public static Kernels get() {
    return INSTANCE.fork();
  }

  /** The implementation's name: "scalar" or "vector-BITS". */
  public static String name() {
    return INSTANCE.name();
  }

  /** The scalar reference kernels. */
  public static Kernels scalar() {
    return new ScalarKernels();
  }

  /** The vector kernels at the configured width; throws when the Vector API is unusable. */
  public static Kernels vector() {
    String why = vectorUnusable();
    if (why != null) {
      throw new IllegalStateException(why);
    }
    try {
      return (Kernels) Class.forName("dev.abyss.kernel.VectorKernels")
          .getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Kernels choose() {
    String forced = System.getProperty("abyss.kernels", "auto");
    switch (forced) {
      case "scalar":
        return new ScalarKernels();
      case "auto":
      case "vector":
        break;
      default:
        throw new IllegalStateException(
            "abyss.kernels must be scalar or vector, not '" + forced + "'");
    }
    String why = vectorUnusable();
    if (why == null) {
      try {
        return (Kernels) Class.forName("dev.abyss.kernel.VectorKernels")
            .getDeclaredConstructor().newInstance();
      } catch (ReflectiveOperationException | LinkageError e) {
        why = "could not load the vector kernels (" + e + ")";
      }
    }
    if (forced.equals("vector")) {
      throw new IllegalStateException("abyss.kernels=vector but " + why);
    }
    LOG.warning("abyss: using the scalar kernels: " + why);
    return new ScalarKernels();
  }

  private static String vectorUnusable() {
    if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
      return "the Vector API module is missing; pass --add-modules jdk.incubator.vector";
    }
    String vm = System.getProperty("java.vm.name", "");
    if (vm.contains("Zero") || vm.contains("Client")) {
      return "this JVM (" + vm + ") has no C2 compiler to make the Vector API fast";
    }
    return null;
  }
}
