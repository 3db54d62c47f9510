// How often this machine issues a 512-bit float division and a 512-bit FMA: the two rates that
// bound the width-4 kernels (BENCHMARKS.md, "Where the time goes").
// Run: java --add-modules jdk.incubator.vector scripts/RateBench.java
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

public class RateBench {
  static final VectorSpecies<Float> S = FloatVector.SPECIES_512;

  // Eight independent chains each (more than one instruction's latency in flight), so the
  // loops are bound by throughput. One method per instruction: a vector that crosses a
  // branch or an array is boxed, and the loop then measures allocation.
  static float divisions(long n) {
    FloatVector c = FloatVector.broadcast(S, 1.0000001f);
    FloatVector a0 = FloatVector.broadcast(S, 1f), a1 = a0.add(1f), a2 = a0.add(2f), a3 = a0.add(3f);
    FloatVector a4 = a0.add(4f), a5 = a0.add(5f), a6 = a0.add(6f), a7 = a0.add(7f);
    for (long i = 0; i < n; i++) {
      a0 = a0.div(c); a1 = a1.div(c); a2 = a2.div(c); a3 = a3.div(c);
      a4 = a4.div(c); a5 = a5.div(c); a6 = a6.div(c); a7 = a7.div(c);
    }
    return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(VectorOperators.ADD);
  }

  static float fmas(long n) {
    FloatVector c = FloatVector.broadcast(S, 0.999999f);
    FloatVector d = FloatVector.broadcast(S, 1e-7f);
    FloatVector b0 = FloatVector.broadcast(S, 1f), b1 = b0.add(1f), b2 = b0.add(2f), b3 = b0.add(3f);
    FloatVector b4 = b0.add(4f), b5 = b0.add(5f), b6 = b0.add(6f), b7 = b0.add(7f);
    for (long i = 0; i < n; i++) {
      b0 = b0.fma(c, d); b1 = b1.fma(c, d); b2 = b2.fma(c, d); b3 = b3.fma(c, d);
      b4 = b4.fma(c, d); b5 = b5.fma(c, d); b6 = b6.fma(c, d); b7 = b7.fma(c, d);
    }
    return b0.add(b1).add(b2).add(b3).add(b4).add(b5).add(b6).add(b7).reduceLanes(VectorOperators.ADD);
  }

  public static void main(String[] args) {
    long n = 20_000_000L;
    for (int r = 0; r < 5; r++) {
      for (boolean div : new boolean[] {true, false}) {
        long t = System.nanoTime();
        float x = div ? divisions(n) : fmas(n);
        double s = (System.nanoTime() - t) / 1e9;
        System.out.printf("%.3f ns per 512-bit %s (%.1f)%n", s * 1e9 / (8 * n),
            div ? "division" : "FMA", x);
      }
    }
  }
}
