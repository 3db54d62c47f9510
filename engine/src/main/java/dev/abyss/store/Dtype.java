package dev.abyss.store;

import java.util.Locale;

/**
 * How a core file stores its weights. Compute is always f32: bf16 layers are widened on load
 * (exactly) and narrowed on write-back by {@link Bf16#round} (stochastic, seeded).
 */
public enum Dtype {
  /** IEEE binary32, the reference program's format. */
  F32(0, 4),
  /** bfloat16: the top 16 bits of an f32 (8-bit exponent, 7-bit fraction); half the bytes. */
  BF16(1, 2);

  /** The code in the file header. */
  public final int code;
  /** Bytes per stored value. */
  public final int bytes;

  Dtype(int code, int bytes) {
    this.code = code;
    this.bytes = bytes;
  }

  public static Dtype fromCode(int code) {
    for (Dtype d : values()) {
      if (d.code == code) {
        return d;
      }
    }
    throw new IllegalArgumentException("unknown dtype code " + code);
  }

  /** Parses f32|bf16, case-insensitively. */
  public static Dtype parse(String s) {
    return switch (s.toLowerCase(Locale.ROOT)) {
      case "f32", "float32", "fp32" -> F32;
      case "bf16", "bfloat16" -> BF16;
      default -> throw new IllegalArgumentException(
          "unknown dtype '" + s + "': use f32 or bf16");
    };
  }

  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
