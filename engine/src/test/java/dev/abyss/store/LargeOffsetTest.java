package dev.abyss.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.kernel.Activation;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.kernel.Kernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Offsets past 2^31 bytes and past 2^31 parameters: a sparse 8.8 GB core (110M layers of
 * width 4, all zero, every block checksum valid) costs a few kilobytes of disk. A chunk that
 * straddles parameter 2^31 and the last chunk (past 8.7 GB) are trained one step with the
 * kernels, written back, committed and read back; an uncommitted change there is rolled back
 * by the journal. Nothing here may use an int where a long is needed.
 */
class LargeOffsetTest {
  static final long L = 110_000_000L; // 8.8e9 bytes, 2.2e9 parameters

  @TempDir Path dir;

  /** A sparse all-zero core: the header, the block table, then a hole to the end. */
  static void sparseZeroCore(Path p, CoreHeader h) throws Exception {
    long lb = h.layerBytes();
    int[] table = new int[Math.toIntExact(h.numBlocks())];
    int full;
    try (Arena a = Arena.ofConfined()) {
      MemorySegment zero = a.allocate(h.blockLayers() * lb);
      full = Crc.of(zero, 0, h.blockLayers() * lb);
      long lastLayers = h.layers() - (h.numBlocks() - 1) * h.blockLayers();
      java.util.Arrays.fill(table, full);
      table[table.length - 1] = Crc.of(zero, 0, lastLayers * lb);
    }
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE, StandardOpenOption.READ)) {
      CoreFile.writeMeta(ch, h, table);
      ch.write(java.nio.ByteBuffer.wrap(new byte[1]), h.fileSize() - 1); // the hole
    }
  }

  @Test
  void chunksPast2To31BytesAndParametersTrainAndPersist() throws Exception {
    CoreHeader h = CoreHeader.create(4, L, Activation.SOFTSIGN, 0.01f, 0f, 1, 2);
    Path p = dir.resolve("huge.bin");
    sparseZeroCore(p, h);
    assertTrue(h.fileSize() > (8L << 30) && L * h.layerFloats() > (1L << 31));
    assertEquals(h, CoreFile.readHeader(p));
    long straddle = (1L << 31) / h.layerFloats() - 500; // layer holding parameter 2^31
    long last = L - 1000;
    Kernels k = KernelProvider.get();
    float[] before = new float[2];
    try (CoreWeights cw = CoreFile.openStreamed(p, true)) {
      int q = 0;
      for (long start : new long[] {straddle, last}) {
        MemorySegment seg = cw.load(start, 1000);
        assertEquals(0f, seg.get(Kernels.F32, cw.offsetOf(start + 999)));
        trainOneStep(k, seg, cw, start, 1000);
        before[q++] = seg.get(Kernels.F32, cw.offsetOf(start + 999) + 4L * 20 - 4);
        cw.writeBack(start, 1000);
      }
      cw.commit(1);
    }
    assertNotEquals(0f, before[1], "the step changed the last layer's biases");
    assertEquals(1, CoreFile.readHeader(p).step());
    try (CoreWeights cw = CoreFile.openStreamed(p, true)) {
      int q = 0;
      for (long start : new long[] {straddle, last}) {
        MemorySegment seg = cw.load(start, 1000); // verifies the block checksums
        assertEquals(before[q++], seg.get(Kernels.F32, cw.offsetOf(start + 999) + 4L * 20 - 4));
      }
      // an uncommitted change past 8 GB, then a crash (close without commit)
      MemorySegment seg = cw.load(last, 1000);
      seg.fill((byte) 0x3f);
      cw.writeBack(last, 1000);
    }
    assertEquals(Journal.Outcome.ROLLED_BACK, Journal.recover(p, dir.resolve("head.bin")));
    try (CoreWeights cw = CoreFile.openStreamed(p, false)) {
      MemorySegment seg = cw.load(last, 1000);
      assertEquals(before[1], seg.get(Kernels.F32, cw.offsetOf(last + 999) + 4L * 20 - 4));
    }
    assertTrue(Files.size(p) == h.fileSize());
  }

  /** One exact SGD step of batch 16 through layers [start, start + n), loss = sum of h. */
  private static void trainOneStep(Kernels k, MemorySegment seg, CoreWeights cw, long start,
      int n) {
    int w = 4;
    int b = 16;
    float[] h = new float[w * b];
    for (int i = 0; i < h.length; i++) {
      h[i] = (i % 7 - 3) * 0.25f;
    }
    float[] z = new float[w * b];
    float[] hs = new float[w * b * n];
    float[] ds = new float[w * b * n];
    k.forwardSaveChunk(w, b, seg, cw.offsetOf(start), n, 0.01f, Activation.SOFTSIGN, h, z, hs,
        ds);
    float[] dh = new float[w * b];
    java.util.Arrays.fill(dh, 1f);
    float[] gW = new float[w * w];
    float[] gb = new float[w];
    float[] g = new float[w * b];
    for (int l = n - 1; l >= 0; l--) {
      long off = cw.offsetOf(start + l);
      k.residualBackward(w, b, seg, off, 0.01f, hs, ds, l * w * b, dh, gW, gb, g);
      k.sgdUpdate(w, seg, off, 0.1f, gW, gb);
    }
  }
}
