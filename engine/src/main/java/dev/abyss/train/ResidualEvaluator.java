package dev.abyss.train;

import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import dev.abyss.nn.HeadParams;
import dev.abyss.nn.ResidualHead;
import dev.abyss.nn.SoftmaxCrossEntropy;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.CoreWeights;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.function.LongConsumer;

/**
 * Evaluates the residual net on the first N images of a dataset, in order. The weights are
 * read once, chunk by chunk: every sample's activation (N x W floats in all) is carried
 * through a chunk before the next chunk is loaded, in minibatches of B samples. Per-sample
 * results do not depend on B or on the chunk size.
 */
public final class ResidualEvaluator {
  /**
   * The smallest group of images pushed through the core together: four vectors of 16 at 512
   * bits, two passes of the width-4 eval kernel (which interleaves two).
   */
  public static final int MIN_GROUP = 64;

  /**
   * Image-layers from which an evaluation warms the JIT whatever its chunk: {@link
   * #worthWarming}.
   */
  static final double WARM_MIN_WORK = 2e9;

  /**
   * Layers a kernel call takes (the chunk) from which its first call runs long enough in the
   * interpreter to cost more than a warm-up: the JIT compiles a running loop after about 60,000
   * iterations (HotSpot's Tier3BackEdgeThreshold). {@link #worthWarming}.
   */
  static final long WARM_MIN_CALL_LAYERS = 60_000;

  /**
   * Whether evaluating {@code samples} images through {@code layers} layers, {@code
   * chunkLayers} a call, merits a warm-up. Measured on the Zen 5 EPYC ({@code eval-dense
   * --samples 128}, wall time, two runs each with and without; BENCHMARKS.md, "JIT warm-up"):
   * from 70,000 to 10M layers the warm-up saved 0.2-1.8 s of commands of 1.8-3.8 s; at 50,000
   * layers it was a tie; at 10,000-30,000 layers (100-3,000 images) skipping it was as fast
   * or faster.
   */
  public static boolean worthWarming(int samples, long layers, int chunkLayers) {
    return Math.min(layers, chunkLayers) >= WARM_MIN_CALL_LAYERS
        || (double) samples * layers >= WARM_MIN_WORK;
  }

  private ResidualEvaluator() {}

  /**
   * The minibatch eval uses for a requested {@code batch}: at least {@link #MIN_GROUP} images.
   * A group narrower than the vector width wastes lanes (the reference's default of 8 would use
   * half of a 512-bit register), one vector per group leaves the units idle, and per-image
   * results do not depend on the grouping.
   */
  public static int group(int batch) {
    return Math.max(batch, MIN_GROUP);
  }

  /**
   * Warms the JIT on the forward kernels an evaluation of {@code samples} images at this
   * {@code batch} will run: full groups and the last, partial one (different kernels at width
   * 4). Best effort, changes nothing a run can see.
   *
   * @return seconds spent
   */
  public static double warmUp(Kernels k, int w, Activation act, int samples, int batch) {
    int g = group(batch);
    double s = k.warmUpForward(w, Math.min(g, samples), act);
    int tail = samples % g;
    if (samples > g && tail > 0) {
      s += k.warmUpForward(w, tail, act);
    }
    return s;
  }

  /**
   * @param progress receives the number of layers done, after each chunk (may be null)
   */
  public static EvalResult evaluate(CoreWeights core, HeadParams head, Kernels k, Dataset data,
      int samples, int batch, int chunkLayers, LongConsumer progress) throws IOException {
    long t0 = System.nanoTime();
    CoreHeader hd = core.header();
    int w = hd.width();
    long layers = hd.layers();
    int chunk = (int) Math.min(chunkLayers, layers);
    batch = group(batch);
    int nb = (samples + batch - 1) / batch;
    float[][] hs = new float[nb][];
    float[] x = new float[batch * HeadParams.INPUTS];
    float[] acc = new float[w];
    int[] idx = new int[batch];
    for (int q = 0; q < nb; q++) {
      int n = Math.min(batch, samples - q * batch);
      for (int b = 0; b < n; b++) {
        idx[b] = q * batch + b;
      }
      data.fill(idx, n, x);
      hs[q] = new float[w * n];
      ResidualHead.inputForward(head, x, n, hs[q], acc);
    }
    for (long start = 0; start < layers; start += chunk) {
      int count = (int) Math.min(chunk, layers - start);
      MemorySegment seg = core.load(start, count);
      long base = core.offsetOf(start);
      if (start + count < layers) {
        core.prefetch(start + count, (int) Math.min(chunk, layers - start - count));
      }
      // minibatches are independent: spread them over the cores (results do not depend on
      // which thread runs which minibatch)
      java.util.stream.IntStream.range(0, nb).parallel().forEach(q -> {
        int n = hs[q].length / w;
        float[] zq = new float[w * n];
        Kernels kq = k.fork();
        kq.forwardChunk(w, n, seg, base, count, hd.alpha(), hd.activation(), hs[q], zq);
      });
      if (progress != null) {
        progress.accept(start + count);
      }
    }
    float[] logits = new float[batch * HeadParams.CLASSES];
    int[] labels = new int[batch];
    int[] pred = new int[batch];
    int[][] conf = new int[HeadParams.CLASSES][HeadParams.CLASSES];
    double loss = 0;
    int correct = 0;
    for (int q = 0; q < nb; q++) {
      int n = hs[q].length / w;
      for (int b = 0; b < n; b++) {
        labels[b] = data.label(q * batch + b);
      }
      ResidualHead.classifierForward(head, hs[q], n, logits);
      SoftmaxCrossEntropy.Result r = SoftmaxCrossEntropy.forwardBackward(logits, n, labels, null,
          pred);
      loss += r.lossSum();
      correct += r.correct();
      for (int b = 0; b < n; b++) {
        conf[labels[b]][pred[b]]++;
      }
    }
    return new EvalResult(samples, loss / samples, correct, conf,
        (System.nanoTime() - t0) / 1e9);
  }
}
