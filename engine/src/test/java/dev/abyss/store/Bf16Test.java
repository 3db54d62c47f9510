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

  /**
   * The bulk conversions equal the one-value definitions: the scalar loops (4 values per 64-bit
   * word), the vector ones (at 128, 256 and 512 bits: engine/pom.xml runs this class again at
   * each), and whichever this JVM dispatches to; lengths that
   * leave heads and tails, every alignment of the first parameter index, and the special
   * values (NaNs with payloads, infinities, the largest finite values, whose rounding may carry
   * to infinity, signed zeros, subnormals).
   */
  @Test
  void bulkConversionsEqualTheScalarDefinitions() {
    java.util.List<Bf16.Bulk> paths = new java.util.ArrayList<>();
    paths.add(null); // the dispatching Bf16.round / Bf16.widen
    paths.add(Bf16.bulk("scalar"));
    paths.add(new Bf16Vector()); // at -Dabyss.vectorBits: the build runs this class at each
    int[] specials = {0x7fc00000, 0xffc00000, 0x7f800001, 0xff812345, 0x7f800000, 0xff800000,
        0x7f7fffff, 0xff7fffff, 0x7f7f8000, 0x00000000, 0x80000000, 0x00000001, 0x807fffff};
    SplittableRandom r = new SplittableRandom(3);
    for (Bf16.Bulk path : paths) {
      try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
        for (int n : new int[] {1, 3, 4, 7, 31, 33, 64, 101, 1000}) {
          for (long first : new long[] {0, 1, 2, 3, 4, 5, 1L << 33, (1L << 33) + 3}) {
            var f = a.allocate(4L * n + 8);
            var b = a.allocate(2L * n + 8);
            var back = a.allocate(4L * n + 8);
            int[] v = new int[n];
            for (int i = 0; i < n; i++) {
              v[i] = r.nextInt(9) == 0 ? specials[r.nextInt(specials.length)]
                  : Float.floatToRawIntBits(
                      (float) ((r.nextDouble() - 0.5) * Math.pow(10, r.nextInt(-40, 38))));
              f.set(Bf16.F32, 4 + 4L * i, Float.intBitsToFloat(v[i])); // unaligned on purpose
            }
            long key = Bf16.stepKey(9, first);
            if (path == null) {
              Bf16.round(f, 4, b, 2, n, key, first);
              Bf16.widen(b, 2, back, 4, n);
            } else {
              path.round(f, 4, b, 2, n, key, first);
              path.widen(b, 2, back, 4, n);
            }
            for (int i = 0; i < n; i++) {
              short want = Bf16.round(Float.intBitsToFloat(v[i]), Bf16.bits(key, first + i));
              String where = path + " n " + n + " first " + first + " i " + i;
              assertEquals(want, b.get(Bf16.I16, 2 + 2L * i), where);
              assertEquals(Float.floatToRawIntBits(Bf16.widen(want)),
                  Float.floatToRawIntBits(back.get(Bf16.F32, 4 + 4L * i)), where);
            }
          }
        }
      }
    }
  }

  /**
   * Where the vector kernels run, so can the vector conversions (scalar with the scalar ones),
   * and they replace the scalar loops once the warm-up has seen them compiled (or it gives up,
   * after four seconds, and the scalar loops stay).
   */
  @Test
  void vectorConversionsReplaceTheScalarOnesOnceWarm() {
    boolean vector = dev.abyss.kernel.KernelProvider.name().startsWith("vector");
    assertEquals(vector, Bf16.bulkName().startsWith("vector"), Bf16.bulkName());
    double s = Bf16.warmUp();
    if (vector) {
      assertTrue(Bf16.vectorInUse() || s >= 4, "warm-up of " + s + " s left them unused");
    } else {
      assertTrue(!Bf16.vectorInUse(), "vector conversions in use with the scalar kernels");
    }
  }
}
