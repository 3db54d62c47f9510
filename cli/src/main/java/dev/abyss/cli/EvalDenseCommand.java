package dev.abyss.cli;

import picocli.CommandLine.Command;

/** eval-dense: eval with the dense defaults. */
@Command(name = "eval-dense", mixinStandardHelpOptions = true,
    description = "Evaluate a dense model on the first --samples MNIST test images:"
        + " loss, accuracy, per-class accuracy and confusion matrix.")
final class EvalDenseCommand extends EvalCommand {
  @Override
  Family family() {
    return Family.DENSE;
  }
}
