package dev.abyss.kernel;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's two rates that bound the width-4 kernels (BENCHMARKS.md, "Where the time
 * goes"): how often the core issues a float division and a fused multiply-add on a vector of
 * the preferred width. Each is measured with eight independent chains of the one instruction,
 * so the loop is bound by throughput, not latency. The softsign forward waits on its
 * divisions; eval's floor is the division rate times the divisions it needs.
 */
public final class Rates {
  private Rates() {}

  /** The preferred vector shape (512 bits with AVX-512). */
  public static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

  /** Iterations per timed call: 8 x 4M instructions, 0.1 s of divisions on a slow divider. */
  private static final long N = 4_000_000L;

  /** Nanoseconds per vector division and per vector FMA: medians of 5 timed calls each. */
  public record Result(int bits, double divisionNs, double fmaNs) {}

  /** Measures both rates (about a second; the first call of each is JIT warm-up, not timed). */
  public static Result measure() {
    double[] div = new double[5];
    double[] fma = new double[5];
    float sink = 0;
    for (int r = -1; r < div.length; r++) {
      long t = System.nanoTime();
      sink += divisions(N);
      long td = System.nanoTime() - t;
      t = System.nanoTime();
      sink += fmas(N);
      long tf = System.nanoTime() - t;
      if (r >= 0) {
        div[r] = td / (8.0 * N);
        fma[r] = tf / (8.0 * N);
      }
    }
    if (Float.isNaN(sink)) {
      throw new AssertionError("the chains stay finite");
    }
    return new Result(S.vectorBitSize(), median(div), median(fma));
  }

  /** The median of {@code v} (the upper one of an even count), {@code v} left as it is. */
  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  // One method per instruction: a vector that crosses a branch or an array is boxed, and the
  // loop then measures allocation.
  static float divisions(long n) {
    FloatVector c = FloatVector.broadcast(S, 1.0000001f);
    FloatVector a0 = FloatVector.broadcast(S, 1f);
    FloatVector a1 = a0.add(1f);
    FloatVector a2 = a0.add(2f);
    FloatVector a3 = a0.add(3f);
    FloatVector a4 = a0.add(4f);
    FloatVector a5 = a0.add(5f);
    FloatVector a6 = a0.add(6f);
    FloatVector a7 = a0.add(7f);
    for (long i = 0; i < n; i++) {
      a0 = a0.div(c);
      a1 = a1.div(c);
      a2 = a2.div(c);
      a3 = a3.div(c);
      a4 = a4.div(c);
      a5 = a5.div(c);
      a6 = a6.div(c);
      a7 = a7.div(c);
    }
    return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7)
        .reduceLanes(VectorOperators.ADD);
  }

  static float fmas(long n) {
    FloatVector c = FloatVector.broadcast(S, 0.999999f);
    FloatVector d = FloatVector.broadcast(S, 1e-7f);
    FloatVector b0 = FloatVector.broadcast(S, 1f);
    FloatVector b1 = b0.add(1f);
    FloatVector b2 = b0.add(2f);
    FloatVector b3 = b0.add(3f);
    FloatVector b4 = b0.add(4f);
    FloatVector b5 = b0.add(5f);
    FloatVector b6 = b0.add(6f);
    FloatVector b7 = b0.add(7f);
    for (long i = 0; i < n; i++) {
      b0 = b0.fma(c, d);
      b1 = b1.fma(c, d);
      b2 = b2.fma(c, d);
      b3 = b3.fma(c, d);
      b4 = b4.fma(c, d);
      b5 = b5.fma(c, d);
      b6 = b6.fma(c, d);
      b7 = b7.fma(c, d);
    }
    return b0.add(b1).add(b2).add(b3).add(b4).add(b5).add(b6).add(b7)
        .reduceLanes(VectorOperators.ADD);
  }
}
