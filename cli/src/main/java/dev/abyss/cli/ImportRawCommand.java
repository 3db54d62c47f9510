package dev.abyss.cli;

import dev.abyss.AbyssException;
import dev.abyss.kernel.Activation;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.HeadFile;
import dev.abyss.store.HeadHeader;
import dev.abyss.store.ModelLock;
import dev.abyss.store.RawFormat;
import dev.abyss.train.Validate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** import-raw: the reference program's headerless files into abyss files. */
@Command(name = "import-raw", mixinStandardHelpOptions = true,
    description = "Convert the reference program's headerless little-endian f32 files into"
        + " abyss files. A residual model: --layers --width --activation --raw-weights"
        + " --raw-head --weights --head. An MLP: --mlp --hidden --raw-head --head.")
final class ImportRawCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec cmd;

  @Option(names = "--mlp", description = "The raw head is an MLP (784 -> hidden -> 10).")
  boolean mlp;

  @Option(names = "--hidden", paramLabel = "H", description = "The MLP's hidden size.")
  Integer hidden;

  @Option(names = "--layers", paramLabel = "L", description = "Core layers.")
  Long layers;

  @Option(names = "--width", paramLabel = "W", description = "Core width.")
  Integer width;

  @Option(names = "--activation", paramLabel = "ACT",
      description = "Core activation: tanh, softsign or relu.")
  Activation activation;

  @Option(names = "--alpha", paramLabel = "A",
      description = "Residual scale (default: 1/sqrt(layers), as the reference).")
  Float alpha;

  @Option(names = "--raw-weights", paramLabel = "FILE", description = "Raw core file to read.")
  Path rawWeights;

  @Option(names = "--raw-head", paramLabel = "FILE", required = true,
      description = "Raw head (or MLP) file to read.")
  Path rawHead;

  @Option(names = "--weights", paramLabel = "FILE", description = "abyss core file to write.")
  Path weights;

  @Option(names = "--head", paramLabel = "FILE", required = true,
      description = "abyss head (or MLP) file to write.")
  Path head;

  @Option(names = "--force", description = "Replace existing output files.")
  boolean force;

  @Override
  public Integer call() throws Exception {
    var out = cmd.commandLine().getOut();
    if (mlp) {
      if (hidden == null) {
        throw new AbyssException("--mlp needs --hidden H (the MLP's hidden size)");
      }
      Validate.positive("hidden", hidden);
      refuseExisting(head);
      float[] p = RawFormat.readHead(rawHead, hidden);
      HeadFile.write(head, new HeadHeader(HeadHeader.KIND_MLP, hidden, HeadHeader.NO_ACTIVATION,
          0, 0, 0xABCDEFL ^ 0xD00DL), p);
      out.println("imported MLP " + rawHead + " -> " + head);
      return 0;
    }
    if (layers == null || width == null || activation == null || rawWeights == null
        || weights == null) {
      throw new AbyssException("importing a residual model needs --layers, --width,"
          + " --activation, --raw-weights and --weights (or --mlp --hidden for an MLP)");
    }
    Validate.coreShape(width, layers);
    refuseExisting(weights);
    refuseExisting(head);
    float a = alpha != null ? alpha : (float) (1.0 / Math.sqrt(layers));
    CoreHeader h = CoreHeader.create(width, layers, activation, a, 0f, 0, 0x5EEDL ^ 0xD00DL);
    float[] hp = RawFormat.readHead(rawHead, width);
    try (ModelLock lock = ModelLock.forWriting(weights, "import into")) {
      RawFormat.importCore(rawWeights, h, weights);
      HeadFile.write(head, new HeadHeader(HeadHeader.KIND_RESIDUAL, width, activation.code, 0,
          0, h.dataSeed()), hp);
    }
    out.println("imported " + rawWeights + " -> " + weights + " (" + layers + " layers, width "
        + width + ", " + activation.cliName() + ") and " + rawHead + " -> " + head);
    return 0;
  }

  private void refuseExisting(Path p) {
    if (!force && Files.exists(p)) {
      throw new AbyssException(p + " already exists; pass --force to replace it");
    }
  }
}
