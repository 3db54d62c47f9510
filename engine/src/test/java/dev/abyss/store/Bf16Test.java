package dev.abyss.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** bfloat16 conversions: exact widening, nearest-even, and unbiased stochastic rounding. */
class Bf16Test {

  @Test
  void widenIsExactAndNearestRoundsToEven() {
    for (int b = 0; b < 0x10000; b++) {
      float f = Bf16.widen((short) b);
      if (!Float.isNaN(f)) {
        assertEquals((short) b, Bf16.nearest(f), "bf16 " + b + " round trip");
        assertEquals((short) b, Bf16.round(f, 0xffff), "already bf16: no carry");
      }
    }
    // 1 + 2^-8 is half-way between 1 and 1 + 2^-7: ties go to the even (1)
    assertEquals(Bf16.nearest(1f), Bf16.nearest(1f + 0x1p-8f));
    assertEquals(Bf16.nearest(1f + 0x1p-7f), Bf16.nearest(1f + 0x1p-8f + 0x1p-20f));
    assertEquals(Float.POSITIVE_INFINITY, Bf16.widen(Bf16.round(Float.POSITIVE_INFINITY, 7)));
    assertEquals(Float.NEGATIVE_INFINITY, Bf16.widen(Bf16.nearest(Float.NEGATIVE_INFINITY)));
    assertTrue(Float.isNaN(Bf16.widen(Bf16.round(Float.NaN, 0xffff))));
    assertTrue(Float.isNaN(Bf16.widen(Bf16.nearest(Float.intBitsToFloat(0x7f800001)))));
  }

  @Test
  void stochasticRoundingIsUnbiasedAndLandsOnANeighbour() {
    SplittableRandom r = new SplittableRandom(5);
    long key = Bf16.stepKey(42, 7);
    for (int t = 0; t < 200; t++) {
      float v = (float) ((r.nextDouble() - 0.5) * Math.pow(10, r.nextInt(-6, 3)));
      float lo = Bf16.widen((short) (Float.floatToRawIntBits(v) >>> 16));
      // the next bf16 away from zero (bf16 is sign-magnitude, like f32)
      float hi = Bf16.widen((short) ((Float.floatToRawIntBits(v) >>> 16) + 1));
      double sum = 0;
      int n = 20_000;
      for (int i = 0; i < n; i++) {
        float q = Bf16.widen(Bf16.round(v, Bf16.bits(key, (long) t * n + i)));
        assertTrue(q == lo || q == hi, v + " rounded to " + q + ", not " + lo + " or " + hi);
        sum += q;
      }
      double gap = Math.abs(hi - lo);
      // the mean of n Bernoulli draws: standard error gap / (2 sqrt n); allow 5 of them
      assertTrue(Math.abs(sum / n - v) <= 5 * gap / (2 * Math.sqrt(n)) + 1e-12 * Math.abs(v),
          "mean of rounded " + v + " is " + sum / n);
    }
  }

  @Test
  void bitsDependOnlyOnKeyAndIndex() {
    long k1 = Bf16.stepKey(1, 0);
    long k2 = Bf16.stepKey(1, 1);
    int same = 0;
    for (long i = 0; i < 1000; i++) {
      assertEquals(Bf16.bits(k1, i), Bf16.bits(k1, i));
      if (Bf16.bits(k1, i) == Bf16.bits(k2, i)) {
        same++;
      }
    }
    assertTrue(same < 5, "consecutive steps draw unrelated bits (" + same + " equal)");
  }

  /** The bulk conversions (4 values per 64-bit word) equal the one-value definitions. */
  @Test
  void bulkConversionsEqualTheScalarDefinitions() {
    SplittableRandom r = new SplittableRandom(3);
    try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
      for (int n : new int[] {1, 3, 4, 7, 64, 101}) {
        for (long first : new long[] {0, 1, 2, 3, 4, 1L << 33}) {
          var f = a.allocate(4L * n + 8);
          var b = a.allocate(2L * n + 8);
          var back = a.allocate(4L * n + 8);
          float[] v = new float[n];
          for (int i = 0; i < n; i++) {
            v[i] = i % 17 == 5 ? Float.NaN : i % 19 == 7 ? Float.NEGATIVE_INFINITY
                : (float) ((r.nextDouble() - 0.5) * Math.pow(10, r.nextInt(-8, 8)));
            f.set(Bf16.F32, 4 + 4L * i, v[i]); // unaligned on purpose
          }
          long key = Bf16.stepKey(9, first);
          Bf16.round(f, 4, b, 2, n, key, first);
          Bf16.widen(b, 2, back, 4, n);
          for (int i = 0; i < n; i++) {
            short want = Bf16.round(v[i], Bf16.bits(key, first + i));
            assertEquals(want, b.get(Bf16.I16, 2 + 2L * i), "n " + n + " first " + first + " i " + i);
            assertEquals(Float.floatToRawIntBits(Bf16.widen(want)),
                Float.floatToRawIntBits(back.get(Bf16.F32, 4 + 4L * i)));
          }
        }
      }
    }
  }
}
