// How fast data written by one core can be read by the other: the cost of any split of a
// training step between the two cores (docs/decisions.md, "Cross-core bandwidth").
// Run: java --add-modules jdk.incubator.vector scripts/CrossCoreBench.java [KB per block] [blocks in the ring]
import java.util.concurrent.atomic.AtomicLongArray;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

public class CrossCoreBench {
  static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
  // written (index 16) and read (index 32) block counts, 128 bytes apart
  static final AtomicLongArray COUNTS = new AtomicLongArray(48);

  static void write(float[] b, int t) {
    FloatVector v = FloatVector.broadcast(S, t);
    for (int i = 0; i < b.length; i += 16) {
      v.intoArray(b, i);
    }
  }

  static float read(float[] b) {
    FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
    for (int i = 0; i < b.length; i += 64) {
      a0 = a0.add(FloatVector.fromArray(S, b, i));
      a1 = a1.add(FloatVector.fromArray(S, b, i + 16));
      a2 = a2.add(FloatVector.fromArray(S, b, i + 32));
      a3 = a3.add(FloatVector.fromArray(S, b, i + 48));
    }
    return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
  }

  public static void main(String[] args) throws Exception {
    int kb = args.length > 0 ? Integer.parseInt(args[0]) : 256;
    int ring = args.length > 1 ? Integer.parseInt(args[1]) : 4;
    int blocks = (int) Math.max(200, (4L << 30) / (kb * 1024L));
    float[][] buf = new float[ring][kb * 256];
    double bytes = (double) blocks * kb * 1024;
    for (int rep = 0; rep < 5; rep++) {
      COUNTS.set(16, 0);
      COUNTS.set(32, 0);
      Thread writer = new Thread(() -> {
        for (int t = 0; t < blocks; t++) {
          while (t - COUNTS.get(32) >= ring) {
            Thread.onSpinWait();
          }
          write(buf[t % ring], t);
          COUNTS.set(16, t + 1);
        }
      });
      long t0 = System.nanoTime();
      writer.start();
      double sum = 0;
      for (int t = 0; t < blocks; t++) {
        while (COUNTS.get(16) <= t) {
          Thread.onSpinWait();
        }
        sum += read(buf[t % ring]);
        COUNTS.set(32, t + 1);
      }
      writer.join();
      double two = bytes / (System.nanoTime() - t0);
      long t1 = System.nanoTime();
      for (int t = 0; t < blocks; t++) {
        write(buf[t % ring], t);
        sum += read(buf[t % ring]);
      }
      double one = bytes / (System.nanoTime() - t1);
      System.out.printf("%d KB blocks, ring of %d: written on one core, read on the other %.1f GB/s;"
          + " one core writing and reading %.1f GB/s (%s)%n", kb, ring, two, one,
          sum != 0 ? "ok" : "?");
    }
  }
}
