package dev.abyss.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The streamed core's read-ahead and write-behind against the plain order of operations: a
 * read-ahead taken after a write of blocks it shares sees the written values; one dropped or
 * never taken changes nothing; a damaged block found by a read-ahead is reported by the load
 * that needs it, not before.
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

  @Test
  void aDamagedBlockIsReportedByTheLoadThatNeedsIt() throws Exception {
    Path p = core("d.bin", 40, 4);
    CoreHeader h = CoreFile.readHeader(p);
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
      // one byte inside layer 30 (block 7)
      ch.write(java.nio.ByteBuffer.wrap(new byte[] {0x55}), h.dataOffset() + 30 * 80 + 5);
    }
    try (CoreWeights cw = CoreFile.openStreamed(p, false)) {
      cw.load(0, 8);
      cw.prefetch(28, 8); // reads the damaged block in the background
      cw.load(8, 8); // another range: the read-ahead is dropped, no error yet
      cw.prefetch(28, 8);
      FormatException e = assertThrows(FormatException.class, () -> cw.load(28, 8));
      assertEquals(true, e.getMessage().contains("block 7"), e.getMessage());
    }
  }
}
