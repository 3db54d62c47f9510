package dev.abyss.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads and atomically writes head files: a {@link HeadHeader} and its f32 payload. */
public final class HeadFile {
  private HeadFile() {}

  /** A head file's contents. */
  public record Contents(HeadHeader header, float[] payload) {}

  /** Reads and verifies a head file. */
  public static Contents read(Path path) throws IOException {
    byte[] raw;
    try {
      raw = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      throw new FormatException("head file " + path + " does not exist: check --head, or"
          + " create the model first");
    }
    String name = "head file " + path;
    HeadHeader.Decoded d = HeadHeader.decode(name, raw);
    long want = HeadHeader.SIZE + 4 * d.header().payloadFloats();
    if (raw.length != want) {
      throw new FormatException(name + " is " + (raw.length < want ? "truncated" : "too long")
          + ": " + raw.length + " bytes, expected " + want + "; restore it from a backup");
    }
    if (Crc.of(raw, HeadHeader.SIZE, raw.length - HeadHeader.SIZE) != d.payloadCrc()) {
      throw new FormatException(name + " is damaged (payload checksum mismatch): restore it"
          + " from a backup");
    }
    float[] p = new float[(int) d.header().payloadFloats()];
    ByteBuffer.wrap(raw, HeadHeader.SIZE, raw.length - HeadHeader.SIZE)
        .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(p);
    return new Contents(d.header(), p);
  }

  /** Writes a head file atomically (temporary file, fsync, rename). */
  public static void write(Path path, HeadHeader header, float[] payload) throws IOException {
    AtomicFiles.write(path, encode(header, payload));
  }

  /** The bytes of a head file. */
  public static byte[] encode(HeadHeader header, float[] payload) {
    if (payload.length != header.payloadFloats()) {
      throw new IllegalArgumentException("payload has " + payload.length + " floats, header "
          + header.payloadFloats());
    }
    byte[] body = new byte[4 * payload.length];
    ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(payload);
    ByteBuffer hdr = header.encode(Crc.of(body, 0, body.length));
    byte[] all = new byte[HeadHeader.SIZE + body.length];
    hdr.get(all, 0, HeadHeader.SIZE);
    System.arraycopy(body, 0, all, HeadHeader.SIZE, body.length);
    return all;
  }
}
