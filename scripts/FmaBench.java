// Throughput of 512-bit float FMA on this machine: with DivBench, what bounds the eval kernel
// (BENCHMARKS.md, "Where the time goes"). Run: java --add-modules jdk.incubator.vector scripts/FmaBench.java
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

public class FmaBench {
  static final VectorSpecies<Float> S = FloatVector.SPECIES_512;

  static float run(long n) {
    FloatVector c = FloatVector.broadcast(S, 0.999999f);
    FloatVector d = FloatVector.broadcast(S, 1e-7f);
    FloatVector a0 = FloatVector.broadcast(S, 1f), a1 = a0.add(1f), a2 = a0.add(2f), a3 = a0.add(3f);
    FloatVector a4 = a0.add(4f), a5 = a0.add(5f), a6 = a0.add(6f), a7 = a0.add(7f);
    // eight independent chains: more than an FMA's latency in flight, so throughput-bound
    for (long i = 0; i < n; i++) {
      a0 = a0.fma(c, d); a1 = a1.fma(c, d); a2 = a2.fma(c, d); a3 = a3.fma(c, d);
      a4 = a4.fma(c, d); a5 = a5.fma(c, d); a6 = a6.fma(c, d); a7 = a7.fma(c, d);
    }
    return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(VectorOperators.ADD);
  }

  public static void main(String[] args) {
    long n = 20_000_000L;
    for (int r = 0; r < 5; r++) {
      long t = System.nanoTime();
      float x = run(n);
      double s = (System.nanoTime() - t) / 1e9;
      System.out.printf("%.3f ns per 512-bit FMA (%.1f)%n", s * 1e9 / (8 * n), x);
    }
  }
}
