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
}
