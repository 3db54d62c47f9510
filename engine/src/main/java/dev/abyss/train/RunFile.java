package dev.abyss.train;

import dev.abyss.store.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code WEIGHTS.run.json}: the step an unfinished training run was started to reach, so
 * that {@code --resume} can finish it. Written atomically at the start of a run, deleted when
 * the run completes.
 */
final class RunFile {
  private static final Pattern TARGET = Pattern.compile("\"targetStep\"\\s*:\\s*(\\d+)");

  private RunFile() {}

  static Path pathFor(Path weights) {
    Path abs = weights.toAbsolutePath();
    return abs.resolveSibling(abs.getFileName() + ".run.json");
  }

  static void write(Path weights, long targetStep) throws IOException {
    AtomicFiles.write(pathFor(weights), ("{\"targetStep\": " + targetStep + "}\n")
        .getBytes(StandardCharsets.UTF_8));
  }

  /** The recorded target step, or -1 when there is none (or it is unreadable). */
  static long target(Path weights) throws IOException {
    Path p = pathFor(weights);
    if (!Files.exists(p)) {
      return -1;
    }
    Matcher m = TARGET.matcher(Files.readString(p));
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  static void delete(Path weights) throws IOException {
    Files.deleteIfExists(pathFor(weights));
  }
}
