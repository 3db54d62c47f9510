package dev.abyss.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Every chunk kernel must compile with C1 at its full-profile tier. A kernel C1 gives up on
 * ("out of virtual registers") can be caught by the JIT at its limited-profile tier (when C2's
 * queue is long, as during train's warm-up) and then never reach C2: the Vector API then runs
 * there 50-200x slower (docs/decisions.md, tanh in the chunk kernels). A small benchmark does
 * not show it, since there C2's queue is short. This runs {@link C1Exerciser} in a JVM with C1
 * only and reads its compilation log: no kernel skipped, and each one listed compiled (so the
 * check is not vacuous).
 */
class KernelsCompileUnderC1Test {

  /** The vector-heavy kernels the exerciser reaches (class::method, as the JVM prints them). */
  static final String[] KERNELS = {
    "Width4::forwardSoftsign", "Width4::forwardSoftsign2", "Width4::forwardSoftsignHalf", "Width4::forwardRelu",
    "Width4::forwardTanh", "Width4::tanh4", "Width4::forwardSaveSoftsign",
    "Width4::forwardSaveSoftsignPair",
    "Width4::forwardSaveSoftsignGroup", "Width4::forwardSaveReluGroup",
    "Width4::forwardSaveTanhGroup", "Width4::backwardUpdate", "Width4::updates",
    "Width4::dhChain", "Width4::dhChain2", "Width4::updatesGroups",
    "Width8::forwardSoftsign", "Width8::forwardSoftsignHalf", "Width8::forwardRelu", "Width8::forwardTanh",
    "Width8::forwardSaveSoftsign", "Width8::forwardSaveRelu", "Width8::forwardSaveTanh",
    "Width8::dhChain", "Width8::updates",
    "Rows::forward", "Rows::forward8", "Rows::backwardUpdate", "Rows::backwardUpdate8",
    "VectorKernels::affineBlock", "VectorKernels::transpose16", "VectorKernels::wideRows8",
    "VectorKernels::inputGradBlock", "VectorKernels::affineRowFull",
    "VectorKernels::backwardRowUpdate"
  };

  /**
   * The kernels of {@link Width4V8}, {@link Width8V8} and the others reached only with 256-bit
   * vectors.
   */
  static final String[] KERNELS_256 = {
    "Width4V8::forwardSoftsign", "Width4V8::forwardSoftsign2", "Width4V8::forwardSoftsignSkewed",
    "Width4V8::forwardSaveSoftsign", "Width4V8::dhChain", "Width4V8::updates",
    "Width4V8::forwardRelu",
    "Width4V8::forwardSaveRelu", "Width4V8::forwardTanh", "Width4V8::forwardSaveTanh",
    "Width4V8::tanh4", "VectorKernels::dhRows8",
    "Width8V8::dhChain", "Width8V8::updates", "VectorKernels::transpose8"
  };

  @Test
  void everyChunkKernelCompilesWithC1() throws IOException, InterruptedException {
    compilesWithC1(512, KERNELS);
  }

  @Test
  void every256BitChunkKernelCompilesWithC1() throws IOException, InterruptedException {
    compilesWithC1(256, KERNELS_256);
  }

  private static void compilesWithC1(int bits, String[] kernels)
      throws IOException, InterruptedException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> cmd = new ArrayList<>(List.of(java.toString(),
        "--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC", "-Xmx512m",
        // -Xbatch: each compilation finishes before the call goes on, so none is still
        // running when the exerciser exits
        "-Xbatch", "-XX:TieredStopAtLevel=3", "-XX:CompileThresholdScaling=0.1",
        "-XX:+PrintCompilation",
        "-Dabyss.vectorBits=" + bits, "-cp", System.getProperty("java.class.path"),
        C1Exerciser.class.getName(), "40"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the exerciser did not finish");
    assertEquals(0, p.exitValue(), "the exerciser failed:\n" + tail(log));
    assertTrue(log.contains("exercised"), tail(log));
    List<String> skipped = new ArrayList<>();
    for (String line : log.split("\n")) {
      if (line.contains("dev.abyss.kernel.") && line.contains("COMPILE SKIPPED")) {
        skipped.add(line.strip());
      }
    }
    assertTrue(skipped.isEmpty(), "C1 gave up on:\n" + String.join("\n", skipped));
    List<String> missing = new ArrayList<>();
    for (String k : kernels) {
      Pattern compiled = Pattern.compile("\\s3\\s+dev\\.abyss\\.kernel\\." + Pattern.quote(k)
          + " \\(");
      if (!compiled.matcher(log).find()) {
        missing.add(k);
      }
    }
    assertTrue(missing.isEmpty(), "not compiled at tier 3 (the exerciser did not reach them?): "
        + missing);
  }

  private static String tail(String log) {
    return log.length() <= 4000 ? log : log.substring(log.length() - 4000);
  }
}
