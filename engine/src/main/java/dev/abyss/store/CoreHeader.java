package dev.abyss.store;

import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The self-describing header of a core file. Layout (little-endian, {@link #SIZE} bytes):
 *
 * <pre>
 *   0  magic "ABYSCORE"        8 bytes
 *   8  format version          u32 (= 1)
 *  12  dtype                   u32 (0 = f32, 1 = bf16)
 *  16  width W                 u32
 *  20  activation code         u32 (0 tanh, 1 softsign, 2 relu)
 *  24  layers L                u64
 *  32  alpha                   f32
 *  36  init scale              f32
 *  40  seed                    u64 (the init seed)
 *  48  step                    u64 (SGD steps applied so far)
 *  56  data seed               u64 (data-order state: batch t is a function of it and t)
 *  64  block layers            u32 (layers per checksum block)
 *  68  CRC32C of block table   u32
 *  72  reserved (zero)         52 bytes
 * 124  CRC32C of bytes 0..123  u32
 * </pre>
 *
 * Then the block table (one CRC32C per block of {@code blockLayers} layers, u32 each), then
 * zero padding to {@link #dataOffset()} (a multiple of 4096), then the layers.
 */
public record CoreHeader(
    int width,
    long layers,
    Activation activation,
    float alpha,
    float scale,
    long seed,
    long step,
    long dataSeed,
    int blockLayers,
    Dtype dtype) {

  public static final int SIZE = 128;
  public static final int VERSION = 1;
  static final byte[] MAGIC = "ABYSCORE".getBytes(StandardCharsets.US_ASCII);
  /** Target bytes per checksum block. */
  static final long BLOCK_BYTES = 256 * 1024;

  public CoreHeader {
    if (width < 1 || layers < 1 || blockLayers < 1 || dtype == null) {
      throw new IllegalArgumentException("width, layers and blockLayers must be positive");
    }
  }

  /** An f32 core's header. */
  public CoreHeader(int width, long layers, Activation activation, float alpha, float scale,
      long seed, long step, long dataSeed, int blockLayers) {
    this(width, layers, activation, alpha, scale, seed, step, dataSeed, blockLayers, Dtype.F32);
  }

  /** A header for a new core with the block size chosen from the width. */
  public static CoreHeader create(
      int width, long layers, Activation act, float alpha, float scale, long seed,
      long dataSeed) {
    return create(width, layers, act, alpha, scale, seed, dataSeed, Dtype.F32);
  }

  /** A header for a new core of the given dtype. */
  public static CoreHeader create(
      int width, long layers, Activation act, float alpha, float scale, long seed,
      long dataSeed, Dtype dtype) {
    long lb = (long) Kernels.layerFloats(width) * dtype.bytes;
    int bl = (int) Math.max(1, BLOCK_BYTES / lb);
    return new CoreHeader(width, layers, act, alpha, scale, seed, 0, dataSeed, bl, dtype);
  }

  /** Parameters per layer: W (W x W) and b (W). */
  public int layerFloats() {
    return Kernels.layerFloats(width);
  }

  /** Bytes per layer in the file (and in memory as stored). */
  public long layerBytes() {
    return (long) layerFloats() * dtype.bytes;
  }

  /** Bytes per layer as the kernels see it (f32). */
  public long workLayerBytes() {
    return 4L * layerFloats();
  }

  public long numBlocks() {
    return (layers + blockLayers - 1) / blockLayers;
  }

  public long dataOffset() {
    long end = SIZE + 4 * numBlocks();
    return (end + 4095) / 4096 * 4096;
  }

  public long dataBytes() {
    return layers * layerBytes();
  }

  public long fileSize() {
    return dataOffset() + dataBytes();
  }

  public CoreHeader withStep(long newStep) {
    return new CoreHeader(
        width, layers, activation, alpha, scale, seed, newStep, dataSeed, blockLayers, dtype);
  }

  /** Encodes the header with the given block-table CRC. */
  public ByteBuffer encode(int tableCrc) {
    ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
    b.put(MAGIC);
    b.putInt(VERSION).putInt(dtype.code).putInt(width).putInt(activation.code);
    b.putLong(layers).putFloat(alpha).putFloat(scale);
    b.putLong(seed).putLong(step).putLong(dataSeed);
    b.putInt(blockLayers).putInt(tableCrc);
    b.position(124);
    b.putInt(Crc.of(b.array(), 0, 124));
    return b.flip();
  }

  /** Decoded header plus the table CRC it records. */
  public record Decoded(CoreHeader header, int tableCrc) {}

  /**
   * Decodes and validates a header.
   *
   * @param name the file name, for messages
   * @throws FormatException naming the file and what is wrong
   */
  public static Decoded decode(String name, ByteBuffer src) {
    if (src.remaining() < SIZE) {
      throw new FormatException(name + " is not an abyss core file: it is shorter than its "
          + SIZE + "-byte header (truncated or empty)");
    }
    ByteBuffer b = src.slice().order(ByteOrder.LITTLE_ENDIAN);
    byte[] raw = new byte[SIZE];
    b.get(raw);
    b.rewind();
    for (int i = 0; i < MAGIC.length; i++) {
      if (raw[i] != MAGIC[i]) {
        String hint = HeadHeader.hasMagic(raw)
            ? " (it is a head file: pass it as --head, not --weights)"
            : " (a raw file from the reference program must first be converted with"
                + " 'abyss import-raw')";
        throw new FormatException(name + " is not an abyss core file: wrong magic" + hint);
      }
    }
    int stored = b.getInt(124);
    if (Crc.of(raw, 0, 124) != stored) {
      throw new FormatException(name + " has a damaged header (checksum mismatch): restore it"
          + " from a backup or re-create it with init");
    }
    int version = b.getInt(8);
    if (version != VERSION) {
      throw new FormatException(name + " has core format version " + version + "; this abyss"
          + " reads version " + VERSION + ": use the abyss release that wrote it, or export-raw"
          + " with it and import-raw here");
    }
    int dtypeCode = b.getInt(12);
    Dtype dt;
    try {
      dt = Dtype.fromCode(dtypeCode);
    } catch (IllegalArgumentException e) {
      throw new FormatException(name + " stores dtype code " + dtypeCode
          + ", which this abyss cannot read (f32 and bf16 only)");
    }
    int width = b.getInt(16);
    int act = b.getInt(20);
    long layers = b.getLong(24);
    int blockLayers = b.getInt(64);
    Activation a;
    try {
      a = Activation.fromCode(act);
    } catch (IllegalArgumentException e) {
      throw new FormatException(name + " has unknown activation code " + act);
    }
    if (width < 1 || width > 65536 || layers < 1 || blockLayers < 1) {
      throw new FormatException(name + " has an impossible header (width " + width + ", layers "
          + layers + ", block " + blockLayers + ")");
    }
    CoreHeader h = new CoreHeader(width, layers, a, b.getFloat(32), b.getFloat(36),
        b.getLong(40), b.getLong(48), b.getLong(56), blockLayers, dt);
    return new Decoded(h, b.getInt(68));
  }
}
