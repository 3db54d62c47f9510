package dev.abyss.cli;

import dev.abyss.AbyssException;
import dev.abyss.store.CoreDiff;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** compare: how far apart two cores of the same shape are. */
@Command(name = "compare", mixinStandardHelpOptions = true,
    description = "Compare two core files of the same shape (f32 or bf16) parameter by"
        + " parameter: RMS of each, RMS and largest absolute difference, identical values."
        + " E.g. a trained core against its init shows how far training moved it.")
final class CompareCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec cmd;

  @Parameters(index = "0", paramLabel = "A", description = "A core file.")
  Path a;

  @Parameters(index = "1", paramLabel = "B", description = "Another core file.")
  Path b;

  @Override
  public Integer call() throws Exception {
    var out = cmd.commandLine().getOut();
    for (Path p : new Path[] {a, b}) {
      if (!Files.exists(p)) {
        throw new AbyssException("core file " + p + " does not exist: compare takes"
            + " two core files (the --weights of train or init), e.g. abyss compare init.bin"
            + " trained.bin");
      }
    }
    CoreDiff.Result r = CoreDiff.compare(a, b);
    out.printf(java.util.Locale.ROOT, "parameters:       %d%n", r.params());
    out.printf(java.util.Locale.ROOT, "rms A:            %.6e%n", r.rmsA());
    out.printf(java.util.Locale.ROOT, "rms B:            %.6e%n", r.rmsB());
    out.printf(java.util.Locale.ROOT, "rms (B - A):      %.6e%n", r.rmsDiff());
    out.printf(java.util.Locale.ROOT, "max |B - A|:      %.6e%n", r.maxAbsDiff());
    out.printf(java.util.Locale.ROOT, "identical values: %d (%.2f%%)%n", r.equal(),
        100.0 * r.equal() / r.params());
    return 0;
  }
}
