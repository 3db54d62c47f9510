package dev.abyss.cli;

import picocli.CommandLine.Command;

/** init-dense: a new dense model (width 32, softsign, 1000000 layers by default). */
@Command(name = "init-dense", mixinStandardHelpOptions = true,
    description = "Create a new dense model: core file and head file. Defaults: width 32,"
        + " softsign, 1000000 layers, dense_weights.bin / dense_head.bin.")
final class InitDenseCommand extends InitCommand {
  @Override
  Family family() {
    return Family.DENSE;
  }
}
