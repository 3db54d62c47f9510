package dev.abyss.cli;

import dev.abyss.kernel.Activation;
import dev.abyss.train.CoreSpec;
import java.nio.file.Path;

/**
 * The two command families and their defaults, as the reference program has them:
 * init/train/eval (its width-2 tanh core) and the -dense commands.
 */
enum Family {
  CORE("weights.bin", "head.bin", 100_000_000L, 2, Activation.TANH, 1_000_000, 0.05f),
  DENSE("dense_weights.bin", "dense_head.bin", 1_000_000L, 32, Activation.SOFTSIGN, 100_000,
      0.01f);

  /** The reference's core init seed. */
  static final long SEED = 0x5EEDL;
  static final float SCALE = 0.001f;

  final Path weights;
  final Path head;
  final long layers;
  final int width;
  final Activation activation;
  final int chunkLayers;
  final float layerLr;

  Family(String weights, String head, long layers, int width, Activation act, int chunk,
      float layerLr) {
    this.weights = Path.of(weights);
    this.head = Path.of(head);
    this.layers = layers;
    this.width = width;
    this.activation = act;
    this.chunkLayers = chunk;
    this.layerLr = layerLr;
  }

  CoreSpec.Defaults defaults() {
    return new CoreSpec.Defaults(layers, width, activation, SCALE, SEED);
  }
}
