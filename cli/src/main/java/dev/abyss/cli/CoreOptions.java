package dev.abyss.cli;

import dev.abyss.kernel.Activation;
import dev.abyss.store.Dtype;
import dev.abyss.train.CoreSpec;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * Flags that name a residual model and its shape. Shape flags may be left out for an
 * existing model (the file's header says); when given they must match it.
 */
abstract class CoreOptions {
  @Option(names = "--weights", paramLabel = "FILE",
      description = "Core weights file (default: weights.bin; dense_weights.bin for the -dense"
          + " commands).")
  Path weights;

  @Option(names = "--head", paramLabel = "FILE",
      description = "Head file: input projection and classifier (default: head.bin;"
          + " dense_head.bin for the -dense commands).")
  Path head;

  @Option(names = "--layers", paramLabel = "L",
      description = "Residual layers in the core (default for a new model: 100000000;"
          + " 1000000 for the -dense commands). For an existing model: taken from its file.")
  Long layers;

  @Option(names = "--width", paramLabel = "W",
      description = "Width of every core layer (default for a new model: 2; 32 for the -dense"
          + " commands).")
  Integer width;

  @Option(names = "--activation", paramLabel = "ACT",
      description = "Core activation: tanh, softsign or relu (default for a new model: tanh;"
          + " softsign for the -dense commands).")
  Activation activation;

  @Option(names = "--alpha", paramLabel = "A",
      description = "Residual scale alpha in h + alpha*act(hW+b) (default: 1/sqrt(layers)).")
  Float alpha;

  @Option(names = "--scale", paramLabel = "S",
      description = "Core init: W uniform in [-S, S], b = 0 (default: 0.001).")
  Float scale;

  @Option(names = "--seed", paramLabel = "SEED", converter = SeedConverter.class,
      description = "Init seed, decimal or 0x hex (default: 0x5EED). The head and the data"
          + " order derive their seeds from it (xor 0xC0FFEE and 0xD00D).")
  Long seed;

  @Option(names = "--dtype", paramLabel = "T",
      description = "How a new core stores its weights: f32 or bf16 (half the disk and RAM;"
          + " compute stays f32, updates round stochastically). Default: f32. For an existing"
          + " model: taken from its file.")
  Dtype dtype;

  abstract Family family();

  Path weightsPath() {
    return weights != null ? weights : family().weights;
  }

  Path headPath() {
    return head != null ? head : family().head;
  }

  CoreSpec spec() {
    return new CoreSpec(layers, width, activation, alpha, scale, seed, dtype);
  }
}
