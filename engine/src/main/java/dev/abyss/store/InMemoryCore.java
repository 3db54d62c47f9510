package dev.abyss.store;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A core held whole in (off-heap) memory: loaded and verified once; {@link #commit} writes
 * the whole file anew beside the old one and renames it into place, so the file on disk is
 * always either the old model or the new one.
 */
final class InMemoryCore implements CoreWeights {
  private final Path path;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment data;
  private CoreHeader header;

  InMemoryCore(Path path, CoreFile.Opened o) throws IOException {
    this.path = path;
    this.header = o.header();
    try (var ch = o.channel()) {
      data = arena.allocate(header.dataBytes(), 64);
      long lb = header.layerBytes();
      long chunk = Math.max(1, (1L << 30) / lb) * lb;
      for (long off = 0; off < data.byteSize(); off += chunk) {
        long n = Math.min(chunk, data.byteSize() - off);
        CoreFile.readFully(ch, data.asSlice(off, n).asByteBuffer(), header.dataOffset() + off,
            "core file " + path);
      }
      long bl = header.blockLayers();
      int[] table = o.table();
      for (long l = 0; l < header.layers(); l += bl) {
        long n = Math.min(bl, header.layers() - l);
        int blk = (int) (l / bl);
        if (Crc.of(data, l * lb, n * lb) != table[blk]) {
          throw new FormatException("core file " + path + " is damaged: block " + blk
              + " (layers " + l + ".." + (l + n - 1) + ") fails its checksum; restore it from"
              + " a backup");
        }
      }
    } catch (IOException | RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  @Override
  public CoreHeader header() {
    return header;
  }

  @Override
  public boolean inMemory() {
    return true;
  }

  @Override
  public MemorySegment load(long start, int count) {
    return data;
  }

  @Override
  public long offsetOf(long layer) {
    return layer * header.layerBytes();
  }

  @Override
  public void writeBack(long start, int count) {
    // the data is already in place; commit writes the file
  }

  @Override
  public void commit(long step, Path head, byte[] headBytes) throws IOException {
    CoreHeader h = header.withStep(step);
    long lb = h.layerBytes();
    // core to its temporary file, head to its pending file, then the two renames; recovery
    // completes a pair whose pending head matches the core's step
    Path tmp = CoreFile.writeTemp(path, h, (first, count, dst) ->
        MemorySegment.copy(data, first * lb, dst, 0, count * lb), null);
    Path pending = head == null ? null : AtomicFiles.writeTemp(head, headBytes);
    AtomicFiles.commit(tmp, path);
    if (pending != null) {
      AtomicFiles.commit(pending, head);
    }
    header = h;
  }

  @Override
  public void close() {
    arena.close();
  }
}
