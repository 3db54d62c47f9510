package dev.abyss.run;

import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.KernelProvider;
import dev.abyss.kernel.Kernels;
import dev.abyss.kernel.Rates;
import dev.abyss.nn.HeadParams;
import dev.abyss.nn.Mlp;
import dev.abyss.nn.SoftmaxCrossEntropy;
import dev.abyss.store.Bf16;
import dev.abyss.store.CoreFile;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.CoreWeights;
import dev.abyss.store.Dtype;
import dev.abyss.train.EvalResult;
import dev.abyss.train.ResidualEvaluator;
import dev.abyss.train.ResidualRun;
import dev.abyss.train.ResidualTrainer;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * The standard benchmark suite: forward pass and full exact step of a width-4 batch-16
 * softsign core (in memory and streamed) at the given depths, eval throughput, a width-32
 * batch-1 step, an MLP step, bf16 steps, and steps of a few other shapes (w4 b1, w4 b32, w8
 * b16, w16 b16) at up to {@value #OTHER_LAYERS} layers, which {@code abyss bench} measures
 * each in a JVM of its own ({@link #otherShape}). Medians over repeated runs after one
 * warm-up; the first step is reported against the median. Uses generated images: the cost
 * does not depend on the pixels.
 */
public final class Bench {
  private Bench() {}

  /** One measured row. */
  public record Row(String name, String unit, double median, double perLayerNs, double first,
      int repeats) {}

  /** Suite options; {@code threads} 0: train's default for each row's shape and storage. */
  public record Options(long[] depths, int steps, int threads, int chunk, int evalImages,
      Path dir) {}

  /** Random MNIST-shaped images. */
  public static Dataset synthetic(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    byte[] px = new byte[n * 784];
    byte[] lb = new byte[n];
    for (int i = 0; i < n; i++) {
      lb[i] = (byte) r.nextInt(10);
      for (int p = 0; p < 784; p++) {
        if (r.nextInt(5) == 0) {
          px[i * 784 + p] = (byte) r.nextInt(256);
        }
      }
    }
    return new Dataset("synthetic", n, 784, px, lb);
  }

  /** The median of the repeats after the first one. */
  private static double medianAfterFirst(double[] t) {
    return ResidualRun.median(Arrays.copyOfRange(t, 1, t.length), t.length - 1);
  }

  /** The other shapes' rows (width, batch), in the suite's order. */
  public static final int[][] OTHER_SHAPES = {{4, 32}, {8, 16}, {16, 16}, {4, 1}};

  /** Measures the row of one of the {@link #OTHER_SHAPES}. */
  @FunctionalInterface
  public interface ShapeRow {
    Row row(int width, int batch) throws IOException;
  }

  /** Runs the suite in this process, reporting each row as it completes. */
  public static List<Row> run(Options o, Consumer<Row> progress) throws IOException {
    return run(o, progress, null);
  }

  /**
   * Runs the suite, reporting each row as it completes; the rows of the {@link #OTHER_SHAPES}
   * come from {@code otherShapes} (null: {@link #otherShape} in this process).
   */
  public static List<Row> run(Options o, Consumer<Row> progress, ShapeRow otherShapes)
      throws IOException {
    List<Row> rows = new ArrayList<>();
    Consumer<Row> add = r -> {
      rows.add(r);
      progress.accept(r);
    };
    // enough images for the eval row (at most MNIST's 10,000 test images)
    Dataset data = synthetic(Math.max(4096, o.evalImages()), 1);
    ShapeRow shapes = otherShapes != null ? otherShapes : (w, b) -> otherShape(w, b, data, o);
    Files.createDirectories(o.dir());
    // the rows' heads, drawn before the warm-ups (head())
    head(4);
    head(32);
    // the two rates the width-4 kernels wait on: the hardware estimate's inputs
    Rates.Result rates = Rates.measure();
    add.accept(new Row("vector division, " + rates.bits() + "-bit, issue interval", "ns",
        rates.divisionNs(), Double.NaN, Double.NaN, 5));
    add.accept(new Row("vector FMA, " + rates.bits() + "-bit, issue interval", "ns",
        rates.fmaNs(), Double.NaN, Double.NaN, 5));
    // what train does before its first step (on the other core, while the data loads)
    add.accept(new Row("JIT warm-up, w4 b16 kernels", "s", KernelProvider.get().warmUp(4, 16,
        Activation.SOFTSIGN), Double.NaN, Double.NaN, 1));
    // and, with two threads in memory, the step's own methods (0 s with one thread)
    int inMemoryThreads = threads(o, true, 4, 16, Activation.SOFTSIGN);
    add.accept(new Row("JIT warm-up, w4 b16 step, " + inMemoryThreads + " thread(s)", "s",
        ResidualTrainer.warmUp(4, Activation.SOFTSIGN, 16, inMemoryThreads,
            KernelProvider.get(), data), Double.NaN, Double.NaN, 1));
    for (long depth : o.depths()) {
      Path wf = o.dir().resolve("bench-w4-" + depth + ".bin");
      CoreHeader h = CoreHeader.create(4, depth, Activation.SOFTSIGN,
          (float) (1 / Math.sqrt(depth)), 0.001f, 0x5EED, 0xD00D);
      CoreFile.create(wf, h, null);
      try {
        try (CoreWeights cw = CoreFile.openInMemory(wf)) {
          add.accept(forward(cw, depth, o));
          add.accept(steps("step w4 b16 " + depth + " in-memory", cw, data, 16, o));
          if (depth == o.depths()[0]) {
            // what a step costs when it also measures the gradient-flow figures (train's
            // first step, and every --diagnostics-every steps)
            add.accept(steps("step w4 b16 " + depth + " in-memory, diagnostics", cw, data, 16,
                o, 0, ResidualRun.BUCKETS, o.steps()));
          }
        }
        if (depth == o.depths()[0]) {
          // as train does before a long streamed run: the step's methods on a streamed core
          int streamedThreads = threads(o, ResidualTrainer.helperFree(false, Dtype.F32), 4, 16,
              Activation.SOFTSIGN);
          add.accept(new Row("JIT warm-up, w4 b16 step streamed, " + streamedThreads
              + " thread(s)", "s", ResidualTrainer.warmUp(4, Activation.SOFTSIGN, 16,
                  streamedThreads, KernelProvider.get(), data, Dtype.F32, false, true),
              Double.NaN, Double.NaN, 1));
        }
        try (CoreWeights cw = CoreFile.openStreamed(wf, true)) {
          add.accept(steps("step w4 b16 " + depth + " streamed", cw, data, 16, o));
          cw.commit(h.step() + o.steps() + 1);
        }
        if (depth == o.depths()[o.depths().length - 1]) {
          add.accept(eval(wf, depth, data, o));
          // eval cannot beat its divisions: 4 per image-layer, one vector of lanes at a time,
          // on every core (what BENCHMARKS.md calls the division floor)
          int cores = Runtime.getRuntime().availableProcessors();
          double perImageLayerNs = 4.0 / (rates.bits() / 32) * rates.divisionNs() / cores;
          add.accept(new Row("eval division floor at " + depth + " layers, " + cores
              + " cores", "images/s", 1e9 / (perImageLayerNs * depth), perImageLayerNs,
              Double.NaN, 1));
        }
      } finally {
        Files.deleteIfExists(wf);
      }
    }
    Path w32 = o.dir().resolve("bench-w32.bin");
    CoreFile.create(w32, CoreHeader.create(32, 10_000, Activation.SOFTSIGN, 0.01f, 0.001f,
        0x5EED, 0xD00D), null);
    try (CoreWeights cw = CoreFile.openInMemory(w32)) {
      add.accept(new Row("JIT warm-up, w32 b1 kernels", "s", KernelProvider.get().warmUp(32, 1,
          Activation.SOFTSIGN), Double.NaN, Double.NaN, 1));
      Options w32o = new Options(o.depths(), Math.max(o.steps(), 20), o.threads(), 1000, 0,
          o.dir());
      // train's default plan (with one thread every activation kept, with two a recompute in
      // turns), then the other plan. A few untimed steps of each plan come first, so that the
      // row measured first does not pay for the JIT's work on both paths, and each row follows
      // a few of its own plan's: a train runs one plan, and a first step right after the other
      // plan's steps took up to 2.5 times the median (docs/decisions.md, "The w32 b1 rows'
      // first step")
      int th = threads(o, true, 32, 1, Activation.SOFTSIGN);
      long plan = ResidualTrainer.defaultBudget(KernelProvider.get(), 32, 1,
          Activation.SOFTSIGN, true, th);
      long other = plan > 0 ? 0 : Long.MAX_VALUE;
      Options few = new Options(o.depths(), 5, o.threads(), 1000, 0, o.dir());
      // as train does before a long run on two threads
      ResidualTrainer.warmUp(32, Activation.SOFTSIGN, 1, th, KernelProvider.get(), data,
          Dtype.F32, ResidualTrainer.activationBytes(10_000, 32, 1) <= plan, false);
      steps("", cw, data, 1, few, other);
      steps("", cw, data, 1, few, plan);
      // named by the trainer's plan: ", activations kept" is added where it keeps them
      add.accept(steps("step w32 b1 10000 in-memory" + (plan > 0 ? "" : ", recomputed"), cw,
          data, 1, w32o, plan));
      steps("", cw, data, 1, few, other);
      add.accept(steps("step w32 b1 10000 in-memory" + (other > 0 ? "" : ", recomputed"), cw,
          data, 1, w32o, other));
    } finally {
      Files.deleteIfExists(w32);
    }
    // what train-mlp does while MNIST loads
    long tw = System.nanoTime();
    Mlp.warmUp(128, 128);
    Dataset.warmUp(128);
    add.accept(new Row("JIT warm-up, MLP step", "s", (System.nanoTime() - tw) / 1e9,
        Double.NaN, Double.NaN, 1));
    add.accept(mlp(data, Math.max(o.steps(), 50)));
    // what train does for a bf16 core, besides the kernels'
    add.accept(new Row("JIT warm-up, bf16 conversions", "s", Bf16.warmUp(), Double.NaN,
        Double.NaN, 1));
    // and, with two threads in memory, its step's own methods (not timed)
    ResidualTrainer.warmUp(4, Activation.SOFTSIGN, 16,
        threads(o, ResidualTrainer.helperFree(true, Dtype.BF16), 4, 16, Activation.SOFTSIGN),
        KernelProvider.get(), data, Dtype.BF16);
    // last, so that they do not change the JIT profiles the rows above were measured with
    for (long depth : o.depths()) {
      // the same core stored in bf16: the cost of widening and stochastic rounding
      Path bf = o.dir().resolve("bench-w4-bf16-" + depth + ".bin");
      CoreHeader hb = CoreHeader.create(4, depth, Activation.SOFTSIGN,
          (float) (1 / Math.sqrt(depth)), 0.001f, 0x5EED, 0xD00D, Dtype.BF16);
      CoreFile.create(bf, hb, null);
      try {
        try (CoreWeights cw = CoreFile.openInMemory(bf)) {
          add.accept(steps("step w4 b16 " + depth + " bf16 in-memory", cw, data, 16, o));
        }
        if (depth == o.depths()[0]) {
          // as train does before a long streamed bf16 run (not timed)
          ResidualTrainer.warmUp(4, Activation.SOFTSIGN, 16,
              threads(o, ResidualTrainer.helperFree(false, Dtype.BF16), 4, 16,
                  Activation.SOFTSIGN), KernelProvider.get(), data, Dtype.BF16, false, true);
        }
        try (CoreWeights cw = CoreFile.openStreamed(bf, true)) {
          add.accept(steps("step w4 b16 " + depth + " bf16 streamed", cw, data, 16, o));
          cw.commit(hb.step() + o.steps() + 1);
        }
      } finally {
        Files.deleteIfExists(bf);
      }
    }
    // other shapes a run may use (otherShape): larger batches, wider layers, then batch 1
    // (last: in one JVM its 128-bit vectors would change the JIT's profiles of the Vector API
    // code the others share)
    for (int[] wb : OTHER_SHAPES) {
      add.accept(shapes.row(wb[0], wb[1]));
    }
    return rows;
  }

  /**
   * The row of one of the other shapes, at {@link #OTHER_LAYERS} layers (fewer if the suite's
   * smallest depth is smaller), with train's default memory plan, after the kernels' and the
   * trainer's warm-up for it. Run after the suite's other rows in one JVM, C2 threw away
   * kernels they share and the rows read up to 10 times a run's step (docs/decisions.md, "The
   * other shapes' rows: a JVM each, twenty steps"); `abyss bench` runs each in a JVM of its
   * own.
   */
  public static Row otherShape(int w, int batch, Dataset data, Options o) throws IOException {
    long layers = Math.min(OTHER_LAYERS, o.depths()[0]);
    Files.createDirectories(o.dir());
    // drawn and built before the warm-ups, which wait for the JIT to be quiet: the head's draws
    // and the name's concatenation (a class spun at its first use) compiled during the first
    // step when they came after them (head())
    head(w);
    String name = "step w" + w + " b" + batch + " " + layers + " in-memory";
    Path wf = o.dir().resolve("bench-w" + w + "-b" + batch + ".bin");
    CoreFile.create(wf, CoreHeader.create(w, layers, Activation.SOFTSIGN,
        (float) (1 / Math.sqrt(layers)), 0.001f, 0x5EED, 0xD00D), null);
    try (CoreWeights cw = CoreFile.openInMemory(wf)) {
      Kernels k = KernelProvider.get();
      k.warmUp(w, batch, Activation.SOFTSIGN);
      int th = threads(o, true, w, batch, Activation.SOFTSIGN);
      long budget = ResidualTrainer.defaultBudget(k, w, batch, Activation.SOFTSIGN, true, th);
      ResidualTrainer.warmUp(w, Activation.SOFTSIGN, batch, th, k, data, Dtype.F32,
          ResidualTrainer.activationBytes(layers, w, batch) <= budget, false);
      return steps(name, cw, data, batch, o, budget, 0, Math.max(o.steps(), OTHER_STEPS));
    } finally {
      Files.deleteIfExists(wf);
    }
  }

  /** The row's training threads: {@code --threads}, else train's default for its shape. */
  private static int threads(Options o, boolean helperFree, int w, int batch, Activation act) {
    return o.threads() > 0 ? o.threads()
        : ResidualTrainer.defaultThreads(helperFree, KernelProvider.get(), w, batch, act);
  }

  /** Depth of the other shapes' rows (at most the smallest of the suite's depths). */
  static final long OTHER_LAYERS = 100_000;

  /**
   * Measured steps of the other shapes' rows at least, as for the w32 b1 rows: their steps are
   * short (2-60 ms at 100,000 layers), and a median of five moved with a few slow ones. Run in
   * the suite's JVM, w4 b32 read 5.5-84.5 ms over seventeen suites, 8.9-9.8 ms as medians of
   * 30 steps, 8.3 ms in a `train-dense` of that shape (docs/decisions.md, "The other shapes'
   * rows: a JVM each, twenty steps").
   */
  static final int OTHER_STEPS = 20;

  private static Row forward(CoreWeights cw, long depth, Options o) throws IOException {
    Kernels k = KernelProvider.get();
    CoreHeader h = cw.header();
    float[] hv = new float[4 * 16];
    float[] z = new float[4 * 16];
    int reps = Math.max(3, o.steps());
    double[] t = new double[reps + 1];
    for (int r = 0; r <= reps; r++) {
      Arrays.fill(hv, 0.1f);
      long t0 = System.nanoTime();
      for (long s = 0; s < depth; s += o.chunk()) {
        int n = (int) Math.min(o.chunk(), depth - s);
        MemorySegment seg = cw.load(s, n);
        k.forwardChunk(4, 16, seg, cw.offsetOf(s), n, h.alpha(), h.activation(), hv, z);
      }
      t[r] = (System.nanoTime() - t0) / 1e9;
    }
    double med = medianAfterFirst(t);
    return new Row("forward w4 b16 " + depth + " in-memory", "s/pass", med, med * 1e9 / depth,
        t[0], reps);
  }

  private static Row steps(String name, CoreWeights cw, Dataset data, int batch, Options o)
      throws IOException {
    return steps(name, cw, data, batch, o, 0, 0, o.steps());
  }

  /** Steps with a memory budget. */
  private static Row steps(String name, CoreWeights cw, Dataset data, int batch, Options o,
      long memoryBudget) throws IOException {
    return steps(name, cw, data, batch, o, memoryBudget, 0, o.steps());
  }

  /**
   * One step and then {@code count} measured ones with a memory budget (0: checkpoint and
   * recompute, train's default for w4 b16), each measuring the diagnostics in {@code buckets}
   * depth buckets (0: none).
   */
  private static Row steps(String name, CoreWeights cw, Dataset data, int batch, Options o,
      long memoryBudget, int buckets, int count) throws IOException {
    CoreHeader h = cw.header();
    HeadParams hp = head(h.width());
    int threads = threads(o, ResidualTrainer.helperFree(cw.inMemory(), h.dtype()), h.width(), batch,
        h.activation());
    try (ResidualTrainer tr = new ResidualTrainer(cw, hp, KernelProvider.get(), data, batch,
        o.chunk(), 0.01f, 0.01f, data.count(), threads, memoryBudget)) {
      if (tr.keepsActivations()) {
        name += ", activations kept";
      }
      double[] t = new double[count + 1];
      for (int s = 0; s <= count; s++) {
        t[s] = tr.step(h.step() + s, buckets).seconds();
      }
      double med = medianAfterFirst(t);
      return new Row(name, "s/step", med, med * 1e9 / h.layers(), t[0], count);
    }
  }

  /** Heads made so far, by width: {@link #head}. */
  private static final Map<Integer, HeadParams> HEADS = new ConcurrentHashMap<>();

  /**
   * A fresh copy of one Glorot head per width. Drawn anew for every row, the w32 head's 25,088
   * draws got C2 to compile their loop on a core the next row's first step needed: that step's
   * threads waited 4-12 ms for each other (docs/decisions.md, "The w32 b1 rows' first step").
   * Each width's head is drawn before the JIT warm-ups, which wait until the JIT is quiet: drawn
   * after them, the w8 head's draws got C2 to compile the random generator during a w8 b16
   * row's first step (docs/decisions.md, "The bench's heads drawn before the warm-ups").
   */
  private static HeadParams head(int width) {
    HeadParams master = HEADS.computeIfAbsent(width, w -> HeadParams.glorot(w, 3));
    return new HeadParams(width, master.p.clone());
  }

  private static Row eval(Path wf, long depth, Dataset data, Options o) throws IOException {
    try (CoreWeights cw = CoreFile.openStreamed(wf, false)) {
      HeadParams hp = HeadParams.glorot(4, 3);
      // as eval-dense does while the data loads (not timed)
      int batch = 16;
      ResidualEvaluator.warmUp(KernelProvider.get(), 4, cw.header().activation(),
          o.evalImages(), batch);
      EvalResult r = ResidualEvaluator.evaluate(cw, hp, KernelProvider.get(), data,
          o.evalImages(), batch, o.chunk(), null);
      double ips = o.evalImages() / r.seconds();
      return new Row("eval " + o.evalImages() + " images at " + depth + " layers", "images/s",
          ips, r.seconds() * 1e9 / ((double) depth * o.evalImages()), r.seconds(), 1);
    }
  }

  private static Row mlp(Dataset data, int steps) {
    HeadParams hp = HeadParams.glorot(128, 5);
    HeadParams grad = hp.zerosLike();
    int b = 128;
    float[] x = new float[b * 784];
    float[] a = new float[b * 128];
    float[] da = new float[b * 128];
    float[] logits = new float[b * 10];
    float[] dl = new float[b * 10];
    int[] idx = new int[b];
    int[] labels = new int[b];
    double[] t = new double[steps + 1];
    for (int s = 0; s <= steps; s++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < b; i++) {
        idx[i] = (s * b + i) % data.count();
        labels[i] = data.label(idx[i]);
      }
      data.fill(idx, b, x);
      Mlp.forward(hp, x, b, a, logits);
      SoftmaxCrossEntropy.forwardBackward(logits, b, labels, dl, null);
      Mlp.backward(hp, x, b, a, dl, grad, da);
      hp.sgdFirst(0.01f, grad);
      hp.sgdSecond(0.01f, grad);
      t[s] = (System.nanoTime() - t0) / 1e9;
    }
    double med = medianAfterFirst(t);
    return new Row("MLP step b128 h128", "s/step", med, Double.NaN, t[0], steps);
  }
}
