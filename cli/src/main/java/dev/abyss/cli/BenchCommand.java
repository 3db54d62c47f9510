package dev.abyss.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.abyss.AbyssException;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.kernel.Kernels;
import dev.abyss.run.Bench;
import dev.abyss.run.Provenance;
import dev.abyss.store.AtomicFiles;
import dev.abyss.train.ResidualTrainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** bench: the standard benchmark suite, as a table and as JSON. */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Run the standard benchmark suite (forward pass and exact step of a width-4"
        + " batch-16 softsign core in memory and streamed, eval throughput, width-32 batch-1"
        + " step, MLP step) and print medians; also written as JSON.")
final class BenchCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec cmd;

  @Option(names = "--depths", split = ",", paramLabel = "L[,L...]",
      defaultValue = "1000000,10000000",
      description = "Core depths to measure (default: ${DEFAULT-VALUE}).")
  long[] depths;

  @Option(names = "--steps", paramLabel = "N", defaultValue = "5",
      description = "Measured steps per row, after one warm-up step (default: ${DEFAULT-VALUE};"
          + " the w32 b1 rows and those of other shapes, at up to 100000 layers, take at"
          + " least 20).")
  int steps;

  @Option(names = "--threads", paramLabel = "N",
      description = "Training threads (default: train's, for each row's shape and storage:"
          + " one a core, at most 8, in memory, one fewer streamed except at w4 with"
          + " 256-bit vectors; 1 for w4 b1).")
  Integer threads;

  @Option(names = "--chunk-layers", paramLabel = "C", defaultValue = "100000",
      description = "I/O chunk (default: ${DEFAULT-VALUE}).")
  int chunk;

  @Option(names = "--eval-images", paramLabel = "N", defaultValue = "1024",
      description = "Images for the eval row, at the largest depth (default: ${DEFAULT-VALUE}: "
          + "enough that reading the core once costs a few percent, so the rate holds for "
          + "the whole test set; at most 10000, MNIST's test set: 10000 at 10M layers is the "
          + "headline eval).")
  int evalImages;

  /** The eval row's most images: MNIST's test set, what eval-dense evaluates at most. */
  static final int MAX_EVAL_IMAGES = 10_000;

  @Option(names = "--dir", paramLabel = "DIR",
      description = "Where the temporary model files go (default: the system temp dir).")
  Path dir;

  @Option(names = "--json", paramLabel = "FILE", defaultValue = "bench-results.json",
      description = "JSON output file (default: ${DEFAULT-VALUE}).")
  Path json;

  /**
   * One of the other shapes' rows alone, printed as one {@link #ROW} line: how the suite runs
   * each of them in a JVM of its own.
   */
  @Option(names = "--shape", paramLabel = "W,B", split = ",", hidden = true)
  int[] shape;

  /** The first field of the line a {@code --shape} run prints its row on. */
  static final String ROW = "abyss-bench-row";

  @Override
  public Integer call() throws Exception {
    var out = cmd.commandLine().getOut();
    if (steps < 1) {
      throw new AbyssException("--steps must be at least 1, not " + steps);
    }
    if (chunk < 1) {
      throw new AbyssException("--chunk-layers must be at least 1, not " + chunk);
    }
    if (evalImages < 1 || evalImages > MAX_EVAL_IMAGES) {
      throw new AbyssException("--eval-images must be 1 to " + MAX_EVAL_IMAGES
          + " (MNIST's test set), not " + evalImages);
    }
    if (depths.length == 0) {
      throw new AbyssException("--depths needs at least one depth, e.g. --depths 1000000");
    }
    for (long d : depths) {
      if (d < 1) {
        throw new AbyssException("--depths must be positive, not " + d);
      }
    }
    if (threads != null && threads < 1) {
      throw new AbyssException("--threads must be at least 1, not " + threads);
    }
    if (threads != null) {
      ResidualTrainer.checkThreads(threads);
    }
    int th = threads != null ? threads : 0;
    Path d = dir != null ? dir : Path.of(System.getProperty("java.io.tmpdir"));
    if (shape != null) {
      return shapeRow(out, th, d);
    }
    Kernels k = KernelProvider.get();
    int inMemory = ResidualTrainer.defaultThreads(true, k, 4, 16, Activation.SOFTSIGN);
    int streamed = ResidualTrainer.defaultThreads(false, k, 4, 16, Activation.SOFTSIGN);
    int narrow = ResidualTrainer.defaultThreads(true, k, 4, 1, Activation.SOFTSIGN);
    String thText = th > 0 ? th + " thread(s)" : "threads as train (" + inMemory
        + " in memory, " + streamed + " streamed; w4 b1 " + narrow + ")";
    Map<String, Object> prov = Provenance.collect();
    out.println("abyss bench: " + prov.get("kernels") + ", " + thText + ", " + prov.get("cpu")
        + ", " + prov.get("jdk"));
    out.println(String.format(Locale.ROOT, "%-48s %12s %-9s %10s %10s", "benchmark", "median",
        "unit", "ns/layer", "first/med"));
    List<Bench.Row> rows = Bench.run(options(th, d), r -> {
          out.println(String.format(Locale.ROOT, "%-48s %12.4f %-9s %10s %10s", r.name(),
              r.median(), r.unit(), Double.isNaN(r.perLayerNs()) ? "-"
                  : String.format(Locale.ROOT, "%.1f", r.perLayerNs()),
              r.unit().equals("images/s") || Double.isNaN(r.first()) ? "-"
                  : String.format(Locale.ROOT, "%.2f", r.first() / r.median())));
          out.flush();
        }, (w, b) -> inItsOwnJvm(w, b, th, d));
    long rss = Provenance.peakRssBytes();
    // decided by the suite's kernel warm-up, which times the halves against the whole batch
    boolean split = k.forwardSplitPays(4, 16, Activation.SOFTSIGN);
    if (k.splitsForward(4, 16, Activation.SOFTSIGN)) {
      out.println("w4 b16 forward with two threads: " + (split ? "split by samples"
          : "the whole batch on one thread (the warm-up timed the halves no faster)"));
    }
    out.println("peak RSS of this process: " + (rss < 0 ? "unknown" : AtomicFiles.human(rss)));
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("provenance", Provenance.collect()); // again: the bf16 rows warmed their conversions
    doc.put("threads", th > 0 ? th : "train's default");
    doc.put("threadsW4B16InMemory", th > 0 ? th : inMemory);
    doc.put("threadsW4B16Streamed", th > 0 ? th : streamed);
    doc.put("forwardSplitW4B16", split);
    doc.put("chunkLayers", chunk);
    doc.put("rows", rows);
    doc.put("peakRssBytes", rss);
    byte[] bytes = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
        .writeValueAsBytes(doc);
    AtomicFiles.write(json, bytes);
    out.println("results written to " + json.toAbsolutePath());
    return 0;
  }

  /** The suite's options, its model files under {@code d}/abyss-bench. */
  private Bench.Options options(int th, Path d) throws java.io.IOException {
    return new Bench.Options(depths, steps, th, chunk, evalImages,
        Files.createDirectories(d.resolve("abyss-bench")));
  }

  /** {@code --shape W,B}: that row alone, in this JVM, as one {@link #ROW} line. */
  private Integer shapeRow(java.io.PrintWriter out, int th, Path d) throws Exception {
    if (shape.length != 2) {
      throw new AbyssException("--shape takes a width and a batch, e.g. --shape 8,16");
    }
    Bench.Row r = Bench.otherShape(shape[0], shape[1], Bench.synthetic(4096, 1),
        options(th, d));
    out.println(String.join("\t", ROW, r.name(), r.unit(), Double.toString(r.median()),
        Double.toString(r.perLayerNs()), Double.toString(r.first()),
        Integer.toString(r.repeats())));
    out.flush();
    return 0;
  }

  /**
   * The row of shape (w, b) from a new JVM with this one's options and class path: run after
   * the suite's other rows in one JVM, C2 threw away kernels they share with them, and the
   * rows read up to 10 times what a run of that shape takes a step (docs/decisions.md, "The
   * other shapes' rows: a JVM each, twenty steps"). Its standard error is this one's.
   */
  private Bench.Row inItsOwnJvm(int w, int b, int th, Path d) throws java.io.IOException {
    List<String> cmdLine = new java.util.ArrayList<>();
    cmdLine.add(ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    for (String a : java.lang.management.ManagementFactory.getRuntimeMXBean()
        .getInputArguments()) {
      // not a profiler's or a recording's: they would write this one's files
      if (!a.startsWith("-agent") && !a.startsWith("-javaagent")
          && !a.startsWith("-XX:StartFlightRecording")) {
        cmdLine.add(a);
      }
    }
    cmdLine.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(),
        "bench", "--shape", w + "," + b, "--steps", Integer.toString(steps), "--chunk-layers",
        Integer.toString(chunk), "--dir", d.toString(), "--depths",
        Long.toString(depths[0])));
    if (th > 0) {
      cmdLine.addAll(List.of("--threads", Integer.toString(th)));
    }
    Process p = new ProcessBuilder(cmdLine)
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String text = new String(p.getInputStream().readAllBytes(),
        java.nio.charset.StandardCharsets.UTF_8);
    int code;
    try {
      code = p.waitFor();
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new java.io.IOException("interrupted while the w" + w + " b" + b + " row ran");
    }
    for (String line : text.split("\n")) {
      String[] f = line.split("\t");
      if (code == 0 && f.length == 7 && f[0].equals(ROW)) {
        return new Bench.Row(f[1], f[2], Double.parseDouble(f[3]), Double.parseDouble(f[4]),
            Double.parseDouble(f[5]), Integer.parseInt(f[6]));
      }
    }
    throw new AbyssException("the bench row of w" + w + " b" + b + " failed in its own JVM"
        + " (exit " + code + "): " + text.strip());
  }
}
