package dev.abyss.store;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Header of a head file (the residual net's input projection and classifier, or an MLP).
 * Layout (little-endian, {@link #SIZE} bytes):
 *
 * <pre>
 *  0  magic "ABYSHEAD"        8 bytes
 *  8  format version          u32 (= 1)
 * 12  kind                    u32 (0 = residual head, 1 = MLP)
 * 16  mid                     u32 (the core width, or the MLP's hidden size)
 * 20  activation code         u32 (the core's activation; 255 for an MLP)
 * 24  step                    u64
 * 32  seed                    u64
 * 40  data seed               u64
 * 48  payload floats          u64
 * 56  CRC32C of the payload   u32
 * 60  CRC32C of bytes 0..59   u32
 * </pre>
 *
 * The payload follows: W1 (784 x mid, pixel-major), b1 (mid), W2 (mid x 10), b2 (10), f32.
 */
public record HeadHeader(int kind, int mid, int activationCode, long step, long seed,
    long dataSeed) {
  public static final int SIZE = 64;
  public static final int VERSION = 1;
  public static final int KIND_RESIDUAL = 0;
  public static final int KIND_MLP = 1;
  public static final int NO_ACTIVATION = 255;
  public static final int INPUTS = 784;
  public static final int CLASSES = 10;
  static final byte[] MAGIC = "ABYSHEAD".getBytes(StandardCharsets.US_ASCII);

  /** Floats in the payload of a head with this mid size. */
  public static long payloadFloats(int mid) {
    return (long) INPUTS * mid + mid + (long) mid * CLASSES + CLASSES;
  }

  public long payloadFloats() {
    return payloadFloats(mid);
  }

  public HeadHeader withStep(long s) {
    return new HeadHeader(kind, mid, activationCode, s, seed, dataSeed);
  }

  static boolean hasMagic(byte[] raw) {
    if (raw.length < MAGIC.length) {
      return false;
    }
    for (int i = 0; i < MAGIC.length; i++) {
      if (raw[i] != MAGIC[i]) {
        return false;
      }
    }
    return true;
  }

  ByteBuffer encode(int payloadCrc) {
    ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
    b.put(MAGIC).putInt(VERSION).putInt(kind).putInt(mid).putInt(activationCode);
    b.putLong(step).putLong(seed).putLong(dataSeed).putLong(payloadFloats()).putInt(payloadCrc);
    b.putInt(Crc.of(b.array(), 0, 60));
    return b.flip();
  }

  record Decoded(HeadHeader header, int payloadCrc) {}

  static Decoded decode(String name, byte[] raw) {
    if (raw.length < SIZE) {
      throw new FormatException(name + " is not an abyss head file: it is shorter than its "
          + SIZE + "-byte header (truncated or empty)");
    }
    if (!hasMagic(raw)) {
      String hint = raw.length >= 8 && new String(raw, 0, 8, StandardCharsets.US_ASCII)
          .equals("ABYSCORE")
          ? " (it is a core file: pass it as --weights, not --head)"
          : " (a raw head from the reference program must first be converted with"
              + " 'abyss import-raw')";
      throw new FormatException(name + " is not an abyss head file: wrong magic" + hint);
    }
    ByteBuffer b = ByteBuffer.wrap(raw, 0, SIZE).order(ByteOrder.LITTLE_ENDIAN);
    if (Crc.of(raw, 0, 60) != b.getInt(60)) {
      throw new FormatException(name + " has a damaged header (checksum mismatch): restore it"
          + " from a backup or re-create it");
    }
    int version = b.getInt(8);
    if (version != VERSION) {
      throw new FormatException(name + " has head format version " + version
          + "; this abyss reads version " + VERSION);
    }
    int kind = b.getInt(12);
    int mid = b.getInt(16);
    if ((kind != KIND_RESIDUAL && kind != KIND_MLP) || mid < 1 || mid > 1 << 20) {
      throw new FormatException(name + " has an impossible head header (kind " + kind
          + ", size " + mid + ")");
    }
    HeadHeader h = new HeadHeader(kind, mid, b.getInt(20), b.getLong(24), b.getLong(32),
        b.getLong(40));
    if (b.getLong(48) != h.payloadFloats()) {
      throw new FormatException(name + " has a damaged header: payload size does not match"
          + " its size " + mid);
    }
    return new Decoded(h, b.getInt(56));
  }
}
