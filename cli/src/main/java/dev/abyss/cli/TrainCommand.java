package dev.abyss.cli;

import dev.abyss.kernel.KernelProvider;
import dev.abyss.train.ResidualRun;
import dev.abyss.train.StopSignal;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** train: exact chunk-checkpointed SGD on the residual model. */
@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Train the model with exact chunk-checkpointed SGD: --steps N more steps from"
        + " the weights on disk (created when missing). Defaults: width 2, tanh, layer-lr 0.05,"
        + " chunk 1000000.")
class TrainCommand extends CoreOptions implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec cmd;
  @Mixin DataOptions data;

  @Option(names = "--steps", paramLabel = "N", defaultValue = "100",
      description = "SGD steps to run, continuing from the step the files are at (default:"
          + " ${DEFAULT-VALUE}).")
  long steps;

  @Option(names = "--batch", paramLabel = "B", defaultValue = "1",
      description = "Minibatch size (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--chunk-layers", paramLabel = "C",
      description = "Layers per checkpoint chunk: memory holds L/C boundaries plus one chunk's"
          + " activations (default: 1000000; 100000 for train-dense).")
  Integer chunkLayers;

  @Option(names = "--layer-lr", paramLabel = "LR",
      description = "Learning rate of the core layers (default: 0.05; 0.01 for train-dense).")
  Float layerLr;

  @Option(names = "--head-lr", paramLabel = "LR", defaultValue = "0.01",
      description = "Learning rate of the input projection and classifier (default:"
          + " ${DEFAULT-VALUE}).")
  float headLr;

  @Option(names = "--train-limit", paramLabel = "N", defaultValue = "60000",
      description = "Draw minibatches (uniformly, with replacement) from the first N training"
          + " images (default: ${DEFAULT-VALUE}).")
  int trainLimit;

  @Option(names = "--json",
      description = "End with the run's summary as one JSON object (implies --quiet).")
  boolean json;

  @Option(names = "--quiet",
      description = "No progress bar and no per-step report lines; only the outcome.")
  boolean quiet;

  @Option(names = "--report-every", paramLabel = "N", defaultValue = "10",
      description = "Print mean loss and accuracy over the last N steps (default:"
          + " ${DEFAULT-VALUE}).")
  int reportEvery;

  @Option(names = "--threads", paramLabel = "N",
      description = "Threads for a step: N take a chunk's segments in turns, each"
          + " recomputing its next segment (unless every activation is kept) and updating its"
          + " last while another runs the dh chain of its own; two of them split the forward"
          + " by samples at widths 4 and 8 where the kernels' warm-up timed that faster."
          + " Default: one a core, at most 8, in memory;"
          + " streamed, one core fewer (the file's reads and writes run on a core of their"
          + " own) except at width 4 with 256-bit vectors (AVX2), where the step leaves them"
          + " room; 1 where the threads have nothing to share: batch 1 at widths up to 8 or"
          + " not a multiple of the vector lanes, widths 4 and 8 at batches that are not a"
          + " multiple of 16 (at 512 bits, where they run padded), the scalar kernels. Results"
          + " are bit-identical for any value.")
  Integer threads;

  @Option(names = "--memory-budget", paramLabel = "SIZE", converter = SizeConverter.class,
      description = "Memory a step may use to keep every layer's activations from the forward"
          + " pass, so that the backward recomputes nothing (e.g. 512m, 4g; 0 always"
          + " recomputes). Default: keep them if they fit in a quarter of the Java heap (64m"
          + " when streamed), except at widths 4 and 8, softsign or relu, batch 16 and more,"
          + " whose checkpoint-and-recompute kernels measured faster than writing every"
          + " activation to memory and reading it back (docs/decisions.md). Results are"
          + " bit-identical either way.")
  Long memoryBudget;

  @Option(names = "--resume",
      description = "Continue an interrupted run (Ctrl-C, kill, crash) to the step count it"
          + " was started with; same data order, bit-identical to an uninterrupted run.")
  boolean resume;

  @Option(names = "--checkpoint-seconds", paramLabel = "S",
      description = "Save a consistent model at least every S seconds (default: 60; only"
          + " at the end with --in-memory). 0: after every step.")
  Double checkpointSeconds;

  @Option(names = "--run-dir", paramLabel = "DIR",
      description = "Where this run's manifest.json and metrics.jsonl go (default:"
          + " runs/WEIGHTS-NAME-DATE-TIME beside the weights file); see abyss report.")
  Path runDir;

  @Option(names = "--diagnostics-every", paramLabel = "N",
      description = "Measure gradient norms and activation scale by depth (100 buckets) on"
          + " the first step, every N steps and the last (default: --report-every; 0: never)."
          + " The update is the same either way.")
  Integer diagnosticsEvery;

  @Option(names = "--in-memory",
      description = "Hold the whole core in RAM and write it back once at the end, atomically."
          + " Default: stream it from the file chunk by chunk, in bounded memory, except a"
          + " core of at most 48 MiB, which is held in RAM and saved as often as a streamed"
          + " one (see --checkpoint-seconds).")
  boolean inMemory;

  @Option(names = "--streamed",
      description = "Stream the core from its file even when it is small enough to be held in"
          + " RAM.")
  boolean streamed;

  @Option(names = "--init-if-missing", arity = "0..1", defaultValue = "true",
      fallbackValue = "true",
      description = "Create the model when its files are missing (default: ${DEFAULT-VALUE};"
          + " --init-if-missing=false makes a missing file an error).")
  boolean initIfMissing;

  @Override
  Family family() {
    return Family.CORE;
  }

  @Override
  public Integer call() throws Exception {
    var out = cmd.commandLine().getOut();
    if (threads != null && threads < 1) {
      throw new dev.abyss.AbyssException("--threads must be at least 1, not " + threads);
    }
    Family f = family();
    int chunk = chunkLayers != null ? chunkLayers : f.chunkLayers;
    float llr = layerLr != null ? layerLr : f.layerLr;
    var spec = new ResidualRun.TrainSpec(weightsPath(), headPath(), spec(), f.defaults(),
        initIfMissing, inMemory, steps, batch, chunk, chunkLayers != null, llr, headLr,
        trainLimit, threads != null ? threads : 0, resume,
        checkpointSeconds != null ? checkpointSeconds : -1, runDirectory(),
        diagnosticsEvery != null ? diagnosticsEvery : reportEvery,
        memoryBudget != null ? memoryBudget : ResidualRun.TrainSpec.DEFAULT_BUDGET, streamed);
    // the signal is released only after the last line is printed: a Ctrl-C waits for it
    try (StopSignal stop = StopSignal.install();
        ProgressDisplay bar = ProgressDisplay.open(cmd.name(), steps, quiet || json)) {
      return report(ResidualRun.train(spec, data.train(out), KernelProvider.get(),
          new Reporter(json ? new PrintWriter(OutputStream.nullOutputStream()) : out,
              reportEvery, steps, quiet || json, bar), stop), out);
    }
  }

  private Path runDirectory() {
    if (runDir != null) {
      return runDir;
    }
    Path weights = weightsPath().toAbsolutePath();
    String stem = weights.getFileName().toString().replaceFirst("\\.bin$", "");
    Path runs = weights.resolveSibling("runs");
    String name = stem + "-" + java.time.LocalDateTime.now().format(
        java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
    Path p = runs.resolve(name);
    for (int k = 2; java.nio.file.Files.exists(p); k++) { // two runs in one second
      p = runs.resolve(name + "-" + k);
    }
    return p;
  }

  /**
   * Where a run's time went, for the summary line: the steps' own time and their median, and
   * the rest (opening the core, the JIT warm-up, saves), which a short run's per-step average
   * would hide in its steps (a 6-step streamed run at 10M layers: 1.26 s a step on average,
   * its median step 0.50).
   */
  static String timeSplit(ResidualRun.Summary s) {
    if (s.stepsDone() == 0) {
      return "";
    }
    return String.format(Locale.ROOT,
        " (steps %.1f s, median %.4f s; opening, warm-up and saves %.1f s)",
        s.stepSeconds(), s.medianStepSeconds(), Math.max(0, s.seconds() - s.stepSeconds()));
  }

  private int report(ResidualRun.Summary s, java.io.PrintWriter out) {
    if (json) {
      java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
      m.put("stepsDone", s.stepsDone());
      m.put("firstStep", s.firstStep());
      m.put("modelStep", s.firstStep() + s.stepsDone());
      m.put("seconds", s.seconds());
      m.put("secondsPerStep", s.stepsDone() == 0 ? 0 : s.seconds() / s.stepsDone());
      m.put("stepSeconds", s.stepSeconds());
      m.put("medianStepSeconds", s.stepsDone() == 0 ? 0 : s.medianStepSeconds());
      m.put("weights", weightsPath().toString());
      m.put("head", headPath().toString());
      m.put("interrupted", s.stopped());
      m.put("inMemory", s.inMemory());
      if (s.phases() != null) {
        m.put("phaseSeconds", s.phases().byName());
      }
      try {
        out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(m));
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
      out.flush();
      return s.stopped() ? 130 : 0;
    }
    out.println(String.format(Locale.ROOT, "trained %d steps in %.1f s%s; model at step %d: %s, %s",
        s.stepsDone(), s.seconds(), timeSplit(s), s.firstStep() + s.stepsDone(), weightsPath(),
        headPath()));
    if (s.phases() != null && s.phases().stepSeconds() > 0) {
      out.println("where the steps' time went (kernels, waits for the other threads, I/O):");
      for (String line : s.phases().describe().split("\n")) {
        out.println("  " + line);
      }
    }
    if (s.stopped()) {
      out.println("interrupted: the model is saved at step " + (s.firstStep() + s.stepsDone())
          + "; run the same command with --resume added to finish the run");
      out.flush();
      return 130;
    }
    return 0;
  }
}
