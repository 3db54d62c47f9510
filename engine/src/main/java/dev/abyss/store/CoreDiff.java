package dev.abyss.store;

import dev.abyss.AbyssException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Compares two cores of the same shape parameter by parameter (either dtype, widened to f32),
 * streaming both: how far training moved a model from its init, or how far two runs drifted.
 */
public final class CoreDiff {
  private CoreDiff() {}

  /**
   * @param rmsA root mean square of A's parameters
   * @param rmsB the same for B
   * @param rmsDiff root mean square of (B - A)
   * @param maxAbsDiff the largest |B - A|
   * @param equal parameters with identical values
   */
  public record Result(long params, double rmsA, double rmsB, double rmsDiff, double maxAbsDiff,
      long equal) {}

  public static Result compare(Path a, Path b) throws IOException {
    try (CoreWeights ca = CoreFile.openStreamed(a, false);
        CoreWeights cb = CoreFile.openStreamed(b, false)) {
      CoreHeader ha = ca.header();
      CoreHeader hb = cb.header();
      if (ha.width() != hb.width() || ha.layers() != hb.layers()) {
        throw new AbyssException(a + " (" + ha.layers() + " layers of width " + ha.width()
            + ") and " + b + " (" + hb.layers() + " x " + hb.width() + ") differ in shape:"
            + " only cores of the same shape can be compared");
      }
      int lf = ha.layerFloats();
      int chunk = (int) Math.max(1, (16L << 20) / (4L * lf));
      double sa = 0;
      double sb = 0;
      double sd = 0;
      double max = 0;
      long equal = 0;
      for (long start = 0; start < ha.layers(); start += chunk) {
        int n = (int) Math.min(chunk, ha.layers() - start);
        MemorySegment sga = ca.load(start, n);
        long oa = ca.offsetOf(start);
        if (start + n < ha.layers()) {
          ca.prefetch(start + n, (int) Math.min(chunk, ha.layers() - start - n));
        }
        MemorySegment sgb = cb.load(start, n);
        long ob = cb.offsetOf(start);
        if (start + n < hb.layers()) {
          cb.prefetch(start + n, (int) Math.min(chunk, hb.layers() - start - n));
        }
        for (long k = 0; k < (long) n * lf; k++) {
          float x = sga.get(Bf16.F32, oa + 4 * k);
          float y = sgb.get(Bf16.F32, ob + 4 * k);
          double d = (double) y - x;
          sa += (double) x * x;
          sb += (double) y * y;
          sd += d * d;
          max = Math.max(max, Math.abs(d));
          if (Float.floatToRawIntBits(x) == Float.floatToRawIntBits(y)) {
            equal++;
          }
        }
      }
      long p = ha.layers() * lf;
      return new Result(p, Math.sqrt(sa / p), Math.sqrt(sb / p), Math.sqrt(sd / p), max, equal);
    }
  }
}
