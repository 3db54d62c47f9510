package dev.abyss.train;

import dev.abyss.AbyssException;
import dev.abyss.data.Dataset;
import dev.abyss.kernel.Kernels;
import dev.abyss.nn.HeadParams;
import dev.abyss.run.MetricsLog;
import dev.abyss.store.AtomicFiles;
import dev.abyss.store.Bf16;
import dev.abyss.store.CoreFile;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.CoreWeights;
import dev.abyss.store.Dtype;
import dev.abyss.store.HeadFile;
import dev.abyss.store.HeadHeader;
import dev.abyss.store.Journal;
import dev.abyss.store.ModelLock;
import dev.abyss.store.RawFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongConsumer;

/** Whole-model operations on a (core file, head file) pair: init, train, eval, export. */
public final class ResidualRun {
  private ResidualRun() {}

  /** Seed offset of the head's init stream (the reference's 0xC0FFEE). */
  public static final long HEAD_SEED_SALT = 0xC0FFEEL;

  /**
   * Creates a new core and head. Refuses to overwrite unless {@code force}, and while another
   * process trains or creates the model ({@link ModelLock}).
   */
  public static CoreHeader init(Path weights, Path head, CoreSpec spec, CoreSpec.Defaults d,
      boolean force, LongConsumer progress) throws IOException {
    try (ModelLock lock = ModelLock.forWriting(weights, "create")) {
      return create(weights, head, spec, d, force, progress);
    }
  }

  /** {@link #init} for a caller that holds the model's lock. */
  private static CoreHeader create(Path weights, Path head, CoreSpec spec, CoreSpec.Defaults d,
      boolean force, LongConsumer progress) throws IOException {
    CoreHeader h = spec.newHeader(d);
    Validate.coreShape(h.width(), h.layers());
    if (!force) {
      for (Path p : new Path[] {weights, head}) {
        if (Files.exists(p)) {
          throw new AbyssException(p + " already exists; pass --force to replace it, or choose"
              + " another path");
        }
      }
    }
    CoreFile.create(weights, h, progress);
    HeadParams hp = HeadParams.glorot(h.width(), h.seed() ^ HEAD_SEED_SALT);
    HeadFile.write(head, headHeader(h, 0), hp.p);
    return h;
  }

  static HeadHeader headHeader(CoreHeader h, long step) {
    return new HeadHeader(HeadHeader.KIND_RESIDUAL, h.width(), h.activation().code, step,
        h.seed(), h.dataSeed());
  }

  /** Reads a head and checks it belongs with the core. */
  public static HeadParams loadHead(Path head, Path weights, CoreHeader core) throws IOException {
    HeadFile.Contents c = HeadFile.read(head);
    HeadHeader hh = c.header();
    if (hh.kind() != HeadHeader.KIND_RESIDUAL) {
      throw new AbyssException("head file " + head + " holds an MLP, not the head of a residual"
          + " net: use eval-mlp / train-mlp with it, or pass the right --head");
    }
    if (hh.mid() != core.width()) {
      throw new AbyssException("head file " + head + " has width " + hh.mid() + " but core file "
          + weights + " has width " + core.width() + ": they do not belong together");
    }
    if (hh.step() != core.step()) {
      throw new AbyssException("head file " + head + " is at step " + hh.step() + " but core"
          + " file " + weights + " is at step " + core.step() + ": they were not saved"
          + " together; restore a matching pair");
    }
    return new HeadParams(hh.mid(), c.payload());
  }

  /**
   * Flags of a training run; {@code threads} 0: {@link ResidualTrainer#defaultThreads} for the
   * model's shape and storage.
   */
  public record TrainSpec(Path weights, Path head, CoreSpec core, CoreSpec.Defaults defaults,
      boolean initIfMissing, boolean inMemory, long steps, int batch, int chunkLayers,
      boolean chunkGiven, float layerLr, float headLr, int trainLimit, int threads,
      boolean resume, double checkpointSeconds, Path runDir, int diagnosticsEvery,
      long memoryBudget, boolean streamed) {

    /** {@link #memoryBudget} that asks for the planner's default, ResidualTrainer.defaultBudget. */
    public static final long DEFAULT_BUDGET = -1;

    /**
     * {@code inMemory}: the core held in memory (--in-memory); {@code streamed}: streamed from
     * its file (--streamed); neither: in memory if it is small ({@link #holdsInMemory}).
     */
    public TrainSpec {
      if (inMemory && streamed) {
        throw new AbyssException("--in-memory and --streamed contradict each other: give one"
            + " of them, or neither to let abyss choose by the core's size");
      }
    }

    /** As the canonical constructor, streamed unless {@code inMemory} (no automatic choice). */
    public TrainSpec(Path weights, Path head, CoreSpec core, CoreSpec.Defaults defaults,
        boolean initIfMissing, boolean inMemory, long steps, int batch, int chunkLayers,
        boolean chunkGiven, float layerLr, float headLr, int trainLimit, int threads,
        boolean resume, double checkpointSeconds, Path runDir, int diagnosticsEvery,
        long memoryBudget) {
      this(weights, head, core, defaults, initIfMissing, inMemory, steps, batch, chunkLayers,
          chunkGiven, layerLr, headLr, trainLimit, threads, resume, checkpointSeconds, runDir,
          diagnosticsEvery, memoryBudget, !inMemory);
    }

    /**
     * Whether the run holds a core of this header in memory: as asked, or when neither mode was
     * asked for, if its weights take at most {@link #SMALL_CORE_BYTES}.
     */
    public boolean holdsInMemory(CoreHeader h) {
      return inMemory || (!streamed && h.dataBytes() <= SMALL_CORE_BYTES);
    }

    /**
     * Seconds between saves: as given (0: every step), else {@link
     * #DEFAULT_CHECKPOINT_SECONDS}, or only at the end with --in-memory (a small core held in
     * memory without it is saved as often as a streamed one).
     */
    public double checkpointEvery() {
      return checkpointSeconds > 0 ? checkpointSeconds
          : checkpointSeconds == 0 ? 0 : inMemory ? Double.POSITIVE_INFINITY
          : DEFAULT_CHECKPOINT_SECONDS;
    }

    /** As the canonical constructor, with no memory budget (checkpoint and recompute). */
    public TrainSpec(Path weights, Path head, CoreSpec core, CoreSpec.Defaults defaults,
        boolean initIfMissing, boolean inMemory, long steps, int batch, int chunkLayers,
        boolean chunkGiven, float layerLr, float headLr, int trainLimit, int threads,
        boolean resume, double checkpointSeconds, Path runDir, int diagnosticsEvery) {
      this(weights, head, core, defaults, initIfMissing, inMemory, steps, batch, chunkLayers,
          chunkGiven, layerLr, headLr, trainLimit, threads, resume, checkpointSeconds, runDir,
          diagnosticsEvery, 0);
    }

    /** A spec with no run directory and no diagnostics (tests, embedding). */
    public TrainSpec(Path weights, Path head, CoreSpec core, CoreSpec.Defaults defaults,
        boolean initIfMissing, boolean inMemory, long steps, int batch, int chunkLayers,
        boolean chunkGiven, float layerLr, float headLr, int trainLimit, int threads,
        boolean resume, double checkpointSeconds) {
      this(weights, head, core, defaults, initIfMissing, inMemory, steps, batch, chunkLayers,
          chunkGiven, layerLr, headLr, trainLimit, threads, resume, checkpointSeconds, null, 0);
    }

    /** The same run with another step count. */
    public TrainSpec withSteps(long n) {
      return new TrainSpec(weights, head, core, defaults, initIfMissing, inMemory, n, batch,
          chunkLayers, chunkGiven, layerLr, headLr, trainLimit, threads, resume,
          checkpointSeconds, runDir, diagnosticsEvery, memoryBudget, streamed);
    }
  }

  /**
   * Refuses up front a run the disk cannot hold: a new core's file, plus a second copy beside
   * it: streamed, the shadow core that takes the writes between two saves (a step writes every
   * block); in memory, the complete new copy written at each save.
   */
  static void checkSpace(Path weights, CoreHeader h, boolean exists, boolean inMemory)
      throws IOException {
    long extra = h.fileSize();
    long need = (exists ? 0 : h.fileSize()) + extra;
    Path dir = weights.toAbsolutePath().getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new AbyssException("cannot write " + weights + ": directory " + dir
          + " does not exist; create it first");
    }
    long free = Files.getFileStore(dir).getUsableSpace();
    if (free < need + (64L << 20)) {
      String h1 = AtomicFiles.human(need);
      throw new AbyssException("not enough disk space to train " + weights + ": it needs " + h1
          + " (" + (exists ? "" : "the core, " + AtomicFiles.human(h.fileSize()) + ", and ")
          + (inMemory ? "a complete new copy at each save" : "a second copy that takes the"
              + " writes between saves") + ") and " + dir + " has "
          + AtomicFiles.human(free) + " free; free some space or choose a smaller core");
    }
  }

  /** Seconds as a user wrote them: 60, 0.5. */
  private static String fmtSeconds(double s) {
    return s == Math.rint(s) ? Long.toString((long) s) : Double.toString(s);
  }

  /** Depth buckets of the gradient-flow diagnostics. */
  public static final int BUCKETS = 100;

  /**
   * Streamed runs, and small cores held in memory without --in-memory, commit at least this
   * often by default (seconds).
   */
  public static final double DEFAULT_CHECKPOINT_SECONDS = 60;

  /**
   * The largest core (its weights' bytes in the file) that a run given neither --in-memory nor
   * --streamed holds in memory. Streaming such a core spends more on I/O than on compute: the
   * reference's dense check (10,000 layers of width 32, 40 MiB, batch 1) took 44 ms a step
   * streamed and 17-20 in memory (docs/decisions.md, "Small cores in memory"). The bound keeps
   * a default run under the 300 MB that a streamed one stays under at any depth: peak RSS 298
   * MB with a 47.9 MiB core of width 32 at batch 1, 278 MB with a 47 MiB one of width 4 at
   * batch 16, 308 MB with a 63 MiB one.
   */
  public static final long SMALL_CORE_BYTES = 48L << 20;

  /**
   * What a training run did. {@code seconds}: the whole run, from opening the core to the last
   * save (its JIT warm-up and saves included); {@code medianStepSeconds}: the median of its
   * steps' own times (NaN without steps); {@code inMemory}: whether its core was held in
   * memory.
   */
  public record Summary(CoreHeader header, long firstStep, long stepsDone, double seconds,
      boolean created, boolean stopped, Phases phases, boolean inMemory,
      double medianStepSeconds) {

    /** The steps' own time, their sum (0 without steps). */
    public double stepSeconds() {
      return phases == null ? 0 : phases.stepSeconds();
    }
  }

  /** The median of {@code v[0 .. n)} (NaN for none); sorts that range. */
  public static double median(double[] v, int n) {
    if (n == 0) {
      return Double.NaN;
    }
    java.util.Arrays.sort(v, 0, n);
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  /**
   * Trains {@code steps} more steps from the files (initialising them when missing and
   * allowed), then saves core and head.
   */
  public static Summary train(TrainSpec s, java.util.function.Supplier<Dataset> data, Kernels k,
      TrainListener l) throws IOException {
    try (StopSignal stop = StopSignal.install()) {
      return train(s, data, k, l, stop);
    }
  }

  /**
   * As {@link #train(TrainSpec, java.util.function.Supplier, Kernels, TrainListener)},
   * stopping cleanly after the step in progress when {@code stop} is requested. Refused while
   * another process trains or creates the same model ({@link ModelLock}), whose lock it holds
   * from before its recovery to after its last commit.
   */
  public static Summary train(TrainSpec s, java.util.function.Supplier<Dataset> data, Kernels k,
      TrainListener l, StopSignal stop) throws IOException {
    Validate.training(s.steps(), s.batch(), s.chunkLayers(), s.layerLr(), s.headLr(),
        s.trainLimit());
    if (s.threads() != 0) {
      Validate.positive("threads", s.threads());
      ResidualTrainer.checkThreads(s.threads());
    }
    try (ModelLock lock = ModelLock.forWriting(s.weights(), "train")) {
      return trainLocked(s, data, k, l, stop);
    }
  }

  private static Summary trainLocked(TrainSpec s, java.util.function.Supplier<Dataset> data,
      Kernels k, TrainListener l, StopSignal stop) throws IOException {
    if (Files.exists(s.weights())) {
      report(Journal.recover(s.weights(), s.head()), s.weights(), l);
    }
    boolean haveW = Files.exists(s.weights());
    boolean haveH = Files.exists(s.head());
    boolean created = false;
    // every check that can fail comes before anything is created or changed
    CoreHeader existing = haveW ? CoreFile.readHeader(s.weights()) : null;
    if (existing != null) {
      s.core().check(s.weights(), existing);
    }
    CoreHeader planned = existing != null ? existing : s.core().newHeader(s.defaults());
    long layers = planned.layers();
    boolean inMemory = s.holdsInMemory(planned);
    if (inMemory && !s.inMemory()) {
      double every = s.checkpointEvery();
      l.info("the core (" + AtomicFiles.human(planned.dataBytes()) + ", at most "
          + AtomicFiles.human(SMALL_CORE_BYTES) + ") is held in memory and saved "
          + (every == 0 ? "after every step" : "at least every " + fmtSeconds(every) + " s")
          + "; --streamed streams it instead");
    }
    checkSpace(s.weights(), planned, existing != null, inMemory);
    long activations = ResidualTrainer.activationBytes(layers, planned.width(), s.batch());
    boolean budgetGiven = s.memoryBudget() >= 0;
    // the default plan depends on the thread count, known once the data has loaded
    long budget = s.memoryBudget();
    if (budgetGiven && activations <= budget) {
      ResidualTrainer.checkHeap(activations);
    }
    if (s.chunkGiven() && s.chunkLayers() > layers) {
      throw new AbyssException("--chunk-layers " + s.chunkLayers() + " is larger than the core's "
          + layers + " layers: use at most " + layers);
    }
    // the JIT compiles the step's kernels on the other core while the data loads, unless the
    // run is over sooner than a warm-up would be
    int batch = s.batch();
    Thread warm = !warmsUp(layers * (double) s.steps(), KERNEL_WARM_UP_LAYER_STEPS) ? null
        : startWarmUp(() -> {
          k.warmUp(planned.width(), batch, planned.activation());
          if (planned.dtype() == Dtype.BF16) {
            Bf16.warmUp();
          }
        });
    Dataset train = data.get();
    if (s.trainLimit() > train.count()) {
      throw new AbyssException("--train-limit " + s.trainLimit() + " exceeds the "
          + train.count() + " training images");
    }
    if (s.resume()) {
      if (!haveW || !haveH) {
        throw new AbyssException("--resume: " + s.weights() + " or " + s.head() + " does not"
            + " exist; there is no run to resume");
      }
      long target = RunFile.target(s.weights());
      long now = CoreFile.readHeader(s.weights()).step();
      if (target < 0) {
        l.info("nothing to resume: no unfinished run is recorded for " + s.weights()
            + " (the model is at step " + now + ")");
        target = now;
      } else {
        l.info("resuming: the model is at step " + now + ", the run was started to reach step "
            + target);
      }
      s = s.withSteps(Math.max(0, target - now));
    } else {
      // recorded before anything is created or changed, so that a run killed at any point
      // can be resumed
      RunFile.write(s.weights(), (haveW ? CoreFile.readHeader(s.weights()).step() : 0)
          + s.steps());
    }
    if (!haveW || !haveH) {
      if (haveW != haveH) {
        Path has = haveW ? s.weights() : s.head();
        Path lacks = haveW ? s.head() : s.weights();
        throw new AbyssException(has + " exists but " + lacks + " does not: a core and its head"
            + " belong together; restore " + lacks + " or remove " + has + " to start afresh");
      }
      if (!s.initIfMissing()) {
        throw new AbyssException(s.weights() + " does not exist: create it with init /"
            + " init-dense, or allow training to create it (--init-if-missing)");
      }
      CoreHeader h = create(s.weights(), s.head(), s.core(), s.defaults(), false, null);
      l.info("initialised a new model: " + h.layers() + " layers, width " + h.width() + ", "
          + h.activation().cliName() + ", alpha " + h.alpha() + " -> " + s.weights() + ", "
          + s.head());
      created = true;
    }
    CoreHeader hd = CoreFile.readHeader(s.weights());
    s.core().check(s.weights(), hd);
    HeadParams head = loadHead(s.head(), s.weights(), hd);
    long t0 = System.nanoTime();
    long done = 0;
    Phases phases = null;
    double[] stepTimes = new double[(int) Math.min(s.steps(), 1024)];
    double every = s.checkpointEvery();
    boolean whole = true; // false once a step fails after it may have updated something
    try (CoreWeights core = inMemory
        ? CoreFile.openInMemory(s.weights()) : CoreFile.openStreamed(s.weights(), true)) {
      long first = core.header().step();
      long committed = first;
      long lastCommit = System.nanoTime();
      MetricsLog metrics = null;
      join(warm);
      int threads = s.threads() > 0 ? s.threads()
          : ResidualTrainer.defaultThreads(ResidualTrainer.helperFree(inMemory, hd.dtype()), k,
              hd.width(), s.batch(), hd.activation());
      int cores = Runtime.getRuntime().availableProcessors();
      if (threads > cores) {
        // they take turns: a thread waiting for its core holds up every turn after its own
        // (8 threads on 2 cores: 1.5x the step of 2, w4 b16 at 1M layers)
        l.info("--threads " + threads + " is more than the " + cores + " cores here: the"
            + " threads wait for one another; --threads " + cores + " or fewer is faster");
      }
      if (!budgetGiven) {
        budget = ResidualTrainer.defaultBudget(k, hd.width(), s.batch(), hd.activation(),
            inMemory, threads);
        if (activations <= budget && !ResidualTrainer.heapHolds(activations)) {
          budget = 0; // the default plan falls back to the recompute
        }
      }
      if (warmsUp(hd.layers() * (double) s.steps(), TRAINER_WARM_UP_LAYER_STEPS)) {
        // two threads leave no core for the JIT: compile the step's own methods first, on a
        // core of the run's kind
        try {
          ResidualTrainer.warmUp(hd.width(), hd.activation(), s.batch(), threads, k, train,
              hd.dtype(), activations <= budget, !inMemory);
        } catch (IOException | RuntimeException e) {
          // best effort (a full temp dir, say): the run compiles them itself, only its first
          // steps are slower
          java.util.logging.Logger.getLogger(ResidualRun.class.getName())
              .fine("step warm-up failed: " + e);
        }
      }
      try (ResidualTrainer tr = new ResidualTrainer(core, head, k, train, s.batch(),
          s.chunkLayers(), s.layerLr(), s.headLr(), s.trainLimit(), threads,
          budget)) {
        if (budgetGiven && budget > 0) {
          l.info(tr.keepsActivations()
              ? "memory plan: all activations kept (" + AtomicFiles.human(tr.activationBytes())
                  + ", within --memory-budget " + AtomicFiles.human(budget) + "), no recompute"
              : "memory plan: a checkpoint every " + tr.plan().segment() + " layers and a"
                  + " recompute (all activations would take "
                  + AtomicFiles.human(tr.activationBytes()) + ", over --memory-budget "
                  + AtomicFiles.human(budget) + ")");
        } else if (tr.keepsActivations()) {
          l.info("memory plan: all activations kept (" + AtomicFiles.human(tr.activationBytes())
              + "), no recompute: faster for this shape"
              + (tr.threads() > 1 ? " (" + tr.threads() + " threads take the segments in turns)"
                  : "") + "; --memory-budget 0 recomputes");
        }
        tr.setProgressListener(l);
        if (s.runDir() != null) {
          Map<String, Object> cfg = new LinkedHashMap<>();
          cfg.put("weights", s.weights().toString());
          cfg.put("head", s.head().toString());
          cfg.put("model", core.header());
          cfg.put("firstStep", first);
          cfg.put("steps", s.steps());
          cfg.put("batch", s.batch());
          cfg.put("layerLr", s.layerLr());
          cfg.put("headLr", s.headLr());
          cfg.put("trainLimit", s.trainLimit());
          cfg.put("threads", threads);
          cfg.put("inMemory", inMemory);
          cfg.put("plan", tr.plan());
          cfg.put("activationsKept", tr.keepsActivations());
          metrics = new MetricsLog(s.runDir(), cfg, hd.layers(), s.layerLr(), s.headLr());
          l.info("run directory: " + s.runDir() + " (manifest.json, metrics.jsonl; abyss report"
              + " " + s.runDir() + ")");
        }
        l.onStart(s.steps());
        for (long i = 0; i < s.steps() && !stop.requested(); i++) {
          boolean diag = s.diagnosticsEvery() > 0
              && (i == 0 || (i + 1) % s.diagnosticsEvery() == 0 || i + 1 == s.steps());
          StepResult r;
          try {
            r = tr.step(first + i, diag ? BUCKETS : 0);
          } catch (DivergedException e) {
            throw e; // found before any update: the steps before it are whole, and saved
          } catch (IOException | RuntimeException | Error e) {
            // the step may have updated part of the core and the head: saving now would
            // label that mix a step; the files stay at the last save
            whole = false;
            l.info("step " + (first + i) + " failed part-way; the model stays at step "
                + committed + ", its last save");
            throw e;
          }
          if (done == stepTimes.length) {
            stepTimes = java.util.Arrays.copyOf(stepTimes, Math.max(16, 2 * stepTimes.length));
          }
          stepTimes[(int) done] = r.seconds();
          done++;
          phases = phases == null ? r.phases() : phases.plus(r.phases());
          l.onStep(r);
          if (metrics != null) {
            metrics.onStep(r);
          }
          if ((System.nanoTime() - lastCommit) / 1e9 >= every && i + 1 < s.steps()) {
            commit(core, s.head(), first + done, head);
            committed = first + done;
            lastCommit = System.nanoTime();
          }
        }
      } finally {
        if (whole && first + done > committed) {
          commit(core, s.head(), first + done, head);
        }
        if (metrics != null) {
          metrics.close();
        }
      }
      if (done == s.steps()) {
        RunFile.delete(s.weights());
      }
      return new Summary(core.header(), first, done, (System.nanoTime() - t0) / 1e9, created,
          done < s.steps(), phases, inMemory, median(stepTimes, (int) done));
    } catch (IOException | RuntimeException | Error e) {
      if (!whole && !inMemory) {
        // a streamed step wrote to the shadow core: remove it now, as the next run would
        try {
          Journal.recover(s.weights(), s.head());
        } catch (IOException | RuntimeException r) {
          e.addSuppressed(r);
        }
      }
      throw e;
    }
  }

  private static void commit(CoreWeights core, Path head, long step, HeadParams hp)
      throws IOException {
    core.commit(step, head, HeadFile.encode(headHeader(core.header(), step), hp.p));
  }

  private static void report(Journal.Outcome o, Path weights, TrainListener l)
      throws IOException {
    switch (o) {
      case ROLLED_BACK -> l.info("recovered " + weights + ": undid an interrupted step; the"
          + " model is at step " + CoreFile.readHeader(weights).step());
      case ROLLED_FORWARD -> l.info("recovered " + weights + ": completed an interrupted save;"
          + " the model is at step " + CoreFile.readHeader(weights).step());
      case NOTHING -> { }
    }
  }

  /**
   * Layers times steps below which a run skips {@link ResidualTrainer#warmUp} (about a second
   * of w4 b16 steps): a shorter run would spend longer warming than its slow first steps take.
   */
  static final double TRAINER_WARM_UP_LAYER_STEPS = 1e7;

  /**
   * Layers times steps below which a run skips the kernel warm-up: such a run takes a fraction
   * of a second even while the JIT compiles, and the warm-up takes 1-3 s (up to its 15 s limit
   * when the machine is busy: in one CI run a test class of sixteen 300-layer runs took 240 s
   * instead of 3-9, 15 s a run, as if every warm-up ran to that limit).
   */
  static final double KERNEL_WARM_UP_LAYER_STEPS = 1e6;

  /**
   * Whether a run of {@code layerSteps} (layers times steps) warms the JIT up first: from
   * {@code threshold} on, unless the JVM runs with {@code -Dabyss.warmUp=false}. That switch is
   * for measurement: the warm-up's short calls shape what C2 compiles, and twice that code ran
   * slower than without them (docs/decisions.md, "The 256-bit updates write their gradients
   * always"); a run without the warm-up shows whether a kernel still does.
   */
  static boolean warmsUp(double layerSteps, double threshold) {
    return layerSteps >= threshold
        && !"false".equals(System.getProperty("abyss.warmUp", "true"));
  }

  /** Runs a kernel warm-up on a daemon thread (best effort). */
  static Thread startWarmUp(Runnable warmUp) {
    return Thread.ofPlatform().daemon().name("abyss-warm-up").start(() -> {
      try {
        warmUp.run();
      } catch (RuntimeException e) {
        // best effort: the run compiles the kernels itself, only its start is slower
        java.util.logging.Logger.getLogger(ResidualRun.class.getName())
            .fine("kernel warm-up failed: " + e);
      }
    });
  }

  static void join(Thread warm) {
    if (warm == null) {
      return;
    }
    try {
      warm.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AbyssException("interrupted");
    }
  }

  /** Evaluates the model on the first {@code samples} images of {@code test}. */
  public static EvalResult eval(Path weights, Path head, CoreSpec spec, boolean inMemory,
      int samples, int batch, int chunkLayers, java.util.function.Supplier<Dataset> data,
      Kernels k, LongConsumer progress) throws IOException {
    Validate.positive("batch", batch);
    Validate.positive("chunk-layers", chunkLayers);
    Validate.positive("samples", samples);
    boolean training = recoverUnlessInUse(weights, head, "evaluate");
    CoreHeader hd = CoreFile.readHeader(weights);
    HeadParams hp = null;
    for (int attempt = 1; hp == null; attempt++) {
      try {
        hp = loadHead(head, weights, hd);
      } catch (AbyssException e) {
        retryOrThrow(e, training, attempt);
        hd = CoreFile.readHeader(weights);
      }
    }
    spec.check(weights, hd);
    CoreHeader shape = hd;
    // the JIT compiles the eval kernel on the other core while the data loads
    Thread warm = startWarmUp(() -> {
      if (ResidualEvaluator.worthWarming(samples, shape.layers(), chunkLayers)) {
        ResidualEvaluator.warmUp(k, shape.width(), shape.activation(), samples, batch);
        if (shape.dtype() == Dtype.BF16) {
          Bf16.warmUpScalar(); // eval widens each layer once
        }
      }
    });
    Dataset test = data.get();
    if (samples > test.count()) {
      throw new AbyssException("--samples " + samples + " exceeds the " + test.count()
          + " test images");
    }
    for (int attempt = 1; ; attempt++) {
      try (CoreWeights core = inMemory
          ? CoreFile.openInMemory(weights) : CoreFile.openStreamed(weights, false)) {
        if (core.header().step() != hd.step()) {
          // a training beside this eval committed since the head was read: its new head, once
          // renamed into place; or, if it committed again before the core was opened, the
          // core once more (the open file stays the commit it was)
          try {
            hp = loadHead(head, weights, core.header());
            hd = core.header();
          } catch (AbyssException e) {
            retryOrThrow(e, training, attempt);
            continue;
          }
        }
        join(warm);
        return ResidualEvaluator.evaluate(core, hp, k, test, samples, batch, chunkLayers,
            progress);
      }
    }
  }

  /**
   * Writes the model as the reference program's headerless files: the core's layers to {@code
   * rawWeights}, the head's parameters to {@code rawHead}, each atomically. Like {@link #eval},
   * it recovers a cut run first unless another process trains the model, and beside a training
   * it exports the last commit: the core as one open file, and the head saved with it.
   */
  public static void exportRaw(Path weights, Path head, CoreSpec spec, Path rawWeights,
      Path rawHead) throws IOException {
    boolean training = recoverUnlessInUse(weights, head, "export");
    for (int attempt = 1; ; attempt++) {
      try (CoreWeights core = CoreFile.openStreamed(weights, false)) {
        spec.check(weights, core.header());
        HeadParams hp;
        try {
          hp = loadHead(head, weights, core.header());
        } catch (AbyssException e) {
          // a commit between the core's open and the head's read: both again
          retryOrThrow(e, training, attempt);
          continue;
        }
        RawFormat.exportCore(core, rawWeights);
        RawFormat.writeHead(rawHead, hp.p);
        return;
      }
    }
  }

  /**
   * Recovers a cut run of the model (a stale shadow core, a pending head) unless another abyss
   * process holds it; returns whether one does. Beside a training the shadow core is that
   * training's, not a cut run's, and the committed files are never written in place, so a
   * reader takes the last commit as it is. {@code what} names the reader's job ("evaluate").
   */
  private static boolean recoverUnlessInUse(Path weights, Path head, String what)
      throws IOException {
    ModelLock lock = ModelLock.tryLock(weights);
    if (lock != null) {
      try (lock) {
        if (Files.exists(weights)) {
          Journal.recover(weights, head);
        }
      }
      return false;
    }
    if (!Files.exists(weights) || !Files.exists(head)) {
      throw new AbyssException("cannot " + what + " " + weights + ": another abyss process is"
          + " creating it; wait for it to finish and run this again");
    }
    return true;
  }

  /**
   * Waits a tenth of a second before another try at a core and head that did not match, for
   * up to a second while another process trains the model (its commit renames the core, then
   * the head, and a read between the two finds them a step apart); else rethrows.
   */
  private static void retryOrThrow(AbyssException e, boolean training, int attempt) {
    if (!training || attempt >= 10) {
      throw e;
    }
    try {
      Thread.sleep(100);
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw e;
    }
  }
}
