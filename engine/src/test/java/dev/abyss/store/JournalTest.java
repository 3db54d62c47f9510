package dev.abyss.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash safety of a streamed core: its writes between two commits go to the shadow core
 * beside it, reads see them, a commit renames the shadow over the core, and recovery undoes
 * an interval that was not committed or completes a commit cut between its renames. And the
 * undo journal of earlier versions, still replayed by recovery: roll back, roll forward, torn
 * records.
 */
class JournalTest {
  @TempDir Path dir;

  /** 50 layers in blocks of 4 (13 blocks; the last one short). */
  private Path core(String name) throws Exception {
    CoreHeader h = new CoreHeader(4, 50, Activation.SOFTSIGN, 0.1f, 0.01f, 5, 3, 6, 4);
    Path p = dir.resolve(name);
    CoreFile.create(p, h, null);
    return p;
  }

  private static void scribble(CoreWeights cw, long start, int n, float base) throws Exception {
    MemorySegment s = cw.load(start, n);
    for (int l = 0; l < n; l++) {
      s.set(Kernels.F32, cw.offsetOf(start + l), base + l);
    }
    cw.writeBack(start, n);
  }

  private static float first(CoreWeights cw, long layer) throws Exception {
    MemorySegment s = cw.loadForReading(layer, 1);
    return s.get(Kernels.F32, cw.offsetOf(layer));
  }

  private static byte[] headBytes(HeadHeader hh, long step) {
    return HeadFile.encode(hh.withStep(step), new float[(int) HeadHeader.payloadFloats(4)]);
  }

  private static final HeadHeader HH = new HeadHeader(HeadHeader.KIND_RESIDUAL, 4, 1, 3, 5, 6);

  /** A core and its head file at step 3: {@code NAME.bin}, {@code NAME_h.bin}. */
  private Path[] pair(String name) throws Exception {
    Path p = core(name + ".bin");
    Path h = dir.resolve(name + "_h.bin");
    HeadFile.write(h, HH, new float[(int) HeadHeader.payloadFloats(4)]);
    return new Path[] {p, h};
  }

  /** A pair after one interval (layers 5..34 written from {@code base}) committed at step 4. */
  private Path[] committed(String name, float base) throws Exception {
    Path[] q = pair(name);
    try (CoreWeights cw = CoreFile.openStreamed(q[0], true)) {
      scribble(cw, 5, 30, base);
      cw.commit(4, q[1], headBytes(HH, 4));
    }
    return q;
  }

  @Test
  void uncommittedWritesNeverTouchTheCoreAndAreUndone() throws Exception {
    Path p = core("a.bin");
    Path head = dir.resolve("a_h.bin");
    byte[] before = Files.readAllBytes(p);
    try (CoreWeights cw = CoreFile.openStreamed(p, true)) {
      scribble(cw, 30, 13, 42);
      scribble(cw, 10, 11, 42);
      scribble(cw, 30, 13, 42);
      scribble(cw, 26, 8, 42); // blocks 6..8: 7 and 8 written already, 6 not
      scribble(cw, 10, 11, 42);
      assertEquals(42 + 5, first(cw, 15), "a read sees the interval's write");
      assertEquals(42, first(cw, 26), "and the last one of a block written twice");
    } // "crash": closed without commit
    assertArrayEquals(before, Files.readAllBytes(p), "the core is never written in place");
    assertTrue(Files.exists(AtomicFiles.tempFor(p)), "the shadow holds the writes");
    Files.write(Journal.pendingHead(head), new byte[] {1, 2, 3}); // a half-written head
    assertEquals(Journal.Outcome.ROLLED_BACK, Journal.recover(p, head));
    assertArrayEquals(before, Files.readAllBytes(p));
    assertFalse(Files.exists(AtomicFiles.tempFor(p)));
    assertFalse(Files.exists(Journal.pendingHead(head)));
    assertEquals(Journal.Outcome.NOTHING, Journal.recover(p, head));
  }

  /**
   * A commit keeps every write of the interval and every block it did not write (copied from
   * the core into the shadow): the same file, byte for byte, as an in-memory core given the
   * same writes; and the core goes on from it, reads and writes, in the next interval.
   */
  @Test
  void commitKeepsTheWritesAndTheBlocksNotWritten() throws Exception {
    Path p = core("c.bin");
    Path q = core("c_mem.bin");
    Path head = dir.resolve("c_h.bin");
    Path qh = dir.resolve("c_mem_h.bin");
    HeadFile.write(head, HH, new float[(int) HeadHeader.payloadFloats(4)]);
    HeadFile.write(qh, HH, new float[(int) HeadHeader.payloadFloats(4)]);
    int[][] writes = {{5, 9}, {20, 3}, {44, 6}};
    try (CoreWeights cw = CoreFile.openStreamed(p, true);
        CoreWeights mem = CoreFile.openInMemory(q)) {
      for (CoreWeights c : new CoreWeights[] {cw, mem}) {
        for (int[] w : writes) {
          scribble(c, w[0], w[1], 7 * w[0]);
        }
        c.commit(4, c == cw ? head : qh, headBytes(HH, 4));
      }
      assertArrayEquals(Files.readAllBytes(q), Files.readAllBytes(p), "the committed core");
      assertArrayEquals(Files.readAllBytes(qh), Files.readAllBytes(head), "the committed head");
      assertFalse(Files.exists(AtomicFiles.tempFor(p)), "the shadow became the core");
      // the next interval reads the committed core and writes a new shadow
      assertEquals(7 * 20 + 1, first(cw, 21));
      scribble(cw, 0, 50, -1);
      cw.commit(5, head, headBytes(HH, 5));
      assertEquals(-1 + 49, first(cw, 49));
    }
    assertEquals(5, CoreFile.readHeader(p).step());
    assertEquals(5, HeadFile.read(head).header().step());
    try (CoreWeights cw = CoreFile.openStreamed(p, false)) {
      for (long l = 0; l < 50; l++) {
        assertEquals(-1 + l, first(cw, l), "layer " + l); // every block passes its checksum
      }
    }
  }

  /**
   * The forward pass loads for reading; the backward loads the same staged range again for
   * update and writes it back. A write-back of a range loaded only for reading is a programming
   * error.
   */
  @Test
  void rangeLoadedForReadingThenForUpdateIsWrittenBack() throws Exception {
    Path p = core("r.bin");
    Path head = dir.resolve("r_h.bin");
    byte[] before = Files.readAllBytes(p);
    try (CoreWeights cw = CoreFile.openStreamed(p, true)) {
      cw.loadForReading(0, 20);
      cw.loadForReading(20, 30);
      assertThrows(IllegalStateException.class, () -> cw.writeBack(20, 30));
      scribble(cw, 20, 30, 42); // load (same staged range, now for update), change, write back
      scribble(cw, 0, 20, 42);
      assertEquals(42 + 29, first(cw, 49));
    } // "crash": closed without commit
    assertEquals(Journal.Outcome.ROLLED_BACK, Journal.recover(p, head));
    assertArrayEquals(before, Files.readAllBytes(p));
  }

  /** Cut after the shadow and the pending head were forced, before the core's rename. */
  @Test
  void commitCutBeforeTheCoreRenameIsUndone() throws Exception {
    Path p = core("b.bin");
    Path head = dir.resolve("b_h.bin");
    HeadFile.write(head, HH, new float[(int) HeadHeader.payloadFloats(4)]);
    byte[] core = Files.readAllBytes(p);
    byte[] h = Files.readAllBytes(head);
    CoreFile.Opened o = CoreFile.openChannel(p, true);
    try (StreamedCore cw = new StreamedCore(p, o, true)) {
      scribble(cw, 0, 50, 9);
      cw.awaitWrite();
      AtomicFiles.writeTemp(head, headBytes(HH, 4));
    }
    assertEquals(Journal.Outcome.ROLLED_BACK, Journal.recover(p, head));
    assertArrayEquals(core, Files.readAllBytes(p));
    assertArrayEquals(h, Files.readAllBytes(head));
    assertFalse(Files.exists(Journal.pendingHead(head)));
    assertFalse(Files.exists(AtomicFiles.tempFor(p)));
  }

  /** Cut between the core's rename and the head's: recovery renames the head. */
  @Test
  void commitCutAfterTheCoreRenameIsCompleted() throws Exception {
    Path[] done = committed("d", 3); // core and head as the commit leaves them
    Path[] cut = pair("e");
    Files.copy(done[0], cut[0], java.nio.file.StandardCopyOption.REPLACE_EXISTING); // renamed
    Files.write(Journal.pendingHead(cut[1]), Files.readAllBytes(done[1])); // the head not yet
    assertEquals(Journal.Outcome.ROLLED_FORWARD, Journal.recover(cut[0], cut[1]));
    assertArrayEquals(Files.readAllBytes(done[1]), Files.readAllBytes(cut[1]));
    assertFalse(Files.exists(Journal.pendingHead(cut[1])));
  }

  // --- the undo journal written by versions before 2026-11-28

  /** Overwrites layers [first, first + n) of the core file in place, as those versions did. */
  private static void overwriteInPlace(Path p, long first, int n) throws Exception {
    CoreHeader h = CoreFile.readHeader(p);
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.allocate((int) (n * h.layerBytes()));
      while (b.hasRemaining()) {
        b.put((byte) 0x5a);
      }
      b.flip();
      CoreFile.writeFully(ch, b, h.dataOffset() + first * h.layerBytes());
    }
  }

  /** An undo record of blocks [b0, b1) of the core file as it is now. */
  private static void logBlocks(Journal.Writer jw, Path p, int b0, int b1) throws Exception {
    CoreFile.Opened o = CoreFile.openChannel(p, false);
    try (FileChannel ch = o.channel()) {
      CoreHeader h = o.header();
      long from = b0 * h.blockLayers();
      long to = Math.min(h.layers(), b1 * h.blockLayers());
      ByteBuffer bytes = ByteBuffer.allocateDirect((int) ((to - from) * h.layerBytes()));
      CoreFile.readFully(ch, bytes, h.dataOffset() + from * h.layerBytes(), "core");
      bytes.flip();
      jw.undo(b0, java.util.Arrays.copyOfRange(o.table(), b0, b1), MemorySegment.ofBuffer(bytes));
    }
  }

  @Test
  void legacyJournalIsRolledBackAndItsTornTailIgnored() throws Exception {
    Path p = core("l.bin");
    Path head = dir.resolve("l_h.bin");
    byte[] before = Files.readAllBytes(p);
    long off = CoreFile.readHeader(p).dataOffset();
    try (Journal.Writer jw = new Journal.Writer(Journal.pathFor(p), off)) {
      logBlocks(jw, p, 2, 5);
      overwriteInPlace(p, 8, 12); // blocks 2..4
      logBlocks(jw, p, 12, 13);
      overwriteInPlace(p, 48, 2); // the short last block
    }
    Files.write(Journal.pathFor(p), new byte[] {1, 0, 0, 0, 99, 0}, StandardOpenOption.APPEND);
    assertEquals(Journal.Outcome.ROLLED_BACK, Journal.recover(p, head));
    assertArrayEquals(before, Files.readAllBytes(p));
    assertFalse(Files.exists(Journal.pathFor(p)));
  }

  @Test
  void legacyCommitRecordIsRolledForward() throws Exception {
    // a full commit elsewhere gives the committed files
    Path[] f = committed("f", 11);
    Path q = f[0];
    Path qh = f[1];
    // the same interval as those versions left it, cut after the COMMIT record: the data
    // written in place, the header and table not yet, the head pending
    Path[] g = pair("g");
    Path p = g[0];
    Path head = g[1];
    CoreFile.Opened qo = CoreFile.openChannel(q, false);
    CoreHeader h = qo.header();
    qo.channel().close();
    byte[] qb = Files.readAllBytes(q);
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
      CoreFile.writeFully(ch, ByteBuffer.wrap(qb, (int) h.dataOffset(),
          (int) (qb.length - h.dataOffset())), h.dataOffset());
    }
    Files.write(Journal.pendingHead(head), Files.readAllBytes(qh));
    try (Journal.Writer jw = new Journal.Writer(Journal.pathFor(p), h.dataOffset())) {
      jw.commit(h.encode(Crc.ofInts(qo.table())), qo.table());
    }
    assertEquals(3, CoreFile.readHeader(p).step());
    assertEquals(Journal.Outcome.ROLLED_FORWARD, Journal.recover(p, head));
    assertArrayEquals(qb, Files.readAllBytes(p));
    assertArrayEquals(Files.readAllBytes(qh), Files.readAllBytes(head));
    assertFalse(Files.exists(Journal.pendingHead(head)));
  }
}
