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

  static int of(byte[] a, int off, int len) {
    CRC32C c = new CRC32C();
    c.update(a, off, len);
    return (int) c.getValue();
  }
}
