package dev.abyss.kernel;

/**
 * A float tanh built from IEEE add, mul and div only, so that every execution mode (and the
 * vector kernel, lane by lane) gets the same bits. Accuracy: within 4 ulp of {@link Math#tanh}
 * over the float range (tested).
 *
 * <p>Method: tanh is odd, so work on a = min(|x|, 9) (tanh(9) rounds to 1 in float). For a &lt;
 * 0.5 the Taylor series a + a^3 T(a^2) with eight terms (truncation below 1e-8 relative). Else
 * (1 - e) / (1 + e) with e = exp(-2a) = 2^n exp(r), n the nearest integer to -2a/ln 2 (found by
 * adding and subtracting 1.5 * 2^23), r = -2a - n ln 2 in two parts (|r| &lt;= ln2/2), exp(r) by
 * its degree-7 Taylor polynomial (truncation below 6e-9).
 */
public final class TanhMath {
  static final float CLAMP = 9f;
  static final float SMALL = 0.5f;
  static final float LOG2E = 1.44269504f;
  static final float ROUND = 12582912f; // 1.5 * 2^23
  /**
   * For |n| &lt; 2^22, the bits of n + ROUND are those of ROUND plus n, so these bits less this
   * are n + 127, the float exponent field of 2^n: the vector kernels build 2^n that way.
   */
  static final int EXP_BIAS = Float.floatToRawIntBits(ROUND) - 127;
  static final float LN2_HI = 0.693145752f; // ln 2 with its last 11 bits cleared
  static final float LN2_LO = 1.42860677e-6f; // ln 2 - LN2_HI

  // tanh(a) = a + a^3 (T0 + T1 a^2 + ...): Taylor coefficients of tanh from a^3 on; named
  // constants so that the chunk kernels' unrolled copies of the Horner loop fold them
  static final float T0 = -1f / 3;
  static final float T1 = 2f / 15;
  static final float T2 = -17f / 315;
  static final float T3 = 62f / 2835;
  static final float T4 = -1382f / 155925;
  static final float T5 = 21844f / 6081075;
  static final float T6 = -929569f / 638512875;
  static final float T7 = 6404582f / 10854718875f;
  static final float[] T = {T0, T1, T2, T3, T4, T5, T6, T7};

  // exp(r) = E0 + E1 r + ...: 1/k!
  static final float E2 = 1f / 2;
  static final float E3 = 1f / 6;
  static final float E4 = 1f / 24;
  static final float E5 = 1f / 120;
  static final float E6 = 1f / 720;
  static final float E7 = 1f / 5040;
  static final float[] E = {1f, 1f, E2, E3, E4, E5, E6, E7};

  private TanhMath() {}

  /** The same steps as the vector kernel's tanh, one value at a time. */
  public static float tanh(float x) {
    float a = Math.min(Math.abs(x), CLAMP);
    float t;
    if (a < SMALL) {
      float a2 = a * a;
      float p = T[T.length - 1];
      for (int k = T.length - 2; k >= 0; k--) {
        p = p * a2 + T[k];
      }
      t = p * a2 * a + a;
    } else {
      float y = a * -2f;
      float n = y * LOG2E + ROUND - ROUND;
      float r = y - n * LN2_HI - n * LN2_LO;
      float q = E[E.length - 1];
      for (int k = E.length - 2; k >= 0; k--) {
        q = q * r + E[k];
      }
      float e = q * Float.intBitsToFloat(((int) n + 127) << 23);
      t = (1f - e) / (1f + e);
    }
    return x < 0f ? -t : t;
  }
}
