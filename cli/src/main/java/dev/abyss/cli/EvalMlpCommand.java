package dev.abyss.cli;

import dev.abyss.train.EvalResult;
import dev.abyss.train.MlpRun;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** eval-mlp: test figures of the MLP baseline. */
@Command(name = "eval-mlp", mixinStandardHelpOptions = true,
    description = "Evaluate the MLP baseline on the first --samples MNIST test images.")
final class EvalMlpCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec cmd;
  @Mixin DataOptions data;

  @Option(names = "--head", paramLabel = "FILE", defaultValue = "mlp.bin",
      description = "MLP file (default: ${DEFAULT-VALUE}).")
  Path file;

  @Option(names = "--hidden", paramLabel = "H",
      description = "Hidden units; when given it must match the file.")
  Integer hidden;

  @Option(names = "--samples", paramLabel = "N", defaultValue = "10000",
      description = "Test images to evaluate (default: ${DEFAULT-VALUE}).")
  int samples;

  @Option(names = "--batch", paramLabel = "B", defaultValue = "256",
      description = "Images per forward pass (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--json", description = "Print the results as one JSON object.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    var out = cmd.commandLine().getOut();
    EvalResult r = MlpRun.eval(file, hidden, samples, batch, data.test(out));
    if (json) {
      EvalPrinter.printJson(out, r);
    } else {
      EvalPrinter.print(out, r);
    }
    return 0;
  }
}
