package dev.abyss.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The streamed core's read-ahead and write-behind against the plain order of operations: a
 * read-ahead taken after a write of blocks it shares sees the written values; one dropped or
 * never taken changes nothing; a damaged block found by a read-ahead is reported by the load
 * that needs it, not before. All of it also with another thread taking blocks of the
 * read-aheads and write-behinds as they run ({@link CoreWeights#helpIo}): the same layers, the
 * same checksums.
 */
class ReadAheadTest {
  @TempDir Path dir;

  private Path core(String name, int layers, int blockLayers) throws Exception {
    Path p = dir.resolve(name);
    CoreFile.create(p, new CoreHeader(4, layers, Activation.SOFTSIGN, 0.1f, 0.5f, 3, 0, 4,
        blockLayers, Dtype.F32), null);
    return p;
  }

  private static float param(CoreWeights cw, MemorySegment s, long layer, int k) {
    return s.get(Kernels.F32, cw.offsetOf(layer) + 4L * k);
  }

  @Test
  void aReadAheadSeesAWriteOfASharedBlockThatCameAfterIt() throws Exception {
    // blocks of 4 layers, chunks of 7: chunks share blocks
    Path p = core("a.bin", 40, 4);
    try (CoreWeights cw = CoreFile.openStreamed(p, true)) {
      for (int round = 0; round < 3; round++) {
        // backward order: chunk [26, 33), then [19, 26); both stage block 6 (layers 24..27)
        MemorySegment s = cw.load(26, 7);
        cw.prefetch(19, 7); // submitted before the write below
        for (long l = 26; l < 33; l++) {
          s.set(Kernels.F32, cw.offsetOf(l), 100f * round + l);
        }
        cw.writeBack(26, 7);
        MemorySegment t = cw.load(19, 7);
        // the read-ahead read block 6 before the write: it must have been patched
        assertEquals(100f * round + 26, param(cw, t, 26, 0));
        assertEquals(100f * round + 27, param(cw, t, 27, 0));
        for (long l = 19; l < 26; l++) {
          t.set(Kernels.F32, cw.offsetOf(l), -100f * round - l);
        }
        cw.writeBack(19, 7);
      }
      cw.prefetch(0, 7); // never taken
      cw.commit(3);
    }
    try (CoreWeights cw = CoreFile.openStreamed(p, false)) {
      MemorySegment s = cw.load(19, 14); // verifies the checksums of every block touched
      for (long l = 19; l < 26; l++) {
        assertEquals(-200f - l, param(cw, s, l, 0));
      }
      for (long l = 26; l < 33; l++) {
        assertEquals(200f + l, param(cw, s, l, 0));
      }
    }
  }

  /** A core of {@code layers} in blocks of 4 with one byte inside {@code layer} changed. */
  private Path damaged(String name, int layers, int layer) throws Exception {
    Path p = core(name, layers, 4);
    CoreHeader h = CoreFile.readHeader(p);
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(new byte[] {0x55}), h.dataOffset() + layer * 80L + 5);
    }
    return p;
  }

  @Test
  void aDamagedBlockIsReportedByTheLoadThatNeedsIt() throws Exception {
    Path p = damaged("d.bin", 40, 30); // block 7
    try (CoreWeights cw = CoreFile.openStreamed(p, false)) {
      cw.load(0, 8);
      cw.prefetch(28, 8); // reads the damaged block in the background
      cw.load(8, 8); // another range: the read-ahead is dropped, no error yet
      cw.prefetch(28, 8);
      FormatException e = assertThrows(FormatException.class, () -> cw.load(28, 8));
      assertEquals(true, e.getMessage().contains("block 7"), e.getMessage());
    }
  }

  /** A thread that calls {@code cw.helpIo()} until stopped, counting the blocks it read. */
  private static final class Helper implements AutoCloseable {
    final AtomicBoolean stop = new AtomicBoolean();
    final AtomicLong blocks = new AtomicLong();
    final Thread t;

    Helper(CoreWeights cw) {
      t = new Thread(() -> {
        while (!stop.get()) {
          if (cw.helpIo()) {
            blocks.incrementAndGet();
          } else {
            Thread.onSpinWait();
          }
        }
      });
      t.start();
    }

    @Override
    public void close() throws InterruptedException {
      stop.set(true);
      t.join();
    }
  }

  @Test
  void helpedReadsAndWritesGiveTheSameLayers() throws Exception {
    // 2,000 layers in blocks of 8; chunks of 100 layers (13-14 blocks a read-ahead), written
    // back each round as a backward does, read-aheads submitted before writes they share
    Path p = core("h.bin", 2000, 8);
    long helped = 0;
    try (CoreWeights cw = CoreFile.openStreamed(p, true)) {
      for (int round = 0; round < 20; round++) {
        try (Helper hp = new Helper(cw)) {
          for (int c = 19; c >= 0; c--) {
            MemorySegment s = cw.load(c * 100L, 100);
            if (c > 0) {
              cw.prefetch((c - 1) * 100L, 100);
            }
            for (long l = c * 100L; l < c * 100L + 100; l++) {
              if (round > 0) {
                assertEquals(1000f * (round - 1) + l, param(cw, s, l, 3), "layer " + l);
              }
              s.set(Kernels.F32, cw.offsetOf(l) + 12, 1000f * round + l);
            }
            cw.writeBack(c * 100L, 100);
          }
          // forward order, for reading only
          for (int c = 0; c < 20; c++) {
            MemorySegment s = cw.loadForReading(c * 100L, 100);
            if (c < 19) {
              cw.prefetch((c + 1) * 100L, 100);
            }
            for (long l = c * 100L; l < c * 100L + 100; l += 37) {
              assertEquals(1000f * round + l, param(cw, s, l, 3), "layer " + l);
            }
          }
          hp.close();
          helped += hp.blocks.get();
        }
      }
      cw.commit(20);
    }
    assertTrue(helped > 0, "the helper took no block in 20 rounds");
    try (CoreWeights cw = CoreFile.openStreamed(p, false)) {
      MemorySegment s = cw.load(0, 2000); // every block's checksum
      for (long l = 0; l < 2000; l++) {
        assertEquals(19000f + l, param(cw, s, l, 3));
      }
    }
  }

  @Test
  void aDamagedBlockReadByAHelperIsReportedByTheLoadThatNeedsIt() throws Exception {
    Path p = damaged("dh.bin", 400, 330); // block 82
    try (CoreWeights cw = CoreFile.openStreamed(p, false); Helper hp = new Helper(cw)) {
      for (int round = 0; round < 10; round++) {
        cw.load(0, 100);
        cw.prefetch(300, 100); // read in the background, by the I/O thread or the helper
        cw.load(100, 100); // another range: the read-ahead is dropped, no error yet
        cw.prefetch(300, 100);
        FormatException e = assertThrows(FormatException.class, () -> cw.load(300, 100));
        assertTrue(e.getMessage().contains("block 82"), e.getMessage());
      }
    }
  }
}
