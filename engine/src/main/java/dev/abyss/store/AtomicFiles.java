package dev.abyss.store;

import dev.abyss.AbyssException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Whole-file writes that are all or nothing: write a temporary file beside the target,
 * force it to disk, then rename it over the target. A crash or a full disk leaves the old
 * file as it was (and at worst a stray temporary file, named after the target).
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** The temporary sibling used while writing {@code target}. */
  public static Path tempFor(Path target) {
    Path abs = target.toAbsolutePath();
    return abs.resolveSibling("." + abs.getFileName() + ".tmp");
  }

  /** Writes {@code bytes} to {@code target} atomically. */
  public static void write(Path target, byte[] bytes) throws IOException {
    commit(writeTemp(target, bytes), target);
  }

  /** Writes {@code bytes} to {@code target}'s temporary sibling, forced; returns it. */
  public static Path writeTemp(Path target, byte[] bytes) throws IOException {
    Path tmp = tempFor(target);
    ensureSpace(target, bytes.length);
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE,
        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    } catch (IOException e) {
      Files.deleteIfExists(tmp);
      throw diskError(target, e);
    }
    return tmp;
  }

  /**
   * Renames a finished temporary file over the target, then forces the directory, so that the
   * rename is on disk before the caller goes on: a commit renames the core before its head, and
   * a power cut must not keep the second rename without the first (docs/journal.md).
   */
  public static void commit(Path tmp, Path target) throws IOException {
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
    }
    forceDirectory(target.toAbsolutePath().getParent());
  }

  /**
   * Forces a directory's entries to disk where the platform lets a directory be opened and
   * forced (Linux and macOS do); elsewhere, and on file systems that refuse it, the rename's
   * durability is left to the system, as it was before, rather than failing a finished commit.
   */
  static void forceDirectory(Path dir) {
    if (dir == null) {
      return;
    }
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // not supported here: see above
    }
  }

  /** Refuses up front when the target's file system has less than {@code bytes} free. */
  public static void ensureSpace(Path target, long bytes) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new AbyssException("cannot write " + target + ": directory " + dir
          + " does not exist; create it first");
    }
    long free = Files.getFileStore(dir).getUsableSpace();
    if (free < bytes + (1 << 20)) {
      throw new AbyssException("not enough disk space for " + target + ": it needs "
          + human(bytes) + " and " + dir + " has " + human(free) + " free; free some space"
          + " or write elsewhere");
    }
  }

  /** Wraps an I/O failure while writing as a user-facing error. */
  public static AbyssException diskError(Path target, IOException e) {
    String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    if (msg.contains("No space left")) {
      return new AbyssException("disk full while writing " + target + "; the previous file is"
          + " intact. Free some space and run the command again", e);
    }
    return new AbyssException("could not write " + target + ": " + msg, e);
  }

  public static String human(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] u = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = bytes;
    int i = -1;
    while (v >= 1024 && i < u.length - 1) {
      v /= 1024;
      i++;
    }
    return String.format(java.util.Locale.ROOT, "%.1f %s", v, u[i]);
  }
}
