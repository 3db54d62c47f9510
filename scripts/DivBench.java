// Throughput of 512-bit float division on this machine: the floor under softsign eval
// (BENCHMARKS.md, "Where the time goes"). Run: java --add-modules jdk.incubator.vector scripts/DivBench.java
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

public class DivBench {
  static final VectorSpecies<Float> S = FloatVector.SPECIES_512;

  static float run(long n) {
    FloatVector c = FloatVector.broadcast(S, 1.0000001f);
    FloatVector a0 = FloatVector.broadcast(S, 1f), a1 = a0.add(1f), a2 = a0.add(2f), a3 = a0.add(3f);
    FloatVector a4 = a0.add(4f), a5 = a0.add(5f), a6 = a0.add(6f), a7 = a0.add(7f);
    for (long i = 0; i < n; i++) {
      a0 = a0.div(c); a1 = a1.div(c); a2 = a2.div(c); a3 = a3.div(c);
      a4 = a4.div(c); a5 = a5.div(c); a6 = a6.div(c); a7 = a7.div(c);
    }
    return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
  }

  public static void main(String[] args) {
    long n = 20_000_000L;
    for (int r = 0; r < 5; r++) {
      long t = System.nanoTime();
      float x = run(n);
      double s = (System.nanoTime() - t) / 1e9;
      System.out.printf("%.3f ns per 512-bit division (%.1f)%n", s * 1e9 / (8 * n), x);
    }
  }
}
