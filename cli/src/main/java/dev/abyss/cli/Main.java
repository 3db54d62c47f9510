package dev.abyss.cli;

import dev.abyss.AbyssException;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point: {@code abyss COMMAND [FLAGS]}. */
@Command(
    name = "abyss",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Trains absurdly deep residual networks with exact gradients on a CPU.",
    subcommands = {
      InitCommand.class, TrainCommand.class, EvalCommand.class,
      InitDenseCommand.class, TrainDenseCommand.class, EvalDenseCommand.class,
      TrainMlpCommand.class, EvalMlpCommand.class,
      InspectCommand.class, ImportRawCommand.class, ExportRawCommand.class,
      DataCommand.class, BenchCommand.class, ReportCommand.class, CompareCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(run(System.out, System.err, args));
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
  }

  /** Runs the command line with the given streams; returns the exit code. */
  public static int run(PrintStream out, PrintStream err, String... args) {
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setParameterExceptionHandler((ex, a) -> {
      CommandLine c = ex.getCommandLine();
      c.getErr().println("abyss: " + ex.getMessage());
      c.getErr().println("Try 'abyss " + (c.getCommandName().equals("abyss") ? ""
          : c.getCommandName() + " ") + "--help' for the flags.");
      return 2;
    });
    cl.setExecutionExceptionHandler((ex, c, parsed) -> {
      Throwable t = ex instanceof UncheckedIOException u ? u.getCause() : ex;
      if (t instanceof AbyssException a) {
        c.getErr().println("abyss: " + a.getMessage());
        return a.exitCode();
      }
      if (t instanceof AccessDeniedException ad) {
        c.getErr().println("abyss: permission denied: " + ad.getFile()
            + "; check the file's permissions or choose another path");
        return 2;
      }
      if (t instanceof FileSystemException fs) {
        c.getErr().println("abyss: " + fs.getFile() + ": " + reason(fs));
        return 2;
      }
      if (t instanceof IOException io) {
        c.getErr().println("abyss: I/O error: " + io.getMessage());
        return 2;
      }
      c.getErr().println("abyss: internal error (a bug; please report it with this trace):");
      t.printStackTrace(new PrintStream(err, true));
      return 1;
    });
    return cl.execute(args);
  }

  /** The operating system's reason, or one that says what the exception means (some carry none). */
  static String reason(FileSystemException fs) {
    if (fs.getReason() != null) {
      return fs.getReason();
    }
    if (fs instanceof NoSuchFileException) {
      return "does not exist (nor does a folder on its path, perhaps): check the path";
    }
    if (fs instanceof FileAlreadyExistsException) {
      return "already exists: choose another path or remove it";
    }
    return "the file system refused to create or change it: choose another path";
  }

  /** Version from the jar manifest, or "dev". */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"abyss " + (v == null ? "0.1.0-dev" : v) + " (Java "
          + Runtime.version() + ")"};
    }
  }
}
