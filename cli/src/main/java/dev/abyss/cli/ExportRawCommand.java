package dev.abyss.cli;

import dev.abyss.AbyssException;
import dev.abyss.store.HeadFile;
import dev.abyss.store.RawFormat;
import dev.abyss.train.CoreSpec;
import dev.abyss.train.MlpRun;
import dev.abyss.train.ResidualRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** export-raw: abyss files into the reference program's headerless files. */
@Command(name = "export-raw", mixinStandardHelpOptions = true,
    description = "Write abyss files as the reference program's headerless little-endian f32"
        + " files. A residual model: --weights --head --raw-weights --raw-head (shape flags"
        + " optional; when given they must match). An MLP: --mlp --head --raw-head.")
final class ExportRawCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec cmd;

  @Option(names = "--mlp", description = "The head file is an MLP.")
  boolean mlp;

  @Option(names = "--hidden", paramLabel = "H", description = "MLP hidden size (checked).")
  Integer hidden;

  @Option(names = "--layers", paramLabel = "L", description = "Core layers (checked).")
  Long layers;

  @Option(names = "--width", paramLabel = "W", description = "Core width (checked).")
  Integer width;

  @Option(names = "--activation", paramLabel = "ACT", description = "Activation (checked).")
  dev.abyss.kernel.Activation activation;

  @Option(names = "--weights", paramLabel = "FILE", description = "abyss core file to read.")
  Path weights;

  @Option(names = "--head", paramLabel = "FILE", required = true,
      description = "abyss head (or MLP) file to read.")
  Path head;

  @Option(names = "--raw-weights", paramLabel = "FILE", description = "Raw core file to write.")
  Path rawWeights;

  @Option(names = "--raw-head", paramLabel = "FILE", required = true,
      description = "Raw head file to write.")
  Path rawHead;

  @Option(names = "--force", description = "Replace existing output files.")
  boolean force;

  @Override
  public Integer call() throws Exception {
    var out = cmd.commandLine().getOut();
    if (mlp) {
      HeadFile.Contents c = MlpRun.load(head, hidden);
      refuseExisting(rawHead);
      RawFormat.writeHead(rawHead, c.payload());
      out.println("exported MLP " + head + " -> " + rawHead);
      return 0;
    }
    if (weights == null || rawWeights == null) {
      throw new AbyssException("exporting a residual model needs --weights and --raw-weights"
          + " (or --mlp for an MLP)");
    }
    refuseExisting(rawWeights);
    refuseExisting(rawHead);
    ResidualRun.exportRaw(weights, head, new CoreSpec(layers, width, activation, null, null,
        null), rawWeights, rawHead);
    out.println("exported " + weights + " -> " + rawWeights + " and " + head + " -> " + rawHead);
    return 0;
  }

  private void refuseExisting(Path p) {
    if (!force && Files.exists(p)) {
      throw new AbyssException(p + " already exists; pass --force to replace it");
    }
  }
}
