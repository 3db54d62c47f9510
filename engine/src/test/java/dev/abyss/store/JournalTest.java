package dev.abyss.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The undo journal: roll back, roll forward, torn records, pending heads. */
class JournalTest {
  @TempDir Path dir;

  private Path core(String name) throws Exception {
    CoreHeader h = new CoreHeader(4, 50, Activation.SOFTSIGN, 0.1f, 0.01f, 5, 3, 6, 4);
    Path p = dir.resolve(name);
    CoreFile.create(p, h, null);
    return p;
  }

  private static void scribble(CoreWeights cw, long start, int n) throws Exception {
    MemorySegment s = cw.load(start, n);
    for (int l = 0; l < n; l++) {
      s.set(Kernels.F32, cw.offsetOf(start + l), 42f + l);
    }
    cw.writeBack(start, n);
  }

  @Test
  void uncommittedWritesAreRolledBack() throws Exception {
    Path p = core("a.bin");
    Path head = dir.resolve("a_h.bin");
    byte[] before = Files.readAllBytes(p);
    try (CoreWeights cw = CoreFile.openStreamed(p, true)) {
      scribble(cw, 30, 13);
      scribble(cw, 10, 11);
      scribble(cw, 30, 13); // a block logged already is not logged again (nor copied)
      scribble(cw, 26, 8); // blocks 6..8: 7 and 8 logged already, 6 not
      scribble(cw, 10, 11);
    } // "crash": closed without commit
    assertTrue(Files.exists(Journal.pathFor(p)));
    Files.write(Journal.pendingHead(head), new byte[] {1, 2, 3}); // a half-written head
    assertEquals(Journal.Outcome.ROLLED_BACK, Journal.recover(p, head));
    assertArrayEquals(before, Files.readAllBytes(p));
    assertFalse(Files.exists(Journal.pathFor(p)));
    assertFalse(Files.exists(Journal.pendingHead(head)));
    assertEquals(Journal.Outcome.NOTHING, Journal.recover(p, head));
  }

  /**
   * The forward pass loads for reading (no undo copy); the backward loads the same staged
   * range again for update, which takes the undo copy then. A crash after its write-back still
   * rolls back to the original bytes; a write-back of a range loaded only for reading is a
   * programming error.
   */
  @Test
  void rangeLoadedForReadingThenForUpdateRollsBack() throws Exception {
    Path p = core("r.bin");
    Path head = dir.resolve("r_h.bin");
    byte[] before = Files.readAllBytes(p);
    try (CoreWeights cw = CoreFile.openStreamed(p, true)) {
      cw.loadForReading(0, 20);
      cw.loadForReading(20, 30);
      org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
          () -> cw.writeBack(20, 30));
      scribble(cw, 20, 30); // load (same staged range, now for update), change, write back
      scribble(cw, 0, 20);
    } // "crash": closed without commit
    assertEquals(Journal.Outcome.ROLLED_BACK, Journal.recover(p, head));
    assertArrayEquals(before, Files.readAllBytes(p));
  }

  @Test
  void committedIntervalSurvivesAndTornTailIsIgnored() throws Exception {
    Path p = core("b.bin");
    Path head = dir.resolve("b_h.bin");
    HeadHeader hh = new HeadHeader(HeadHeader.KIND_RESIDUAL, 4, 1, 3, 5, 6);
    float[] payload = new float[(int) HeadHeader.payloadFloats(4)];
    HeadFile.write(head, hh, payload);
    try (CoreWeights cw = CoreFile.openStreamed(p, true)) {
      scribble(cw, 0, 20);
      payload[0] = 9f;
      cw.commit(4, head, HeadFile.encode(hh.withStep(4), payload));
    }
    byte[] committed = Files.readAllBytes(p);
    assertEquals(4, CoreFile.readHeader(p).step());
    assertEquals(4, HeadFile.read(head).header().step());
    assertFalse(Files.exists(Journal.pathFor(p)));

    // a new interval: writes, then a torn undo record at the journal's end
    try (CoreWeights cw = CoreFile.openStreamed(p, true)) {
      scribble(cw, 40, 10);
    }
    Files.write(Journal.pathFor(p), new byte[] {1, 0, 0, 0, 99, 0}, StandardOpenOption.APPEND);
    assertEquals(Journal.Outcome.ROLLED_BACK, Journal.recover(p, head));
    assertArrayEquals(committed, Files.readAllBytes(p));
  }

  @Test
  void commitCutAfterItsRecordIsRolledForward() throws Exception {
    Path p = core("c.bin");
    Path head = dir.resolve("c_h.bin");
    HeadHeader hh = new HeadHeader(HeadHeader.KIND_RESIDUAL, 4, 1, 3, 5, 6);
    float[] payload = new float[(int) HeadHeader.payloadFloats(4)];
    HeadFile.write(head, hh, payload);
    // do a full commit elsewhere to learn what the committed files look like
    Path q = core("d.bin");
    Path qh = dir.resolve("d_h.bin");
    HeadFile.write(qh, hh, payload);
    try (CoreWeights cw = CoreFile.openStreamed(q, true)) {
      scribble(cw, 5, 30);
      cw.commit(4, qh, HeadFile.encode(hh.withStep(4), payload));
    }
    // the same interval on p, cut after the COMMIT record: data written, header not yet
    CoreFile.Opened o = CoreFile.openChannel(p, true);
    CoreHeader h = o.header();
    int[] table;
    try (StreamedCore cw = new StreamedCore(p, o, true)) {
      scribble(cw, 5, 30);
      cw.awaitWrite(); // the undo records and data are written by the I/O thread
      // reach into the commit: journal COMMIT record and pending head, then "crash"
      table = CoreFile.openChannel(q, false).table();
      AtomicFiles.writeTemp(head, HeadFile.encode(hh.withStep(4), payload));
      try (Journal.Writer jw = new Journal.Writer(Journal.pathFor(p), h.dataOffset())) {
        jw.commit(h.withStep(4).encode(Crc.ofInts(table)), table);
      }
    }
    assertEquals(3, CoreFile.readHeader(p).step());
    assertEquals(Journal.Outcome.ROLLED_FORWARD, Journal.recover(p, head));
    assertArrayEquals(Files.readAllBytes(q), Files.readAllBytes(p));
    assertArrayEquals(Files.readAllBytes(qh), Files.readAllBytes(head));
    assertFalse(Files.exists(Journal.pendingHead(head)));
  }
}
