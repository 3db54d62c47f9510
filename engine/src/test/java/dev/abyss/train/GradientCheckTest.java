package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.TestData;
import dev.abyss.data.BatchOrder;
import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.nn.HeadParams;
import dev.abyss.store.CoreFile;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.CoreWeights;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The engine's analytic gradients (float) against central finite differences of the
 * independent double-precision {@link ReferenceNet}, for every parameter of a tiny net,
 * every activation. Prints the max difference per tensor.
 */
class GradientCheckTest {
  static final int W = 3;
  static final int L = 6;
  static final int B = 4;
  static final double EPS = 1e-5;

  @TempDir Path dir;

  @ParameterizedTest
  @EnumSource(Activation.class)
  void scalarGradientsMatchFiniteDifferences(Activation act) throws Exception {
    check(act, KernelProvider.scalar());
  }

  @ParameterizedTest
  @EnumSource(Activation.class)
  void selectedKernelGradientsMatchFiniteDifferences(Activation act) throws Exception {
    check(act, KernelProvider.get());
  }

  private void check(Activation act, Kernels kernels) throws Exception {
    // large init scale and alpha so that every layer's nonlinearity matters
    CoreHeader h = new CoreHeader(W, L, act, 0.7f, 0.6f, 42, 0, 7, 4);
    Path wf = dir.resolve("w.bin");
    CoreFile.create(wf, h, null);
    HeadParams head = HeadParams.glorot(W, 99);
    Dataset data = TestData.images(20, 5);
    int[] idx = new int[B];
    new BatchOrder(h.dataSeed(), data.count()).batch(0, B, idx);

    // snapshot parameters in double
    double[][] core = new double[L][Kernels.layerFloats(W)];
    try (CoreWeights cw = CoreFile.openInMemory(wf)) {
      MemorySegment seg = cw.load(0, L);
      for (int l = 0; l < L; l++) {
        for (int k = 0; k < core[l].length; k++) {
          core[l][k] = seg.get(Kernels.F32, cw.offsetOf(l) + 4L * k);
        }
      }
    }
    double[] hp = new double[head.p.length];
    for (int k = 0; k < hp.length; k++) {
      hp[k] = head.p[k];
    }
    double[][] x = new double[B][784];
    int[] labels = new int[B];
    float[] xf = new float[B * 784];
    data.fill(idx, B, xf);
    for (int b = 0; b < B; b++) {
      labels[b] = data.label(idx[b]);
      for (int p = 0; p < 784; p++) {
        x[b][p] = xf[b * 784 + p];
      }
    }
    ReferenceNet ref = new ReferenceNet(W, act, h.alpha(), core, hp);

    // engine gradients, learning rates 0 so nothing moves
    GradientRecorder rec = new GradientRecorder(W, head.p.length);
    try (CoreWeights cw = CoreFile.openStreamed(wf, true)) {
      ResidualTrainer tr = new ResidualTrainer(cw, head, kernels, data, B, 4, 0f, 0f,
          data.count(), 2);
      tr.setTap(rec);
      tr.step(0);
      cw.commit(1);
    }

    StringBuilder report = new StringBuilder(kernels.name() + " " + act + ":");
    double worst = 0;
    for (int l = 0; l < L; l++) {
      double d = maxDiff(ref, x, labels, core[l], 0, core[l].length, rec.core.get((long) l), 0);
      report.append(String.format(" core[%d] %.2e", l, d));
      worst = Math.max(worst, d);
    }
    int w2 = head.w2;
    double dIn = maxDiff(ref, x, labels, hp, 0, w2, rec.head, 0);
    double dOut = maxDiff(ref, x, labels, hp, w2, hp.length, rec.head, w2);
    report.append(String.format(" input-projection %.2e classifier %.2e", dIn, dOut));
    System.out.println("gradient check " + report);
    worst = Math.max(worst, Math.max(dIn, dOut));
    assertTrue(worst < 2e-4, "max relative gradient error " + worst + ": " + report);
  }

  /** Max over params of |g - fd| / max(1e-2, |fd|): relative where it matters. */
  private static double maxDiff(ReferenceNet ref, double[][] x, int[] labels, double[] params,
      int from, int to, float[] grad, int gradOffset) {
    double worst = 0;
    int stride = Math.max(1, (to - from) / 400); // sample large tensors (784 x W)
    for (int k = from; k < to; k += stride) {
      double keep = params[k];
      params[k] = keep + EPS;
      double lp = ref.loss(x, labels);
      params[k] = keep - EPS;
      double lm = ref.loss(x, labels);
      params[k] = keep;
      double fd = (lp - lm) / (2 * EPS);
      double g = grad[k - from + gradOffset];
      worst = Math.max(worst, Math.abs(g - fd) / Math.max(1e-2, Math.abs(fd)));
    }
    return worst;
  }
}
