package dev.abyss.run;

import dev.abyss.kernel.KernelProvider;
import dev.abyss.store.Bf16;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Where and with what a run or benchmark ran: JDK, CPU, kernels (and the bf16 conversions),
 * git revision.
 */
public final class Provenance {
  private Provenance() {}

  public static Map<String, Object> collect() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("abyss", "0.1.0");
    m.put("jdk", System.getProperty("java.vm.vendor") + " " + Runtime.version());
    m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
        + System.getProperty("os.arch"));
    m.put("cpu", cpuModel());
    m.put("cores", Runtime.getRuntime().availableProcessors());
    m.put("kernels", KernelProvider.name());
    // those in use now: the vector ones once warmed up (Bf16.warmUp), else the scalar loops
    m.put("bf16Conversions", Bf16.vectorInUse() ? Bf16.bulkName() : "scalar");
    m.put("gitRevision", gitRevision());
    return m;
  }

  static String cpuModel() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (l.startsWith("model name")) {
          return l.substring(l.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: fall through
    }
    return System.getProperty("os.arch");
  }

  /**
   * The git revision of the sources this code was built from: that of the repository holding
   * its jar (or classes directory), not of the working directory, which may be another
   * repository or none; "-dirty" when tracked files there have changes not committed;
   * "unknown" without git or outside a repository.
   */
  static String gitRevision() {
    Path dir = codeDirectory();
    String rev = dir == null ? null : git(dir, "rev-parse", "--short", "HEAD");
    if (rev == null || rev.isEmpty()) {
      return "unknown";
    }
    String changes = git(dir, "status", "--porcelain", "--untracked-files=no");
    return changes == null || changes.isEmpty() ? rev : rev + "-dirty";
  }

  /** The directory of this class's jar, or its classes directory; null if unknown. */
  static Path codeDirectory() {
    try {
      Path p = Path.of(Provenance.class.getProtectionDomain().getCodeSource().getLocation()
          .toURI());
      return Files.isDirectory(p) ? p : p.getParent();
    } catch (java.net.URISyntaxException | RuntimeException e) {
      return null;
    }
  }

  /** git's output for {@code args} run in {@code dir}, trimmed; null if it failed. */
  private static String git(Path dir, String... args) {
    try {
      String[] cmd = new String[args.length + 3];
      cmd[0] = "git";
      cmd[1] = "-C";
      cmd[2] = dir.toString();
      System.arraycopy(args, 0, cmd, 3, args.length);
      Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
      String out = new String(p.getInputStream().readAllBytes()).trim();
      if (p.waitFor(5, TimeUnit.SECONDS) && p.exitValue() == 0) {
        return out;
      }
      p.destroy();
    } catch (IOException e) {
      // no git
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return null;
  }

  /** Peak resident set size of this process in bytes (Linux), or -1. */
  public static long peakRssBytes() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (l.startsWith("VmHWM:")) {
          return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return -1;
  }
}
