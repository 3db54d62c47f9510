package dev.abyss.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The portable tanh: close to Math.tanh everywhere, and the vector kernel's lanes give exactly
 * the bits of {@link TanhMath#tanh(float)} before and after the JIT compiles it (the bug it
 * replaces: the vector TANH operator changed its last bit once compiled).
 */
class TanhMathTest {

  @Test
  void withinFourUlpOfMathTanh() {
    int worst = 0;
    float worstAt = 0;
    // every 16th float from 0 up to past the clamp, both signs
    for (int bits = 0; bits <= Float.floatToRawIntBits(12f); bits += 16) {
      for (float x : new float[] {Float.intBitsToFloat(bits), -Float.intBitsToFloat(bits)}) {
        float want = (float) Math.tanh(x);
        float got = TanhMath.tanh(x);
        int ulps = Math.abs(Float.floatToRawIntBits(got) - Float.floatToRawIntBits(want));
        if (Math.signum(got) != Math.signum(want) && want != 0) {
          ulps = Integer.MAX_VALUE;
        }
        if (ulps > worst) {
          worst = ulps;
          worstAt = x;
        }
      }
    }
    System.out.println("TanhMath vs Math.tanh: worst " + worst + " ulp at " + worstAt);
    assertTrue(worst <= 4, "worst " + worst + " ulp at " + worstAt);
    assertEquals(1f, TanhMath.tanh(Float.POSITIVE_INFINITY));
    assertEquals(-1f, TanhMath.tanh(-1e30f));
    assertTrue(Float.isNaN(TanhMath.tanh(Float.NaN)));
  }

  /**
   * Every 244th float from 0 to past the clamp, both signs, through the vector tanh (which
   * builds 2^n from bits and clamps with a blend, where the scalar one converts and takes a
   * min): the same bits throughout.
   */
  @Test
  void vectorLanesEqualTheScalarOverTheRange() {
    int v = VectorKernels.V;
    float[] in = new float[v];
    float[] out = new float[v];
    int last = Float.floatToRawIntBits(12f);
    int checked = 0;
    for (int bits = 0; bits <= last; bits += 244 * v / 2) {
      for (int l = 0; l < v; l++) {
        float x = Float.intBitsToFloat(Math.min(last, bits + 244 * (l / 2)));
        in[l] = (l & 1) == 0 ? x : -x;
      }
      VectorKernels.tanh(FloatVector.fromArray(VectorKernels.S, in, 0)).intoArray(out, 0);
      for (int l = 0; l < v; l++) {
        int want = Float.floatToRawIntBits(TanhMath.tanh(in[l]));
        if (Float.floatToRawIntBits(out[l]) != want) {
          throw new AssertionError("tanh(" + in[l] + ") vector " + out[l] + " scalar "
              + Float.intBitsToFloat(want));
        }
      }
      checked += v;
    }
    assertTrue(checked > 8_000_000, "checked " + checked);
  }

  @Test
  void vectorLanesEqualTheScalarBitsInterpretedAndCompiled() {
    int v = VectorKernels.V;
    float[] edges = {0f, -0f, 0.5f, -0.5f, Math.nextDown(0.5f), 9f, -9f, 8.99f, 1e-30f,
      Float.MIN_VALUE, 40f, -1e30f, Float.POSITIVE_INFINITY, 0.25f, 3f, -2.5f};
    SplittableRandom r = new SplittableRandom(11);
    float[] in = new float[v];
    float[] out = new float[v];
    // enough calls for the JIT to compile tanh; every call is checked
    for (int it = 0; it < 60_000; it++) {
      for (int l = 0; l < v; l++) {
        in[l] = it == 0 ? edges[l % edges.length]
            : (float) ((r.nextDouble() - 0.5) * (it % 3 == 0 ? 24 : 2));
      }
      VectorKernels.tanh(FloatVector.fromArray(VectorKernels.S, in, 0)).intoArray(out, 0);
      for (int l = 0; l < v; l++) {
        int want = Float.floatToRawIntBits(TanhMath.tanh(in[l]));
        if (Float.floatToRawIntBits(out[l]) != want) {
          throw new AssertionError("call " + it + ": tanh(" + in[l] + ") vector " + out[l]
              + " scalar " + Float.intBitsToFloat(want));
        }
      }
    }
  }
}
