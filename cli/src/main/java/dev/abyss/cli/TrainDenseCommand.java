package dev.abyss.cli;

import picocli.CommandLine.Command;

/** train-dense: train with the dense defaults. */
@Command(name = "train-dense", mixinStandardHelpOptions = true,
    description = "Train a dense model with exact chunk-checkpointed SGD: --steps N more steps"
        + " (created when missing). Defaults: width 32, softsign, 1000000 layers, layer-lr"
        + " 0.01, chunk 100000, dense_weights.bin / dense_head.bin.")
final class TrainDenseCommand extends TrainCommand {
  @Override
  Family family() {
    return Family.DENSE;
  }
}
