package dev.abyss.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.AbyssException;
import dev.abyss.kernel.Activation;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A disk that fills up mid-save, simulated with Linux's {@code /dev/full} (every write fails
 * with ENOSPC): once a core is open, the file its next save writes first is made a link to
 * it. The save fails with a "disk full" message, and the files on disk are the previous model
 * bit for bit (after the recovery the next command runs).
 */
class DiskFullTest {
  @TempDir Path dir;

  static byte[] sha(Path p) throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
  }

  private Path core(String name) throws Exception {
    Path p = dir.resolve(name);
    CoreFile.create(p, new CoreHeader(4, 300, Activation.SOFTSIGN, 0.1f, 0.5f, 3, 0, 4, 16,
        Dtype.F32), null);
    return p;
  }

  @Test
  void devFullIsThere() {
    assertTrue(Files.isWritable(Path.of("/dev/full")), "these tests need Linux's /dev/full");
  }

  /** In memory, a save writes a complete new copy beside the core, then renames it. */
  @Test
  void inMemorySaveOnAFullDisk() throws Exception {
    Path p = core("m.bin");
    Path head = dir.resolve("m_head.bin");
    byte[] before = sha(p);
    try (CoreWeights cw = CoreFile.openInMemory(p)) {
      MemorySegment s = cw.load(0, 300);
      s.fill((byte) 0x3c); // a changed model
      Files.createSymbolicLink(AtomicFiles.tempFor(p), Path.of("/dev/full"));
      AbyssException e = assertThrows(AbyssException.class,
          () -> cw.commit(1, head, new byte[64]));
      assertTrue(e.getMessage().contains("disk full"), e.getMessage());
    }
    assertArrayEquals(before, sha(p));
    assertFalse(Files.exists(head), "no head was committed");
    assertFalse(Files.exists(AtomicFiles.tempFor(p), java.nio.file.LinkOption.NOFOLLOW_LINKS),
        "the temporary file is removed");
  }

  /**
   * Streamed, the writes between two saves go to the shadow core beside the core: the disk
   * fills up there, the save reports it, and the core was never written.
   */
  @Test
  void streamedWriteOnAFullDisk() throws Exception {
    Path p = core("s.bin");
    Path head = dir.resolve("s_head.bin");
    byte[] before = sha(p);
    try (CoreWeights cw = CoreFile.openStreamed(p, true)) {
      MemorySegment s = cw.load(20, 100);
      s.fill((byte) 0x3c);
      Files.createSymbolicLink(AtomicFiles.tempFor(p), Path.of("/dev/full"));
      cw.writeBack(20, 100); // handed to the I/O thread, which fails
      AbyssException e = assertThrows(AbyssException.class,
          () -> cw.commit(1, head, new byte[64]));
      assertTrue(e.getMessage().contains("disk full"), e.getMessage());
    } catch (AbyssException e) {
      // close may report the same full disk again
      assertTrue(e.getMessage().contains("disk full"), e.getMessage());
    }
    assertArrayEquals(before, sha(p), "no block of the core was written");
    assertFalse(Files.exists(head), "no head was committed");
    Journal.recover(p, head);
    assertFalse(Files.exists(AtomicFiles.tempFor(p), java.nio.file.LinkOption.NOFOLLOW_LINKS),
        "the recovery removes the shadow");
    assertArrayEquals(before, sha(p));
    try (CoreWeights cw = CoreFile.openStreamed(p, false)) {
      cw.load(0, 300); // every block still passes its checksum
    }
  }
}
