package dev.abyss.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.abyss.TestData;
import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import dev.abyss.kernel.ScalarKernels;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.HeadHeader;
import dev.abyss.store.RawFormat;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Weights written in the reference program's raw layout, imported, evaluate to the loss the
 * model's definition gives them (computed independently, in double), to 1e-4.
 */
class RawImportEvalTest {
  @TempDir Path dir;

  @ParameterizedTest
  @EnumSource(Activation.class)
  void importedRawWeightsEvaluateToTheReferenceLoss(Activation act) throws Exception {
    int w = 4;
    int layers = 200;
    int samples = 30;
    SplittableRandom r = new SplittableRandom(act.ordinal() + 1);
    double[][] core = new double[layers][Kernels.layerFloats(w)];
    ByteBuffer raw = ByteBuffer.allocate(layers * Kernels.layerFloats(w) * 4)
        .order(ByteOrder.LITTLE_ENDIAN);
    for (double[] layer : core) {
      for (int k = 0; k < layer.length; k++) {
        float v = (float) (r.nextDouble() - 0.5);
        layer[k] = v;
        raw.putFloat(v);
      }
    }
    int hf = (int) HeadHeader.payloadFloats(w);
    double[] head = new double[hf];
    float[] headF = new float[hf];
    for (int k = 0; k < hf; k++) {
      headF[k] = (float) ((r.nextDouble() - 0.5) * 0.3);
      head[k] = headF[k];
    }
    Path rw = dir.resolve("raw_w.bin");
    Path rh = dir.resolve("raw_h.bin");
    Files.write(rw, raw.array());
    RawFormat.writeHead(rh, headF);

    float alpha = (float) (1 / Math.sqrt(layers));
    Path wf = dir.resolve("w.bin");
    Path hfp = dir.resolve("h.bin");
    CoreHeader h = CoreHeader.create(w, layers, act, alpha, 0, 0, 0);
    RawFormat.importCore(rw, h, wf);
    dev.abyss.store.HeadFile.write(hfp, new HeadHeader(HeadHeader.KIND_RESIDUAL, w, act.code,
        0, 0, 0), RawFormat.readHead(rh, w));

    Dataset test = TestData.images(samples, 77);
    EvalResult er = ResidualRun.eval(wf, hfp, new CoreSpec(null, null, null, null, null, null),
        false, samples, 8, 64, () -> test, new ScalarKernels(), null);

    double[][] x = new double[samples][784];
    int[] labels = new int[samples];
    for (int s = 0; s < samples; s++) {
      labels[s] = test.label(s);
      for (int p = 0; p < 784; p++) {
        x[s][p] = test.pixel(s, p) / 255f;
      }
    }
    double want = new ReferenceNet(w, act, alpha, core, head).loss(x, labels);
    // per-image results do not depend on grouping, chunking or storage
    for (int b : new int[] {1, 7, 100}) {
      EvalResult other = ResidualRun.eval(wf, hfp, new CoreSpec(null, null, null, null, null,
          null), b == 7, samples, b, b == 1 ? 13 : 200, () -> test, new ScalarKernels(), null);
      assertEquals(er.meanLoss(), other.meanLoss(), 0.0, "batch " + b);
      assertEquals(er.correct(), other.correct());
    }
    System.out.printf("raw import %s: engine loss %.8f, reference %.8f%n", act, er.meanLoss(),
        want);
    assertEquals(want, er.meanLoss(), 1e-4);
  }
}
