package dev.abyss.store;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * A core streamed from its file: each {@link #load} reads the whole checksum blocks that
 * cover the range into one staging buffer and verifies them; {@link #writeBack} recomputes
 * those blocks' checksums and writes them in place. Resident memory is the staging buffer:
 * the largest chunk plus two blocks.
 */
final class StreamedCore implements CoreWeights {
  private final Path path;
  private final FileChannel ch;
  private final boolean writable;
  private final int[] table;
  private final long lb;
  private final Arena arena = Arena.ofShared();
  private CoreHeader header;
  private MemorySegment staging;
  private long stagedFirst = -1;
  private long stagedLayers;
  private boolean tableDirty;

  StreamedCore(Path path, CoreFile.Opened o, boolean writable) {
    this.path = path;
    this.ch = o.channel();
    this.table = o.table();
    this.header = o.header();
    this.writable = writable;
    this.lb = header.layerBytes();
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
      return staging;
    }
    long bytes = (end - first) * lb;
    if (staging == null || staging.byteSize() < bytes) {
      staging = arena.allocate(bytes, 64);
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
    stagedFirst = first;
    stagedLayers = end - first;
    return staging;
  }

  @Override
  public long offsetOf(long layer) {
    return (layer - stagedFirst) * lb;
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
    for (long l = first; l < end; l += bl) {
      long n = Math.min(bl, end - l);
      table[(int) (l / bl)] = Crc.of(staging, (l - first) * lb, n * lb);
    }
    tableDirty = true;
    try {
      CoreFile.writeFully(ch, staging.asSlice(0, (end - first) * lb).asByteBuffer(),
          header.dataOffset() + first * lb);
    } catch (IOException e) {
      throw AtomicFiles.diskError(path, e);
    }
  }

  @Override
  public void commit(long step) throws IOException {
    if (!writable) {
      throw new IllegalStateException("opened read-only");
    }
    header = header.withStep(step);
    try {
      CoreFile.writeMeta(ch, header, table);
      ch.force(true);
    } catch (IOException e) {
      throw AtomicFiles.diskError(path, e);
    }
    tableDirty = false;
  }

  @Override
  public void close() throws IOException {
    try {
      ch.close();
    } finally {
      arena.close();
    }
    if (tableDirty) {
      throw new IllegalStateException("closed with uncommitted writes");
    }
  }
}
