package dev.abyss.store;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;

/**
 * A core streamed from its file: each {@link #load} reads the whole checksum blocks that
 * cover the range into one staging buffer and verifies them; {@link #writeBack} recomputes
 * those blocks' checksums and writes them in place, after logging the blocks' committed bytes
 * in the {@link Journal} (once per block per commit interval). Resident memory is the
 * staging buffer and its pristine copy: twice the largest chunk plus two blocks. A bf16 core
 * adds an f32 working copy of the staged layers (widened on load, rounded back by {@link
 * Bf16#round} on write-back); staging, pristine copy, journal and checksums stay in bf16.
 */
final class StreamedCore implements CoreWeights {
  private final Path path;
  private final FileChannel ch;
  private final boolean writable;
  private final int[] table;
  private final long lb;
  private final long wlb;
  private final boolean bf16;
  private long roundKey;
  private final Arena arena = Arena.ofShared();
  private final BitSet logged = new BitSet();
  private CoreHeader header;
  private MemorySegment staging;
  private MemorySegment pristine;
  /** What the kernels see: the staging buffer itself for f32, its widened copy for bf16. */
  private MemorySegment work;
  private long stagedFirst = -1;
  private long stagedLayers;
  private Journal.Writer journal;

  StreamedCore(Path path, CoreFile.Opened o, boolean writable) {
    this.path = path;
    this.ch = o.channel();
    this.table = o.table();
    this.header = o.header();
    this.writable = writable;
    this.lb = header.layerBytes();
    this.wlb = header.workLayerBytes();
    this.bf16 = header.dtype() == Dtype.BF16;
    beginStep(header.step());
  }

  @Override
  public void beginStep(long step) {
    roundKey = Bf16.stepKey(header.seed(), step);
  }

  @Override
  public CoreHeader header() {
    return header;
  }

  @Override
  public boolean inMemory() {
    return false;
  }

  @Override
  public MemorySegment load(long start, int count) throws IOException {
    long bl = header.blockLayers();
    long first = start / bl * bl;
    long end = Math.min(header.layers(), ((start + count - 1) / bl + 1) * bl);
    if (first == stagedFirst && end - first == stagedLayers) {
      return work;
    }
    long bytes = (end - first) * lb;
    if (staging == null || staging.byteSize() < bytes) {
      staging = arena.allocate(bytes, 64);
      pristine = writable ? arena.allocate(bytes, 64) : null;
      work = bf16 ? arena.allocate((end - first) * wlb, 64) : staging;
    }
    stagedFirst = -1;
    CoreFile.readFully(ch, staging.asSlice(0, bytes).asByteBuffer(),
        header.dataOffset() + first * lb, "core file " + path);
    for (long l = first; l < end; l += bl) {
      long n = Math.min(bl, end - l);
      int crc = Crc.of(staging, (l - first) * lb, n * lb);
      int blk = (int) (l / bl);
      if (crc != table[blk]) {
        throw new FormatException("core file " + path + " is damaged: block " + blk + " (layers "
            + l + ".." + (l + n - 1) + ") fails its checksum; restore it from a backup");
      }
    }
    if (writable) {
      MemorySegment.copy(staging, 0, pristine, 0, bytes);
    }
    if (bf16) {
      Bf16.widen(staging, 0, work, 0, (end - first) * header.layerFloats());
    }
    stagedFirst = first;
    stagedLayers = end - first;
    return work;
  }

  @Override
  public long offsetOf(long layer) {
    return (layer - stagedFirst) * wlb;
  }

  @Override
  public void writeBack(long start, int count) throws IOException {
    if (!writable) {
      throw new IllegalStateException("opened read-only");
    }
    long bl = header.blockLayers();
    long first = start / bl * bl;
    long end = Math.min(header.layers(), ((start + count - 1) / bl + 1) * bl);
    if (first != stagedFirst || end - first != stagedLayers) {
      throw new IllegalStateException("writeBack of a range that is not the one loaded");
    }
    int b0 = (int) (first / bl);
    int b1 = (int) ((end - 1) / bl) + 1;
    if (bf16) {
      // layers of the staged blocks outside [start, start + count) are already bf16 and come
      // back unchanged
      long lf = header.layerFloats();
      Bf16.round(work, 0, staging, 0, (end - first) * lf, roundKey, first * lf);
      // the staged range may be used again without a reload: it must hold the stored values
      Bf16.widen(staging, 0, work, 0, (end - first) * lf);
    }
    try {
      // undo records for the blocks not yet logged in this commit interval, in runs
      for (int b = logged.nextClearBit(b0); b < b1; b = logged.nextClearBit(b)) {
        int e = Math.min(b1, logged.nextSetBit(b) < 0 ? b1 : logged.nextSetBit(b));
        if (journal == null) {
          journal = new Journal.Writer(Journal.pathFor(path), header.dataOffset());
        }
        long from = (b * bl - first) * lb;
        long to = (Math.min(end, (long) e * bl) - first) * lb;
        journal.undo(b, java.util.Arrays.copyOfRange(table, b, e), pristine.asSlice(from,
            to - from));
        logged.set(b, e);
        b = e;
      }
      for (long l = first; l < end; l += bl) {
        long n = Math.min(bl, end - l);
        table[(int) (l / bl)] = Crc.of(staging, (l - first) * lb, n * lb);
      }
      CoreFile.writeFully(ch, staging.asSlice(0, (end - first) * lb).asByteBuffer(),
          header.dataOffset() + first * lb);
      MemorySegment.copy(staging, 0, pristine, 0, (end - first) * lb);
    } catch (IOException e) {
      throw AtomicFiles.diskError(path, e);
    }
  }

  @Override
  public void commit(long step, Path head, byte[] headBytes) throws IOException {
    if (!writable) {
      throw new IllegalStateException("opened read-only");
    }
    CoreHeader h = header.withStep(step);
    try {
      ch.force(false);
      Path pending = head == null ? null : AtomicFiles.writeTemp(head, headBytes);
      if (journal == null) {
        journal = new Journal.Writer(Journal.pathFor(path), header.dataOffset());
      }
      int tableCrc = Crc.ofInts(table);
      journal.commit(h.encode(tableCrc), table);
      CoreFile.writeMeta(ch, h, table);
      ch.force(true);
      if (pending != null) {
        AtomicFiles.commit(pending, head);
      }
      journal.close();
      journal = null;
      Files.delete(Journal.pathFor(path));
      logged.clear();
      header = h;
    } catch (IOException e) {
      throw AtomicFiles.diskError(path, e);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      if (journal != null) {
        // uncommitted changes: the journal stays, and the next run rolls them back
        journal.close();
      }
      ch.close();
    } finally {
      arena.close();
    }
  }
}
