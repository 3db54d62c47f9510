package dev.abyss.train;

import dev.abyss.AbyssException;
import dev.abyss.data.BatchOrder;
import dev.abyss.data.Dataset;
import dev.abyss.nn.HeadParams;
import dev.abyss.nn.Mlp;
import dev.abyss.nn.SoftmaxCrossEntropy;
import dev.abyss.store.HeadFile;
import dev.abyss.store.HeadHeader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;

/** The MLP baseline (784 -> hidden ReLU -> 10): train and eval from a head-format file. */
public final class MlpRun {
  private MlpRun() {}

  /** Flags of an MLP training run; hidden and seed are null when not given. */
  public record Spec(Path file, Integer hidden, int defaultHidden, Long seed, long defaultSeed,
      boolean initIfMissing, long steps, int batch, float lr, int trainLimit) {}

  /** Reads an MLP file, checking its kind and (when given) its hidden size. */
  public static HeadFile.Contents load(Path file, Integer hidden) throws IOException {
    HeadFile.Contents c = HeadFile.read(file);
    if (c.header().kind() != HeadHeader.KIND_MLP) {
      throw new AbyssException(file + " is the head of a residual net, not an MLP: use it with"
          + " eval / eval-dense as --head");
    }
    if (hidden != null && hidden != c.header().mid()) {
      throw new AbyssException("MLP file " + file + " has hidden " + c.header().mid() + " but"
          + " --hidden " + hidden + " was given: pass --hidden " + c.header().mid()
          + " (or leave it out)");
    }
    return c;
  }

  /** Trains {@code steps} more SGD steps, creating the file when missing and allowed. */
  public static ResidualRun.Summary train(Spec s, Supplier<Dataset> data, TrainListener l)
      throws IOException {
    try (StopSignal stop = StopSignal.install()) {
      return train(s, data, l, stop);
    }
  }

  /** Trains, stopping cleanly after the step in progress when {@code stop} is requested. */
  public static ResidualRun.Summary train(Spec s, Supplier<Dataset> data, TrainListener l,
      StopSignal stop) throws IOException {
    Validate.training(s.steps(), s.batch(), 1, s.lr(), s.lr(), s.trainLimit());
    if (!Files.exists(s.file())) {
      if (!s.initIfMissing()) {
        throw new AbyssException(s.file() + " does not exist: allow train-mlp to create it"
            + " (--init-if-missing)");
      }
      int hidden = s.hidden() != null ? s.hidden() : s.defaultHidden();
      Validate.positive("hidden", hidden);
      long seed = s.seed() != null ? s.seed() : s.defaultSeed();
      HeadParams hp = HeadParams.glorot(hidden, seed);
      HeadFile.write(s.file(), new HeadHeader(HeadHeader.KIND_MLP, hidden,
          HeadHeader.NO_ACTIVATION, 0, seed, seed ^ 0xD00DL), hp.p);
      l.info("initialised a new MLP (784 -> " + hidden + " -> 10) -> " + s.file());
    }
    HeadFile.Contents c = load(s.file(), s.hidden());
    HeadHeader hh = c.header();
    HeadParams hp = new HeadParams(hh.mid(), c.payload());
    // the JIT compiles the step on the other core while the data loads (on at most 256
    // samples: the compiled code is the same, the scratch arrays stay small)
    int warmBatch = Math.min(s.batch(), 256);
    Thread warm = ResidualRun.startWarmUp(() -> {
      Mlp.warmUp(hh.mid(), warmBatch);
      Dataset.warmUp(warmBatch);
    });
    Dataset train = data.get();
    ResidualRun.join(warm);
    if (s.trainLimit() > train.count()) {
      throw new AbyssException("--train-limit " + s.trainLimit() + " exceeds the "
          + train.count() + " training images");
    }
    int bsz = s.batch();
    int h = hh.mid();
    BatchOrder order = new BatchOrder(hh.dataSeed(), s.trainLimit());
    int[] idx = new int[bsz];
    int[] labels = new int[bsz];
    float[] x = new float[bsz * HeadParams.INPUTS];
    float[] a = new float[bsz * h];
    float[] da = new float[bsz * h];
    float[] logits = new float[bsz * HeadParams.CLASSES];
    float[] dl = new float[bsz * HeadParams.CLASSES];
    HeadParams grad = hp.zerosLike();
    long first = hh.step();
    long done = 0;
    long t0 = System.nanoTime();
    {
      try {
        for (long i = 0; i < s.steps() && !stop.requested(); i++) {
        long ts = System.nanoTime();
        long step = first + i;
        order.batch(step, bsz, idx);
        train.fill(idx, bsz, x);
        for (int b = 0; b < bsz; b++) {
          labels[b] = train.label(idx[b]);
        }
        Mlp.forward(hp, x, bsz, a, logits);
        SoftmaxCrossEntropy.Result r = SoftmaxCrossEntropy.forwardBackward(logits, bsz, labels,
            dl, null);
        if (!Double.isFinite(r.lossSum())) {
          throw new DivergedException(step, r.lossSum());
        }
        Mlp.backward(hp, x, bsz, a, dl, grad, da);
        hp.sgdFirst(s.lr(), grad);
        hp.sgdSecond(s.lr(), grad);
        done++;
        l.onStep(new StepResult(step, r.lossSum(), r.correct(), bsz,
            (System.nanoTime() - ts) / 1e9));
        }
      } finally {
        if (done > 0) {
          HeadFile.write(s.file(), hh.withStep(first + done), hp.p);
        }
      }
    }
    return new ResidualRun.Summary(null, first, done, (System.nanoTime() - t0) / 1e9, false,
        done < s.steps(), null, true, Double.NaN);
  }

  /** Evaluates on the first {@code samples} test images. */
  public static EvalResult eval(Path file, Integer hidden, int samples, int batch,
      Supplier<Dataset> data) throws IOException {
    Validate.positive("samples", samples);
    Validate.positive("batch", batch);
    HeadFile.Contents c = load(file, hidden);
    HeadParams hp = new HeadParams(c.header().mid(), c.payload());
    Dataset test = data.get();
    if (samples > test.count()) {
      throw new AbyssException("--samples " + samples + " exceeds the " + test.count()
          + " test images");
    }
    long t0 = System.nanoTime();
    int h = hp.mid;
    float[] x = new float[batch * HeadParams.INPUTS];
    float[] a = new float[batch * h];
    float[] logits = new float[batch * HeadParams.CLASSES];
    int[] idx = new int[batch];
    int[] labels = new int[batch];
    int[] pred = new int[batch];
    int[][] conf = new int[HeadParams.CLASSES][HeadParams.CLASSES];
    double loss = 0;
    int correct = 0;
    for (int s0 = 0; s0 < samples; s0 += batch) {
      int n = Math.min(batch, samples - s0);
      for (int b = 0; b < n; b++) {
        idx[b] = s0 + b;
        labels[b] = test.label(s0 + b);
      }
      test.fill(idx, n, x);
      Mlp.forward(hp, x, n, a, logits);
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
