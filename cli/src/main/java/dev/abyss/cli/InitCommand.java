package dev.abyss.cli;

import dev.abyss.store.CoreHeader;
import dev.abyss.train.ResidualRun;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** init: a new model (the reference's width-2 tanh core by default). */
@Command(name = "init", mixinStandardHelpOptions = true,
    description = "Create a new model: a core file (W uniform in [-scale, scale], b = 0) and a"
        + " head file (Glorot-uniform). Defaults: width 2, tanh, 100000000 layers.")
class InitCommand extends CoreOptions implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec cmd;

  @Option(names = "--force", description = "Replace existing files.")
  boolean force;

  @Override
  Family family() {
    return Family.CORE;
  }

  @Override
  public Integer call() throws Exception {
    var out = cmd.commandLine().getOut();
    long t0 = System.nanoTime();
    CoreHeader h;
    try (ProgressDisplay bar = ProgressDisplay.layers(cmd.name(),
        spec().newHeader(family().defaults()).layers(), false)) {
      h = ResidualRun.init(weightsPath(), headPath(), spec(), family().defaults(), force,
          bar::layersDone);
    }
    out.printf("created %s (%d layers, width %d, %s, alpha %s, %s) and %s in %.1f s%n",
        weightsPath(), h.layers(), h.width(), h.activation().cliName(), h.alpha(),
        dev.abyss.store.AtomicFiles.human(h.fileSize()), headPath(),
        (System.nanoTime() - t0) / 1e9);
    return 0;
  }
}
