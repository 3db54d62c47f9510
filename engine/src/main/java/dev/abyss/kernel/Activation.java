package dev.abyss.kernel;

import java.util.Locale;

/**
 * The core's activation functions, with the derivative each backward pass needs.
 *
 * <p>Codes are stable: they are written into file headers.
 */
public enum Activation {
  /** tanh(z); derivative 1 - tanh(z)^2. */
  TANH(0),
  /**
   * z / (1 + |z|); derivative 1 / (1 + |z|)^2, computed as (1 - |a|)^2 from a = act(z) (the
   * same value: 1 - |z| / (1 + |z|) = 1 / (1 + |z|)), which needs no second division.
   */
  SOFTSIGN(1),
  /** max(0, z); derivative 1 for z &gt; 0, else 0. */
  RELU(2);

  public final int code;

  Activation(int code) {
    this.code = code;
  }

  /** act(z) in float, the value the engine uses everywhere. */
  public float apply(float z) {
    return switch (this) {
      case TANH -> TanhMath.tanh(z);
      case SOFTSIGN -> z / (1f + Math.abs(z));
      case RELU -> z > 0f ? z : 0f;
    };
  }

  /** act'(z) in float. */
  public float derivative(float z) {
    return switch (this) {
      case TANH -> {
        float t = TanhMath.tanh(z);
        yield 1f - t * t;
      }
      case SOFTSIGN -> {
        float r = 1f - Math.abs(z / (1f + Math.abs(z)));
        yield r * r;
      }
      case RELU -> z > 0f ? 1f : 0f;
    };
  }

  /** act(z) in double, for reference computations in tests and checks. */
  public double applyDouble(double z) {
    return switch (this) {
      case TANH -> Math.tanh(z);
      case SOFTSIGN -> z / (1 + Math.abs(z));
      case RELU -> z > 0 ? z : 0;
    };
  }

  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Activation fromCode(int code) {
    for (Activation a : values()) {
      if (a.code == code) {
        return a;
      }
    }
    throw new IllegalArgumentException("unknown activation code " + code);
  }

  /** Parses tanh|softsign|relu, case-insensitively. */
  public static Activation parse(String s) {
    for (Activation a : values()) {
      if (a.cliName().equalsIgnoreCase(s.trim())) {
        return a;
      }
    }
    throw new IllegalArgumentException(
        "unknown activation '" + s + "': use one of tanh, softsign, relu");
  }
}
