package dev.abyss.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;

/** data: MNIST management. */
@Command(name = "data", mixinStandardHelpOptions = true,
    description = "Manage the MNIST data.", subcommands = DataCommand.Fetch.class)
final class DataCommand implements Runnable {
  @Spec picocli.CommandLine.Model.CommandSpec cmd;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(cmd.commandLine(),
        "a subcommand is required: fetch");
  }

  /** data fetch. */
  @Command(name = "fetch", mixinStandardHelpOptions = true,
      description = "Make sure the four MNIST files are present and verified (SHA-256),"
          + " fetching what is missing into the cache.")
  static final class Fetch implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec cmd;
    @Mixin DataOptions data;

    @Override
    public Integer call() throws Exception {
      var out = cmd.commandLine().getOut();
      for (String s : data.mnist(out).fetchAll()) {
        out.println(s + " (SHA-256 ok)");
      }
      return 0;
    }
  }
}
