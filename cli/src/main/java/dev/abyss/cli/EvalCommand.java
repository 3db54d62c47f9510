package dev.abyss.cli;

import dev.abyss.kernel.KernelProvider;
import dev.abyss.train.EvalResult;
import dev.abyss.train.ResidualRun;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** eval: test loss and accuracy of a residual model. */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Evaluate the model on the first --samples MNIST test images, in order:"
        + " loss, accuracy, per-class accuracy and confusion matrix.")
class EvalCommand extends CoreOptions implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec cmd;
  @Mixin DataOptions data;

  @Option(names = "--samples", paramLabel = "N", defaultValue = "100",
      description = "Test images to evaluate (default: ${DEFAULT-VALUE}; at most 10000).")
  int samples;

  @Option(names = "--batch", paramLabel = "B", defaultValue = "8",
      description = "Images pushed through the core together (default: ${DEFAULT-VALUE}, as"
          + " the reference; abyss groups at least 64 to fill its vector lanes). The results do"
          + " not depend on it.")
  int batch;

  @Option(names = "--chunk-layers", paramLabel = "C",
      description = "Layers read per chunk (default: 1000000; 100000 for eval-dense).")
  Integer chunkLayers;

  @Option(names = "--in-memory", description = "Load the whole core into RAM first.")
  boolean inMemory;

  @Override
  Family family() {
    return Family.CORE;
  }

  @Option(names = "--json", description = "Print the results as one JSON object.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    var out = cmd.commandLine().getOut();
    int chunk = chunkLayers != null ? chunkLayers : family().chunkLayers;
    EvalResult r;
    // for the progress display; a missing core is reported by the eval itself (which can tell
    // a model that another process is creating)
    long layers = java.nio.file.Files.exists(weightsPath())
        ? dev.abyss.store.CoreFile.readHeader(weightsPath()).layers() : 1;
    long[] last = {System.nanoTime()};
    try (ProgressDisplay bar = ProgressDisplay.layers(cmd.name(), layers, json)) {
      r = ResidualRun.eval(weightsPath(), headPath(), spec(), inMemory, samples, batch, chunk,
          data.test(out), KernelProvider.get(), done -> {
            bar.layersDone(done);
            long now = System.nanoTime();
            if (!json && (now - last[0]) / 1e9 >= Reporter.PROGRESS_SECONDS) {
              out.printf(java.util.Locale.ROOT, "  eval: %.0f%% (%d of %d layers)%n",
                  100.0 * done / layers, done, layers);
              out.flush();
              last[0] = now;
            }
          });
    }
    if (json) {
      EvalPrinter.printJson(out, r);
    } else {
      EvalPrinter.print(out, r);
    }
    return 0;
  }
}
