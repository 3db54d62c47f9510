package dev.abyss.data;

import dev.abyss.AbyssException;
import java.nio.ByteBuffer;

/**
 * The IDX format of the MNIST files: big-endian magic (0x00000801 labels, 0x00000803
 * images), item count, for images rows and columns, then unsigned bytes.
 */
public final class Idx {
  public static final int LABELS_MAGIC = 0x00000801;
  public static final int IMAGES_MAGIC = 0x00000803;

  private Idx() {}

  /**
   * Images as unsigned bytes, (N, rows*cols) sample-major, starting at {@code offset} of
   * {@code pixels} (the parsed file's own array: no copy).
   */
  public record Images(int count, int rows, int cols, byte[] pixels, int offset) {
    public int pixelsPerImage() {
      return rows * cols;
    }
  }

  /** Parses an images file. {@code name} names it in messages. */
  public static Images parseImages(String name, byte[] raw) {
    ByteBuffer b = ByteBuffer.wrap(raw);
    if (raw.length < 16) {
      throw bad(name, "is truncated: " + raw.length + " bytes, shorter than an IDX image header");
    }
    int magic = b.getInt();
    if (magic != IMAGES_MAGIC) {
      throw bad(name, String.format("has wrong magic 0x%08x (expected 0x%08x for IDX images)",
          magic, IMAGES_MAGIC));
    }
    int n = b.getInt();
    int rows = b.getInt();
    int cols = b.getInt();
    if (n < 0 || rows <= 0 || cols <= 0 || rows > 4096 || cols > 4096) {
      throw bad(name, "has an impossible header (count " + n + ", " + rows + "x" + cols + ")");
    }
    long want = 16L + (long) n * rows * cols;
    if (raw.length != want) {
      throw bad(name, (raw.length < want ? "is truncated" : "is too long") + ": " + raw.length
          + " bytes for " + n + " images of " + rows + "x" + cols + " (expected " + want + ")");
    }
    return new Images(n, rows, cols, raw, 16);
  }

  /** Parses a labels file. */
  public static byte[] parseLabels(String name, byte[] raw) {
    ByteBuffer b = ByteBuffer.wrap(raw);
    if (raw.length < 8) {
      throw bad(name, "is truncated: " + raw.length + " bytes, shorter than an IDX label header");
    }
    int magic = b.getInt();
    if (magic != LABELS_MAGIC) {
      throw bad(name, String.format("has wrong magic 0x%08x (expected 0x%08x for IDX labels)",
          magic, LABELS_MAGIC));
    }
    int n = b.getInt();
    if (n < 0) {
      throw bad(name, "has an impossible count " + n);
    }
    long want = 8L + n;
    if (raw.length != want) {
      throw bad(name, (raw.length < want ? "is truncated" : "is too long") + ": " + raw.length
          + " bytes for " + n + " labels (expected " + want + ")");
    }
    byte[] l = new byte[n];
    b.get(l);
    for (int i = 0; i < n; i++) {
      if (l[i] < 0 || l[i] > 9) {
        throw bad(name, "has label " + l[i] + " at index " + i + " (labels are 0..9)");
      }
    }
    return l;
  }

  /** Encodes images as IDX (for tests and tools). */
  public static byte[] encodeImages(int n, int rows, int cols, byte[] px) {
    ByteBuffer b = ByteBuffer.allocate(16 + px.length);
    b.putInt(IMAGES_MAGIC).putInt(n).putInt(rows).putInt(cols).put(px);
    return b.array();
  }

  /** Encodes labels as IDX (for tests and tools). */
  public static byte[] encodeLabels(byte[] labels) {
    ByteBuffer b = ByteBuffer.allocate(8 + labels.length);
    b.putInt(LABELS_MAGIC).putInt(labels.length).put(labels);
    return b.array();
  }

  private static AbyssException bad(String name, String what) {
    return new AbyssException(name + " " + what + "; delete it and let abyss fetch MNIST again"
        + " (abyss data fetch), or point --data-dir at good files");
  }
}
