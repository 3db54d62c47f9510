package dev.abyss.cli;

import dev.abyss.train.MlpRun;
import dev.abyss.train.ResidualRun;
import dev.abyss.train.StopSignal;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** train-mlp: the 784 -> hidden -> 10 baseline. */
@Command(name = "train-mlp", mixinStandardHelpOptions = true,
    description = "Train the MLP baseline (784 -> hidden ReLU -> 10, Glorot-uniform) with"
        + " plain SGD: --steps N more steps from the file (created when missing).")
final class TrainMlpCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec cmd;
  @Mixin DataOptions data;

  @Option(names = "--head", paramLabel = "FILE", defaultValue = "mlp.bin",
      description = "MLP file (default: ${DEFAULT-VALUE}).")
  Path file;

  @Option(names = "--hidden", paramLabel = "H",
      description = "Hidden units (default for a new MLP: 128; an existing file says).")
  Integer hidden;

  @Option(names = "--steps", paramLabel = "N", defaultValue = "1000",
      description = "SGD steps to run (default: ${DEFAULT-VALUE}).")
  long steps;

  @Option(names = "--batch", paramLabel = "B", defaultValue = "128",
      description = "Minibatch size (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--lr", paramLabel = "LR", defaultValue = "0.05",
      description = "Learning rate (default: ${DEFAULT-VALUE}).")
  float lr;

  @Option(names = "--seed", paramLabel = "SEED", converter = SeedConverter.class,
      description = "Init and data-order seed of a new MLP (default: 0xABCDEF).")
  Long seed;

  @Option(names = "--train-limit", paramLabel = "N", defaultValue = "60000",
      description = "Draw minibatches from the first N training images (default:"
          + " ${DEFAULT-VALUE}).")
  int trainLimit;

  @Option(names = "--quiet",
      description = "No progress bar and no per-step report lines; only the outcome.")
  boolean quiet;

  @Option(names = "--report-every", paramLabel = "N", defaultValue = "100",
      description = "Print mean loss and accuracy every N steps (default: ${DEFAULT-VALUE}).")
  int reportEvery;

  @Option(names = "--init-if-missing", arity = "0..1", defaultValue = "true",
      fallbackValue = "true",
      description = "Create the MLP when its file is missing (default: ${DEFAULT-VALUE}).")
  boolean initIfMissing;

  @Override
  public Integer call() throws Exception {
    var out = cmd.commandLine().getOut();
    var spec = new MlpRun.Spec(file, hidden, 128, seed, 0xABCDEFL, initIfMissing, steps, batch,
        lr, trainLimit);
    try (StopSignal stop = StopSignal.install();
        ProgressDisplay bar = ProgressDisplay.open(cmd.name(), steps, quiet)) {
      Reporter reporter = new Reporter(out, reportEvery, steps, quiet, bar);
      return report(MlpRun.train(spec, data.train(out), reporter, stop), out);
    }
  }

  private int report(ResidualRun.Summary s, java.io.PrintWriter out) {
    out.println(String.format(Locale.ROOT,
        "trained %d steps in %.1f s; MLP at step %d: %s", s.stepsDone(), s.seconds(),
        s.firstStep() + s.stepsDone(), file));
    if (s.stopped()) {
      out.println("interrupted: the MLP is saved at step " + (s.firstStep() + s.stepsDone())
          + "; run the same command with --steps " + (steps - s.stepsDone())
          + " to do the remaining steps");
      out.flush();
      return 130;
    }
    return 0;
  }
}
