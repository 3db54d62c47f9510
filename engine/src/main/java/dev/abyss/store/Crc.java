package dev.abyss.store;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

/** CRC32C helpers over memory segments and arrays. */
final class Crc {
  private Crc() {}

  static int of(MemorySegment seg, long off, long len) {
    CRC32C c = new CRC32C();
    long done = 0;
    while (done < len) {
      int n = (int) Math.min(len - done, 1 << 30);
      c.update(seg.asSlice(off + done, n).asByteBuffer());
      done += n;
    }
    return (int) c.getValue();
  }

  /** CRC32C of ints as little-endian bytes (the block table on disk). */
  static int ofInts(int[] v) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * v.length)
        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.asIntBuffer().put(v);
    return of(b.array(), 0, b.capacity());
  }

  static int of(byte[] a, int off, int len) {
    CRC32C c = new CRC32C();
    c.update(a, off, len);
    return (int) c.getValue();
  }
}
