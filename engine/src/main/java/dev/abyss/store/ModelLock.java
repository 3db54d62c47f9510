package dev.abyss.store;

import dev.abyss.AbyssException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An advisory lock on a model, held by the process that trains it (or creates it) for as long
 * as it does: an exclusive {@link FileLock} on {@code .W.lock} beside the core {@code W}, a file
 * that is never renamed or removed (the core itself is replaced by a rename at every commit,
 * so a lock on it would not outlive the first commit).
 *
 * <p>Without it a second process could recover the files under a running one: recovery deletes
 * a shadow core {@code .W.tmp} it takes for a cut run's, and a streamed run's live shadow is
 * one, so an {@code eval} started beside a {@code train} removed the train's unsaved interval
 * and made its next commit fail; two trainings of one model would overwrite each other's
 * shadow and commits. Now a second training is refused, and an eval beside a training
 * recovers nothing and reads the last commit, which a training never writes in place
 * (docs/journal.md).
 *
 * <p>The lock is the operating system's, so a process that dies (kill -9 included) releases
 * it. Where the directory does not exist, or cannot hold the lock file (read-only), there is
 * no lock, and nothing to recover either.
 */
public final class ModelLock implements AutoCloseable {
  /**
   * The lock files this process holds. A second channel on one of them is never opened: on
   * Linux, closing any descriptor of a file drops every lock the process holds on it.
   */
  private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

  private final Path path;
  private final FileChannel ch;
  private final FileLock lock;

  private ModelLock(Path path, FileChannel ch, FileLock lock) {
    this.path = path;
    this.ch = ch;
    this.lock = lock;
  }

  private static ModelLock none() {
    return new ModelLock(null, null, null);
  }

  /** The lock file of the model whose core is {@code weights}. */
  public static Path pathFor(Path weights) {
    Path abs = weights.toAbsolutePath();
    return abs.resolveSibling("." + abs.getFileName() + ".lock");
  }

  /**
   * Takes the model's lock for a process that will change its files, or refuses with the
   * reason and what to do when another process holds it. Returns a lock that holds nothing
   * where no lock file can be made (see above).
   */
  public static ModelLock forWriting(Path weights, String what) throws IOException {
    ModelLock l = tryLock(weights);
    if (l == null) {
      throw new AbyssException("cannot " + what + " " + weights + ": another abyss process"
          + " is using it (training or creating it, or recovering it for an eval); wait for"
          + " it to finish, or stop it, and run this again");
    }
    return l;
  }

  /**
   * Takes the model's lock if no other process holds it; null if one does (the caller then
   * reads the last commit and changes nothing).
   */
  public static ModelLock tryLock(Path weights) throws IOException {
    Path p = pathFor(weights).normalize();
    if (!Files.isDirectory(p.getParent())) {
      return none();
    }
    if (!HELD.add(p)) {
      return null; // another run in this process holds it
    }
    FileChannel ch = null;
    try {
      ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock lock = ch.tryLock();
      if (lock != null) {
        return new ModelLock(p, ch, lock);
      }
    } catch (OverlappingFileLockException e) {
      // held through a channel this class did not open: treat it as held
    } catch (IOException e) {
      // a read-only directory, or a file system without locks: no lock, as above
      HELD.remove(p);
      if (ch != null) {
        ch.close();
      }
      return none();
    }
    HELD.remove(p);
    ch.close();
    return null;
  }

  /**
   * Whether another process (or another run in this one) holds the model's lock, found
   * without creating or changing anything: a shared lock tried on the lock file, if there is
   * one.
   */
  public static boolean heldElsewhere(Path weights) {
    Path p = pathFor(weights).normalize();
    if (HELD.contains(p)) {
      return true;
    }
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      FileLock l = ch.tryLock(0, Long.MAX_VALUE, true);
      if (l == null) {
        return true;
      }
      l.release();
      return false;
    } catch (OverlappingFileLockException e) {
      return true;
    } catch (IOException e) {
      return false; // no lock file, or none to be had here: nobody holds it
    }
  }

  @Override
  public void close() throws IOException {
    if (ch != null) {
      try {
        lock.release();
        ch.close();
      } finally {
        HELD.remove(path);
      }
    }
  }
}
