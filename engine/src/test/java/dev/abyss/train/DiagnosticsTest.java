package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.TestData;
import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.kernel.Kernels;
import dev.abyss.nn.HeadParams;
import dev.abyss.store.CoreFile;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.CoreWeights;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gradient-flow diagnostics: the collector's segment path gives the bits of its
 * layer-by-layer path, the figures are the norms of the step's actual gradients by depth
 * bucket, and they do not depend on the chunk size, the storage mode or the thread count.
 */
class DiagnosticsTest {
  static final long L = 50;
  static final int W = 4;
  static final int K = 7; // buckets; 50 layers do not divide into 7

  @TempDir Path dir;

  /** Random gradients fed in segments of random lengths vs one layer at a time. */
  @Test
  void segmentPathMatchesLayerPathBitForBit() {
    SplittableRandom r = new SplittableRandom(5);
    for (long layers : new long[] {1, 7, 50, 1000}) {
      for (int buckets : new int[] {1, 3, 7, 100}) {
        int k = (int) Math.min(buckets, layers);
        int w = 1 + r.nextInt(5);
        int lf = w * w + w;
        float[] all = new float[(int) layers * lf];
        for (int i = 0; i < all.length; i++) {
          all[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-3, 3)));
        }
        Diagnostics.Collector byLayer = new Diagnostics.Collector(layers, k);
        Diagnostics.Collector bySegment = new Diagnostics.Collector(layers, k);
        float[] gW = new float[w * w];
        float[] gb = new float[w];
        for (long l = layers - 1; l >= 0; l--) {
          System.arraycopy(all, (int) l * lf, gW, 0, w * w);
          System.arraycopy(all, (int) l * lf + w * w, gb, 0, w);
          byLayer.core(l, gW, gb);
        }
        // segments from the top down, as the trainer delivers them
        long end = layers;
        while (end > 0) {
          int len = (int) Math.min(end, 1 + r.nextInt(40));
          long first = end - len;
          float[] seg = new float[len * lf];
          System.arraycopy(all, (int) first * lf, seg, 0, len * lf);
          bySegment.coreRange(first, len, seg, w);
          end = first;
        }
        String what = layers + " layers, " + k + " buckets, width " + w;
        assertArrayEquals(byLayer.sq, bySegment.sq, what);
        assertEquals(byLayer.firstAbs, bySegment.firstAbs, what);
        for (int b = 0; b < k; b++) {
          assertTrue(bySegment.sq[b] > 0, what + ": bucket " + b + " got no layer");
        }
      }
    }
  }

  record Run(Diagnostics d, Map<Long, float[]> grads) {}

  private Run run(String name, int chunk, boolean inMemory, int threads, Kernels k)
      throws Exception {
    return run(name, L, chunk, inMemory, threads, k);
  }

  private Run run(String name, long layers, int chunk, boolean inMemory, int threads, Kernels k)
      throws Exception {
    return run(name, W, 16, layers, chunk, inMemory, threads, k, 0);
  }

  private Run run(String name, int width, int batch, long layers, int chunk, boolean inMemory,
      int threads, Kernels k, long memoryBudget) throws Exception {
    CoreHeader h = new CoreHeader(width, layers, Activation.SOFTSIGN,
        (float) (1 / Math.sqrt(layers)), 0.3f, 11, 0, 3, 4);
    Path wf = dir.resolve(name + ".bin");
    CoreFile.create(wf, h, null);
    HeadParams head = HeadParams.glorot(width, 13);
    Dataset data = TestData.images(64, 21);
    try (CoreWeights cw = inMemory ? CoreFile.openInMemory(wf)
        : CoreFile.openStreamed(wf, true);
        ResidualTrainer tr = new ResidualTrainer(cw, head, k, data, batch, chunk, 0.5f, 0.1f,
            64, threads, memoryBudget)) {
      assertEquals(memoryBudget > 0, tr.keepsActivations(), "the planner's choice");
      tr.step(0, K); // the second step's gradients depend on the first's update
      GradientRecorder rec = new GradientRecorder(width, head.p.length);
      tr.setTap(rec);
      Diagnostics d = tr.step(1, K).diagnostics();
      return new Run(d, rec.core);
    }
  }

  @Test
  void figuresAreTheStepsGradientsAndIndependentOfChunksStorageAndThreads() throws Exception {
    Kernels k = KernelProvider.get();
    Run ref = run("ref", (int) L, true, 1, k);
    assertEquals(L, ref.grads().size(), "the tap saw every layer");
    // the norms by bucket, computed here from the gradients the tap saw
    double[] sq = new double[K];
    for (long l = L - 1; l >= 0; l--) {
      // each layer's squares in four running sums (index mod 4), then (s0 + s1) + (s2 + s3)
      double[] s = new double[4];
      float[] gl = ref.grads().get(l);
      for (int i = 0; i < gl.length; i++) {
        s[i % 4] += (double) gl[i] * gl[i];
      }
      sq[(int) (l * K / L)] += (s[0] + s[1]) + (s[2] + s[3]);
    }
    double[] norms = new double[K];
    for (int b = 0; b < K; b++) {
      norms[b] = Math.sqrt(sq[b]);
      assertTrue(norms[b] > 0, "bucket " + b);
    }
    assertArrayEquals(norms, ref.d().gradNorm(), "gradient norms by bucket");
    double a = 0;
    for (float v : ref.grads().get(0L)) {
      a += Math.abs(v);
    }
    assertEquals(a / (W * W + W), ref.d().firstLayerMeanAbsGrad(), "layer 0's mean |grad|");
    for (int chunk : new int[] {1, 7, (int) L}) {
      for (boolean mem : new boolean[] {false, true}) {
        for (int threads : new int[] {1, 2, 3}) {
          Run r = run("c" + chunk + mem + threads, chunk, mem, threads, k);
          String what = "chunk " + chunk + (mem ? " in memory" : " streamed") + ", threads "
              + threads;
          assertArrayEquals(ref.d().gradNorm(), r.d().gradNorm(), what);
          assertEquals(ref.d().firstLayerMeanAbsGrad(), r.d().firstLayerMeanAbsGrad(), what);
          assertEquals(ref.d().inputMeanAbsGrad(), r.d().inputMeanAbsGrad(), what);
        }
      }
    }
  }

  /**
   * With two or three threads taking a chunk's segments in turns, each thread's backward feeds
   * the tap in the segments' order: over chunks of several segments the figures and every
   * layer's gradients are those of one thread.
   */
  @Test
  void threadsTakingSegmentsInTurnsFeedTheSameFigures() throws Exception {
    long layers = 2600; // 512-layer segments: chunks of 1100 hold three, then one
    Kernels k = KernelProvider.get();
    Run one = run("one", layers, 1100, true, 1, k);
    assertEquals(layers, one.grads().size(), "the tap saw every layer");
    for (boolean mem : new boolean[] {false, true}) {
      for (int threads = 2; threads <= 3; threads++) {
        Run two = run("two" + mem + threads, layers, 1100, mem, threads, k);
        String what = (mem ? "in memory" : "streamed") + ", threads " + threads;
        assertArrayEquals(one.d().gradNorm(), two.d().gradNorm(), what);
        assertEquals(one.d().firstLayerMeanAbsGrad(), two.d().firstLayerMeanAbsGrad(), what);
        assertEquals(layers, two.grads().size(), what + ": the tap saw every layer");
        for (long l = 0; l < layers; l++) {
          assertArrayEquals(one.grads().get(l), two.grads().get(l), what + ", layer " + l);
        }
      }
    }
  }

  /**
   * Every activation kept and two or three threads taking the segments in turns (the wide
   * batch-1 rows, the generic layers of a batch): the tap gets every layer's gradients in order,
   * those of one thread.
   */
  @Test
  void keptActivationsInTurnsFeedTheSameFigures() throws Exception {
    long layers = 240;
    Kernels k = KernelProvider.get();
    for (int[] wb : new int[][] {{32, 1}, {16, 3}}) {
      Run one = run("kone", wb[0], wb[1], layers, 97, true, 1, k, Long.MAX_VALUE);
      assertEquals(layers, one.grads().size(), "the tap saw every layer");
      for (boolean mem : new boolean[] {false, true}) {
        for (int threads = 2; threads <= 3; threads++) {
          Run r = run("kt" + mem + threads, wb[0], wb[1], layers, 97, mem, threads, k,
              Long.MAX_VALUE);
          String what = "w" + wb[0] + " b" + wb[1] + (mem ? " in memory" : " streamed")
              + ", threads " + threads;
          assertArrayEquals(one.d().gradNorm(), r.d().gradNorm(), what);
          assertEquals(one.d().firstLayerMeanAbsGrad(), r.d().firstLayerMeanAbsGrad(), what);
          assertEquals(layers, r.grads().size(), what + ": the tap saw every layer");
          for (long l = 0; l < layers; l++) {
            assertArrayEquals(one.grads().get(l), r.grads().get(l), what + ", layer " + l);
          }
        }
      }
    }
  }
}
