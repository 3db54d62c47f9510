package dev.abyss.store;

import dev.abyss.kernel.Kernels;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;

/**
 * Core files: create (seeded init), open (streamed or in memory), verify.
 *
 * <p>Initial weights: W uniform in [-scale, scale], b = 0. Layers are generated in groups of
 * {@link #INIT_GROUP} layers, group g drawing from
 * {@code SplittableRandom(mix(mix(seed ^ K) + g * golden))} in layer order, W row-major: so
 * any group can be generated alone, and the file does not depend on how (or on how many
 * threads) it is written.
 */
public final class CoreFile {
  public static final int INIT_GROUP = 65536;

  private CoreFile() {}

  /** The random stream of init group {@code g}. */
  public static SplittableRandom initRandom(long seed, long g) {
    // mixed again so that groups' streams do not overlap (consecutive SplittableRandom seeds
    // spaced by its own gamma would give shifted copies of one sequence)
    return new SplittableRandom(mix(mix(seed ^ 0x243F6A8885A308D3L) + g * 0x9E3779B97F4A7C15L));
  }

  /** A 64-bit finaliser (the MurmurHash3 / SplitMix64 mix). */
  public static long mix(long z) {
    z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
    z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
    return z ^ (z >>> 33);
  }

  /** Source of layer data while writing a new file: fills {@code count} layers. */
  @FunctionalInterface
  public interface LayerSource {
    void fill(long firstLayer, int count, MemorySegment dst) throws IOException;
  }

  /**
   * Creates a freshly initialised core file, atomically. Groups are generated in parallel
   * (the bits do not depend on it); a bf16 core stores each value rounded to nearest.
   */
  public static void create(Path path, CoreHeader h, LongConsumer progress) throws IOException {
    write(path, h, (first, count, dst) -> {
      long end = first + count;
      long g0 = first / INIT_GROUP;
      long g1 = (end - 1) / INIT_GROUP;
      java.util.stream.LongStream.rangeClosed(g0, g1).parallel().forEach(g -> {
        long a = Math.max(first, g * INIT_GROUP);
        long b = Math.min(end, (g + 1) * INIT_GROUP);
        initLayers(h, a, b, dst, (a - first) * h.layerBytes());
      });
    }, progress);
  }

  /** Layers [a, b) of one init group into dst at byte offset pos, in the file's dtype. */
  private static void initLayers(CoreHeader h, long a, long b, MemorySegment dst, long pos) {
    int w = h.width();
    float scale = h.scale();
    boolean bf16 = h.dtype() == Dtype.BF16;
    long g = a / INIT_GROUP;
    SplittableRandom r = initRandom(h.seed(), g);
    // skip the draws of this group's layers before a
    long skip = (a - g * INIT_GROUP) * (long) w * w;
    for (long s = 0; s < skip; s++) {
      r.nextInt();
    }
    int size = h.dtype().bytes;
    for (long layer = a; layer < b; layer++) {
      for (int k = 0; k < w * w; k++) {
        float u = (float) ((2.0 * ((r.nextInt() >>> 8) * 0x1.0p-24) - 1.0) * scale);
        if (bf16) {
          dst.set(Bf16.I16, pos, Bf16.nearest(u));
        } else {
          dst.set(Kernels.F32, pos, u);
        }
        pos += size;
      }
      // biases start at zero (in both dtypes, all-zero bytes)
      dst.asSlice(pos, (long) w * size).fill((byte) 0);
      pos += (long) w * size;
    }
  }

  /**
   * Writes a whole core file from a layer source, atomically, computing the block table.
   * The source is asked for whole blocks, in order.
   */
  public static void write(Path path, CoreHeader h, LayerSource src, LongConsumer progress)
      throws IOException {
    AtomicFiles.commit(writeTemp(path, h, src, progress), path);
  }

  /** Writes a whole core file to {@code path}'s temporary sibling, forced; returns it. */
  static Path writeTemp(Path path, CoreHeader h, LayerSource src, LongConsumer progress)
      throws IOException {
    AtomicFiles.ensureSpace(path, h.fileSize());
    Path tmp = AtomicFiles.tempFor(path);
    long lb = h.layerBytes();
    int blocksPerBuf = (int) Math.max(1, (32L << 20) / (lb * h.blockLayers()));
    long bufLayers = (long) blocksPerBuf * h.blockLayers();
    int[] table = new int[Math.toIntExact(h.numBlocks())];
    try (Arena arena = Arena.ofShared(); // sources may fill it from several threads
        FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE,
            StandardOpenOption.READ)) {
      MemorySegment buf = arena.allocate(bufLayers * lb, 64);
      long pos = h.dataOffset();
      for (long first = 0; first < h.layers(); first += bufLayers) {
        int n = (int) Math.min(bufLayers, h.layers() - first);
        MemorySegment part = buf.asSlice(0, n * lb);
        src.fill(first, n, part);
        for (long l = 0; l < n; l += h.blockLayers()) {
          long bl = Math.min(h.blockLayers(), n - l);
          table[(int) ((first + l) / h.blockLayers())] = Crc.of(part, l * lb, bl * lb);
        }
        writeFully(ch, part.asByteBuffer(), pos);
        pos += n * lb;
        if (progress != null) {
          progress.accept(first + n);
        }
      }
      writeMeta(ch, h, table);
      ch.force(true);
    } catch (IOException e) {
      Files.deleteIfExists(tmp);
      throw AtomicFiles.diskError(path, e);
    } catch (RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    return tmp;
  }

  /** Writes header and block table at the start of the file. */
  static void writeMeta(FileChannel ch, CoreHeader h, int[] table) throws IOException {
    ByteBuffer t = ByteBuffer.allocate(4 * table.length).order(ByteOrder.LITTLE_ENDIAN);
    t.asIntBuffer().put(table);
    int tableCrc = Crc.ofInts(table);
    writeFully(ch, t, CoreHeader.SIZE);
    writeFully(ch, h.encode(tableCrc), 0);
  }

  static void writeFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
    while (b.hasRemaining()) {
      pos += ch.write(b, pos);
    }
  }

  static void readFully(FileChannel ch, ByteBuffer b, long pos, String name) throws IOException {
    while (b.hasRemaining()) {
      int n = ch.read(b, pos);
      if (n < 0) {
        throw new FormatException(name + " is truncated: restore it from a backup");
      }
      pos += n;
    }
  }

  /** An opened file's header, block table and channel. */
  record Opened(CoreHeader header, int[] table, FileChannel channel) {}

  /** Opens and validates header, size and block table (not the data). */
  static Opened openChannel(Path path, boolean write) throws IOException {
    String name = "core file " + path;
    FileChannel ch;
    try {
      ch = write
          ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
          : FileChannel.open(path, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      throw new FormatException(name + " does not exist: check --weights, or create it with"
          + " init / init-dense (train creates it when missing)");
    }
    try {
      ByteBuffer hb = ByteBuffer.allocate(CoreHeader.SIZE);
      int n = ch.read(hb, 0);
      hb.flip();
      if (n < 0) {
        hb.limit(0);
      }
      CoreHeader.Decoded d = CoreHeader.decode(name, hb);
      CoreHeader h = d.header();
      long size = ch.size();
      if (size != h.fileSize()) {
        throw new FormatException(name + " is " + (size < h.fileSize() ? "truncated" : "too long")
            + ": " + size + " bytes, its header says " + h.fileSize() + " (" + h.layers()
            + " layers of width " + h.width() + "); restore it from a backup");
      }
      if (h.numBlocks() > Integer.MAX_VALUE) {
        throw new FormatException(name + " has too many checksum blocks");
      }
      ByteBuffer t = ByteBuffer.allocate(Math.toIntExact(4 * h.numBlocks()))
          .order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, t, CoreHeader.SIZE, name);
      if (Crc.of(t.array(), 0, t.capacity()) != d.tableCrc()) {
        throw new FormatException(name + " has a damaged checksum table: restore it from a"
            + " backup");
      }
      int[] table = new int[(int) h.numBlocks()];
      t.flip();
      t.asIntBuffer().get(table);
      return new Opened(h, table, ch);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** Reads just the validated header (for inspect and flag checks). */
  public static CoreHeader readHeader(Path path) throws IOException {
    Opened o = openChannel(path, false);
    o.channel().close();
    return o.header();
  }

  /** Opens a core for streaming, chunk by chunk, with bounded memory. */
  public static CoreWeights openStreamed(Path path, boolean write) throws IOException {
    return new StreamedCore(path, openChannel(path, write), write);
  }

  /** Loads a whole core into memory (verified); {@code commit} rewrites it atomically. */
  public static CoreWeights openInMemory(Path path) throws IOException {
    return new InMemoryCore(path, openChannel(path, false));
  }
}
