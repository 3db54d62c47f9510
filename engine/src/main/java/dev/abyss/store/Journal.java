package dev.abyss.store;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * Recovery of a core and its head after a crash (docs/journal.md), and the undo journal
 * ({@code WEIGHTS.journal}) that versions before 2026-11-28 wrote for streamed runs.
 *
 * <p>A streamed run now writes its changes since the last commit to a shadow core, {@code
 * .WEIGHTS.tmp}, and a commit renames it over the core (StreamedCore), as an in-memory commit
 * renames its new copy; the committed core is never written in place. Recovery, before any
 * command uses the files: a temporary core is deleted (the interval it held is undone); a
 * pending head ({@code .HEAD.tmp}) is renamed into place if its step is the core's (the
 * commit got that far), else deleted.
 *
 * <p>A journal left by an earlier version is replayed first: one ending in a valid COMMIT
 * record is rolled forward (header and table rewritten), any other rolled back (every undo
 * record's bytes written back). Both are idempotent, so a crash during recovery is recovered
 * by the next run. Torn records at the end fail their CRC and are ignored: their block had
 * not been overwritten yet. {@link Writer} writes such journals for the tests of this path.
 *
 * <p>Record layout (little-endian): type u32 (1 UNDO, 2 COMMIT), payload length u64, payload,
 * CRC32C of type+length+payload u32. UNDO payload: first block u64, block count u32, the
 * blocks' CRCs (u32 each), their bytes. COMMIT payload: the 128-byte header, the block
 * table. The file starts with magic "ABYSJRNL", version u32, the core's data offset u64.
 */
public final class Journal {
  static final byte[] MAGIC = "ABYSJRNL".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  static final int START = 20;
  static final int UNDO = 1;
  static final int COMMIT = 2;

  private Journal() {}

  /** The journal of a core file. */
  public static Path pathFor(Path weights) {
    Path abs = weights.toAbsolutePath();
    return abs.resolveSibling(abs.getFileName() + ".journal");
  }

  /** The pending head written during a commit. */
  public static Path pendingHead(Path head) {
    return AtomicFiles.tempFor(head);
  }

  /** What recovery did. */
  public enum Outcome { NOTHING, ROLLED_BACK, ROLLED_FORWARD }

  /** An open journal being appended to (the format of versions before 2026-11-28). */
  static final class Writer implements AutoCloseable {
    private final FileChannel ch;
    private long pos;

    Writer(Path p, long dataOffset) throws IOException {
      ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
          StandardOpenOption.WRITE);
      ByteBuffer b = ByteBuffer.allocate(START).order(ByteOrder.LITTLE_ENDIAN);
      b.put(MAGIC).putInt(1).putLong(dataOffset).flip();
      CoreFile.writeFully(ch, b, 0);
      pos = START;
    }

    /** Appends the committed bytes and CRCs of blocks [first, first + n), then forces. */
    void undo(long firstBlock, int[] crcs, MemorySegment bytes) throws IOException {
      ByteBuffer meta = ByteBuffer.allocate(12 + 4 * crcs.length).order(ByteOrder.LITTLE_ENDIAN);
      meta.putLong(firstBlock).putInt(crcs.length);
      for (int c : crcs) {
        meta.putInt(c);
      }
      meta.flip();
      append(UNDO, meta, bytes.asByteBuffer());
      ch.force(false);
    }

    void commit(ByteBuffer header, int[] table) throws IOException {
      ByteBuffer t = ByteBuffer.allocate(4 * table.length).order(ByteOrder.LITTLE_ENDIAN);
      t.asIntBuffer().put(table);
      append(COMMIT, header.duplicate(), t);
      ch.force(false);
    }

    private void append(int type, ByteBuffer a, ByteBuffer b) throws IOException {
      long len = a.remaining() + (long) b.remaining();
      ByteBuffer head = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
      head.putInt(type).putLong(len).flip();
      CRC32C crc = new CRC32C();
      crc.update(head.duplicate());
      crc.update(a.duplicate());
      crc.update(b.duplicate());
      ByteBuffer tail = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
      tail.putInt((int) crc.getValue()).flip();
      for (ByteBuffer x : new ByteBuffer[] {head, a, b, tail}) {
        int n = x.remaining();
        CoreFile.writeFully(ch, x, pos);
        pos += n;
      }
    }

    @Override
    public void close() throws IOException {
      ch.close();
    }
  }

  /**
   * Finishes or undoes an interrupted commit interval of {@code weights}; {@code head} is its
   * head file (whose pending copy is renamed or deleted). Safe to call when there is nothing
   * to do.
   */
  public static Outcome recover(Path weights, Path head) throws IOException {
    Outcome o = replay(weights, head);
    // a stale temporary core is never used: a streamed run's shadow core (its writes since
    // the last commit), or an in-memory commit's copy cut before its rename
    if (Files.deleteIfExists(AtomicFiles.tempFor(weights)) && o == Outcome.NOTHING) {
      o = Outcome.ROLLED_BACK;
    }
    // a pending head completes the pair when it is at the core's step, else it is stale
    Path pending = pendingHead(head);
    if (Files.exists(pending)) {
      boolean match = false;
      try {
        match = Files.exists(weights) && HeadFile.read(pending).header().step()
            == CoreFile.readHeader(weights).step();
      } catch (FormatException e) {
        match = false;
      }
      if (match) {
        AtomicFiles.commit(pending, head);
        if (o == Outcome.NOTHING) {
          o = Outcome.ROLLED_FORWARD;
        }
      } else {
        Files.delete(pending);
      }
    }
    return o;
  }

  private static Outcome replay(Path weights, Path head) throws IOException {
    Path jp = pathFor(weights);
    if (!Files.exists(jp)) {
      return Outcome.NOTHING;
    }
    String name = "journal " + jp;
    try (FileChannel j = FileChannel.open(jp, StandardOpenOption.READ);
        FileChannel core = FileChannel.open(weights, StandardOpenOption.READ,
            StandardOpenOption.WRITE)) {
      long size = j.size();
      ByteBuffer start = ByteBuffer.allocate(START).order(ByteOrder.LITTLE_ENDIAN);
      if (size >= START) {
        CoreFile.readFully(j, start, 0, name);
      }
      start.flip();
      boolean valid = size >= START;
      for (int i = 0; valid && i < MAGIC.length; i++) {
        valid = start.get(i) == MAGIC[i];
      }
      if (!valid) {
        // torn while being created: nothing was overwritten yet
        Files.delete(jp);
        return Outcome.NOTHING;
      }
      long dataOffset = start.getLong(12);
      // scan the valid records
      java.util.List<long[]> undos = new java.util.ArrayList<>(); // {pos, len}
      long commitPos = -1;
      long commitLen = 0;
      long pos = START;
      while (pos + 16 <= size) {
        ByteBuffer h = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        CoreFile.readFully(j, h, pos, name);
        h.flip();
        int type = h.getInt(0);
        long len = h.getLong(4);
        if ((type != UNDO && type != COMMIT) || len < 0 || pos + 16 + len > size) {
          break;
        }
        if (!recordCrcOk(j, pos, len)) {
          break;
        }
        if (type == UNDO) {
          undos.add(new long[] {pos + 12, len});
        } else {
          commitPos = pos + 12;
          commitLen = len;
        }
        pos += 16 + len;
      }
      Outcome out;
      if (commitPos >= 0) {
        // roll forward: header and table from the COMMIT record
        ByteBuffer c = ByteBuffer.allocate((int) commitLen);
        CoreFile.readFully(j, c, commitPos, name);
        c.flip();
        ByteBuffer hdr = c.slice(0, CoreHeader.SIZE);
        ByteBuffer table = c.slice(CoreHeader.SIZE, (int) commitLen - CoreHeader.SIZE);
        CoreFile.writeFully(core, table, CoreHeader.SIZE);
        CoreFile.writeFully(core, hdr, 0);
        core.force(true);
        out = Outcome.ROLLED_FORWARD;
      } else {
        for (long[] u : undos) {
          ByteBuffer meta = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
          CoreFile.readFully(j, meta, u[0], name);
          meta.flip();
          long firstBlock = meta.getLong(0);
          int count = meta.getInt(8);
          long bytesPos = u[0] + 12 + 4L * count;
          long bytesLen = u[1] - 12 - 4L * count;
          ByteBuffer data = ByteBuffer.allocateDirect((int) bytesLen);
          CoreFile.readFully(j, data, bytesPos, name);
          data.flip();
          ByteBuffer hb = ByteBuffer.allocate(CoreHeader.SIZE);
          CoreFile.readFully(core, hb, 0, "core file " + weights);
          hb.flip();
          CoreHeader ch = CoreHeader.decode("core file " + weights, hb).header();
          if (ch.dataOffset() != dataOffset) {
            throw new FormatException(name + " does not belong to core file " + weights);
          }
          CoreFile.writeFully(core, data, dataOffset + firstBlock * ch.blockLayers()
              * ch.layerBytes());
        }
        core.force(true);
        out = undos.isEmpty() ? Outcome.NOTHING : Outcome.ROLLED_BACK;
      }
      Files.delete(jp);
      return out;
    }
  }

  private static boolean recordCrcOk(FileChannel j, long pos, long len) throws IOException {
    CRC32C crc = new CRC32C();
    ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
    long end = pos + 12 + len;
    long p = pos;
    while (p < end) {
      buf.clear().limit((int) Math.min(buf.capacity(), end - p));
      int n = j.read(buf, p);
      if (n < 0) {
        return false;
      }
      buf.flip();
      crc.update(buf);
      p += n;
    }
    ByteBuffer t = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    if (j.read(t, end) != 4) {
      return false;
    }
    return t.getInt(0) == (int) crc.getValue();
  }
}
