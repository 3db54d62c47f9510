package dev.abyss.store;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The reference program's headerless little-endian f32 files. Core: per layer W (w x w,
 * row-major W[in][out]) then b (w). Head: Win (784 x w), bin (w), Wout (w x 10), bout (10);
 * an MLP file has the same shape with the hidden size in place of w.
 */
public final class RawFormat {
  private RawFormat() {}

  private static long sizeOf(Path p, String what) throws IOException {
    try {
      return Files.size(p);
    } catch (NoSuchFileException e) {
      throw new FormatException(what + " " + p + " does not exist");
    }
  }

  /** Converts a raw core into an abyss core file with the given header (step kept). */
  public static void importCore(Path raw, CoreHeader h, Path out) throws IOException {
    long size = sizeOf(raw, "raw weights file");
    if (size != h.dataBytes()) {
      throw new FormatException("raw weights file " + raw + " is " + size + " bytes, but "
          + h.layers() + " layers of width " + h.width() + " need " + h.dataBytes()
          + " bytes: check --layers and --width");
    }
    try (FileChannel in = FileChannel.open(raw, StandardOpenOption.READ)) {
      long lb = h.layerBytes();
      CoreFile.write(out, h, (first, count, dst) -> CoreFile.readFully(in,
          dst.asSlice(0, count * lb).asByteBuffer(), first * lb, "raw weights file " + raw),
          null);
    }
  }

  /** Writes the layers of an abyss core file as a raw file, atomically. */
  public static void exportCore(Path core, Path raw) throws IOException {
    try (CoreWeights cw = CoreFile.openStreamed(core, false)) {
      exportCore(cw, raw);
    }
  }

  /** Writes an open core's layers as a raw f32 file, atomically. */
  public static void exportCore(CoreWeights cw, Path raw) throws IOException {
    CoreHeader h = cw.header();
    AtomicFiles.ensureSpace(raw, h.layers() * h.workLayerBytes());
    Path tmp = AtomicFiles.tempFor(raw);
    long lb = h.workLayerBytes(); // f32, as the kernels see it (bf16 is widened on load)
    int step = (int) Math.max(1, (8L << 20) / lb);
    try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE,
        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      for (long l = 0; l < h.layers(); l += step) {
        int n = (int) Math.min(step, h.layers() - l);
        MemorySegment seg = cw.load(l, n);
        CoreFile.writeFully(out, seg.asSlice(cw.offsetOf(l), n * lb).asByteBuffer(), l * lb);
      }
      out.force(true);
    } catch (IOException e) {
      Files.deleteIfExists(tmp);
      throw AtomicFiles.diskError(raw, e);
    }
    AtomicFiles.commit(tmp, raw);
  }

  /** Reads a raw head of the given mid size (core width or MLP hidden size). */
  public static float[] readHead(Path raw, int mid) throws IOException {
    long size = sizeOf(raw, "raw head file");
    long want = 4 * HeadHeader.payloadFloats(mid);
    if (size != want) {
      throw new FormatException("raw head file " + raw + " is " + size + " bytes, but a head of"
          + " size " + mid + " needs " + want + " bytes: check --width / --hidden");
    }
    byte[] b = Files.readAllBytes(raw);
    float[] p = new float[(int) HeadHeader.payloadFloats(mid)];
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(p);
    return p;
  }

  /** Writes a raw head atomically. */
  public static void writeHead(Path raw, float[] payload) throws IOException {
    byte[] b = new byte[4 * payload.length];
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(payload);
    AtomicFiles.write(raw, b);
  }

}
