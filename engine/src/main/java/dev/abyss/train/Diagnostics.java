package dev.abyss.train;

import dev.abyss.nn.HeadParams;

/**
 * Gradient-flow and activation figures of one step, by depth bucket (bucket k covers layers
 * [k L / K, (k+1) L / K)).
 *
 * @param gradNorm L2 norm of the core's gradients (W and b) in each bucket
 * @param firstLayerMeanAbsGrad mean |gradient| of core layer 0 (W and b)
 * @param inputMeanAbsGrad mean |gradient| of the input projection (W1 and b1)
 * @param activationRms RMS of h at the checkpoints in each bucket (NaN where none falls)
 */
public record Diagnostics(double[] gradNorm, double firstLayerMeanAbsGrad,
    double inputMeanAbsGrad, double[] activationRms) {

  /** Collects a step's diagnostics through the gradient tap. */
  static final class Collector implements GradientTap {
    final long layers;
    final int buckets;
    final double[] sq;
    double firstAbs;
    double inputAbs;

    Collector(long layers, int buckets) {
      this.layers = layers;
      this.buckets = buckets;
      this.sq = new double[buckets];
    }

    int bucket(long layer) {
      return (int) (layer * buckets / layers);
    }

    /** One layer's gW then gb, for {@link #squares} ({@link #core}). */
    private float[] scratch = new float[0];

    @Override
    public void core(long layer, float[] gW, float[] gb) {
      int lf = gW.length + gb.length;
      if (scratch.length < lf) {
        scratch = new float[lf];
      }
      System.arraycopy(gW, 0, scratch, 0, gW.length);
      System.arraycopy(gb, 0, scratch, gW.length, gb.length);
      double s = squares(scratch, 0, lf);
      sq[bucket(layer)] += s;
      if (layer == 0) {
        double a = 0;
        for (float v : gW) {
          a += Math.abs(v);
        }
        for (float v : gb) {
          a += Math.abs(v);
        }
        firstAbs = a / (gW.length + gb.length);
      }
    }

    /**
     * The same sums as {@link #core} layer by layer, in the same order (each layer's squares
     * by {@link #squares}, then into its bucket, layers highest first), so the same bits; without
     * a copy, a call and a 64-bit division per layer, which made a diagnostic step 1.5x a
     * plain one at 10M layers (docs/decisions.md).
     */
    @Override
    public void coreRange(long first, int count, float[] grads, int w) {
      if (count <= 0) {
        return;
      }
      int lf = w * w + w;
      int b = bucket(first + count - 1);
      long lo = lowest(b);
      for (int l = count - 1; l >= 0; l--) {
        while (first + l < lo) {
          lo = lowest(--b);
        }
        sq[b] += squares(grads, l * lf, lf);
      }
      if (first == 0) {
        double a = 0;
        for (int k = 0; k < lf; k++) {
          a += Math.abs(grads[k]);
        }
        firstAbs = a / lf;
      }
    }

    /**
     * One layer's sum of squares, a[from .. from + n - 1] in doubles: four running sums (index
     * mod 4, each in index order) combined as (s0 + s1) + (s2 + s3), so that the adds do not
     * wait on one another; one running sum took 80% of a plain step's time on a diagnostic
     * step at w32 b1 (1,056 gradients a layer; docs/decisions.md).
     */
    static double squares(float[] a, int from, int n) {
      double s0 = 0;
      double s1 = 0;
      double s2 = 0;
      double s3 = 0;
      int k = from;
      int end = from + n;
      for (; k + 4 <= end; k += 4) {
        double v0 = a[k];
        double v1 = a[k + 1];
        double v2 = a[k + 2];
        double v3 = a[k + 3];
        s0 += v0 * v0;
        s1 += v1 * v1;
        s2 += v2 * v2;
        s3 += v3 * v3;
      }
      if (k < end) {
        double v = a[k++];
        s0 += v * v;
      }
      if (k < end) {
        double v = a[k++];
        s1 += v * v;
      }
      if (k < end) {
        double v = a[k];
        s2 += v * v;
      }
      return (s0 + s1) + (s2 + s3);
    }

    /** The lowest layer of bucket {@code b}: the least l with l K / L >= b. */
    long lowest(int b) {
      return ((long) b * layers + buckets - 1) / buckets;
    }

    @Override
    public void head(HeadParams grad, boolean second) {
      if (!second) {
        double a = 0;
        for (int k = grad.w1; k < grad.w2; k++) {
          a += Math.abs(grad.p[k]);
        }
        inputAbs = a / (grad.w2 - grad.w1);
      }
    }

    double[] norms() {
      double[] n = new double[buckets];
      for (int k = 0; k < buckets; k++) {
        n[k] = Math.sqrt(sq[k]);
      }
      return n;
    }
  }
}
