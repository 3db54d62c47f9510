package dev.abyss.train;

import dev.abyss.AbyssException;
import dev.abyss.data.BatchOrder;
import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.JitQuiet;
import dev.abyss.kernel.Kernels;
import dev.abyss.nn.HeadParams;
import dev.abyss.nn.ResidualHead;
import dev.abyss.nn.SoftmaxCrossEntropy;
import dev.abyss.store.AtomicFiles;
import dev.abyss.store.Bf16;
import dev.abyss.store.CoreFile;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.CoreWeights;
import dev.abyss.store.Dtype;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Exact chunk-checkpointed SGD over the residual net (DESIGN §2), with two levels of
 * chunking.
 *
 * <p><b>I/O chunks</b> ({@code --chunk-layers}, C) are the units the core is loaded and
 * written back in. <b>Segments</b> (S layers, S &lt;= C, chosen by {@link #plan}) are the
 * checkpoint interval: the forward pass keeps h at the start of every segment, and the
 * backward recomputes one segment at a time, so the per-layer values it saves (S x W x B
 * floats, twice) stay in the L2 cache.
 *
 * <p>One step: (1) forward over the core, keeping h at each segment start; (2) classifier:
 * logits, loss, dh_L with the classifier as it was, then update it; (3) I/O chunks in
 * reverse, and within each its segments in reverse: recompute the segment's forward from its
 * checkpoint saving each layer's input and act'(z), then walk its layers in reverse computing
 * gW, gb and dh with the layer's weights as they were, update the layer; write the chunk
 * back; (4) input projection gradients from dh_0, then update it.
 *
 * <p>With T threads the main thread and T - 1 workers take a chunk's segments in turns: each
 * recomputes its next segment while another runs the backward of the segment above it (they
 * touch disjoint layers), and only dh passes between them. Every parameter gets the true
 * gradient of the minibatch loss, and the bits do not depend on C, S, the thread count or
 * where the weights live: the same kernels run in the same order on the same values.
 */
public final class ResidualTrainer implements AutoCloseable {
  /** Target size of one segment's saved values (h and act'(z)): a share of L2. */
  static final long SEGMENT_SAVE_BYTES = 256 * 1024;
  /** Default cap on the memory for segment checkpoints. */
  public static final long DEFAULT_CHECKPOINT_BYTES = 32L << 20;
  /** The default memory budget of a streamed run, which must stay small at any depth. */
  public static final long STREAMED_DEFAULT_BUDGET = 64L << 20;

  /**
   * The memory planner's default budget for keeping every layer's activations: 0 where the
   * kernels run this shape faster with checkpoints and recompute ({@link
   * Kernels#prefersRecompute}); otherwise a quarter of the Java heap in memory, and {@link
   * #STREAMED_DEFAULT_BUDGET} when streamed (whose memory is bounded at any depth).
   */
  public static long defaultBudget(Kernels k, int width, int batch, Activation act,
      boolean inMemory) {
    return defaultBudget(k, width, batch, act, inMemory, 1);
  }

  /**
   * {@link #defaultBudget(Kernels, int, int, Activation, boolean)} for a step on {@code
   * threads} threads ({@link Kernels#prefersRecompute(int, int, Activation, int)}).
   */
  public static long defaultBudget(Kernels k, int width, int batch, Activation act,
      boolean inMemory, int threads) {
    if (k.prefersRecompute(width, batch, act, threads)) {
      return 0;
    }
    return inMemory ? Runtime.getRuntime().maxMemory() / 4 : STREAMED_DEFAULT_BUDGET;
  }

  private final CoreWeights core;
  private final HeadParams head;
  private final Kernels k;
  /**
   * A worker thread of a multi-threaded step: its executor, and its kernels and scratch,
   * allocated on the worker thread itself (see {@link #forkWorker}).
   */
  private static final class Worker {
    final ExecutorService ex;
    Kernels k;
    float[] h;
    /** The second segment's h of a pair recompute ({@link #prepare}). */
    float[] h2;
    float[] z;
    float[] g;
    float[] gW;
    float[] gb;
    /** This step's time in each of {@link Phases#NAMES}, ns. */
    final long[] phaseNs = new long[Phases.NAMES.length];

    Worker(ExecutorService ex) {
      this.ex = ex;
    }
  }
  private final Dataset train;
  private final BatchOrder order;
  private final int w;
  private final int batch;
  private final int chunk;
  private final int seg;
  private final long layers;
  private final float alpha;
  private final Activation act;
  private final float layerLr;
  private final float headLr;
  private final int nChunks;
  /** First layer of every segment, ascending: {@link #nSegs} of them this step. */
  private final long[] segStart;
  private int nSegs;
  /**
   * Whether the segments' lengths follow {@link #share} (two threads in turns, recomputing);
   * else every segment but a chunk's lowest has {@link #seg} layers.
   */
  private final boolean balanced;
  /**
   * The main thread's share of each two segments' layers, the worker's the rest, fitted step
   * by step to the two threads' speeds ({@link #balance}).
   */
  private double share = 0.5;
  /** Whether {@link #share} stays as a test set it ({@link #fixShare}). */
  private boolean shareFixed;
  /** The main thread's segment length that {@link #segStart} holds now (0: none yet). */
  private int laidOut;
  /** The longest segment: {@link #seg}, or more where the shares change the lengths. */
  private final int maxSeg;
  /** The workers besides the calling thread: threads - 1 of them (none with one thread). */
  private final Worker[] workers;
  /**
   * A segment's weights and saves at most when threads take turns: 512 KB, half of this
   * machine's L2 (w32 b1: 117 layers, measured with 63-1024; w4 and w8 at batch 16 keep their
   * 512 and 256 layers; docs/decisions.md).
   */
  static final long TURN_SEGMENT_BYTES = 512 * 1024;
  /** Threads taking turns, else 0 (the plan's segments follow). */
  private final int turnThreads;
  /** Whether the two threads split the forward pass by samples ({@link #inHalves}). */
  private final boolean splitForward;
  private GradientTap tap;
  /**
   * The two threads' hand-off: at index {@link #TURN}, the segment of the current chunk (0 =
   * its top one) whose dh chain may run next; at {@link #TAP_TURN}, the segment whose
   * gradients the diagnostics' tap takes next. Each 128 bytes from the other and from either
   * end, so that it shares a cache line with nothing else.
   */
  private final AtomicLongArray handoff = new AtomicLongArray(64);
  private static final int TURN = 16;
  private static final int TAP_TURN = 40;
  /** The forward's last finished segment, for {@link #touchAhead}; {@link #STOP} ends it. */
  private static final int FORWARD = 28;
  private static final long STOP = Long.MAX_VALUE;
  /** Segments {@link #touchAhead} reads ahead of the forward at most. */
  private static final int TOUCH_AHEAD = 2;
  private static final long ABORT = -1;
  /** Spins of a thread waiting for its turn before it yields its core at each try. */
  private static final int SPINS_BEFORE_YIELD = 256;

  /** This step's time in each of {@link Phases#NAMES} on the calling thread, ns. */
  private final long[] phaseNs = new long[Phases.NAMES.length];

  private final boolean keepAll;
  /**
   * Whether each thread recomputes its next two segments in one call ({@link
   * Kernels#recomputesInPairs}), into its two save buffers: r and r + threads.
   */
  private final boolean pairs;
  /** The main thread's h for the second segment of a pair. */
  private final float[] h2;
  private final long activationBytes;
  private final int[] idx;
  private final float[] x;
  private final float[] h;
  private final float[] z;
  private final float[] dh;
  private final float[] ckpt;
  private final float[][] hSave;
  private final float[][] dSave;
  private final float[] gW;
  private final float[] gb;
  private final float[] g;
  private final float[] h0;
  private final float[] acc;
  private final float[] logits;
  private final float[] dl;
  private final int[] labels;
  private final HeadParams grad;

  /**
   * How the core is cut: I/O chunk C and segment S; {@code saveBytes}: one segment's saved
   * values (each training thread has a buffer of that size).
   */
  public record Plan(int chunk, int segment, long segments, long checkpointBytes,
      long saveBytes) {}

  /**
   * Chooses the segment size: about {@link #SEGMENT_SAVE_BYTES} of saved values, grown when
   * the checkpoints (one h per segment) would exceed {@code checkpointBudget}; never more
   * than the I/O chunk.
   */
  public static Plan plan(long layers, int width, int batch, int chunkLayers,
      long checkpointBudget) {
    return plan(layers, width, batch, chunkLayers, checkpointBudget, 0);
  }

  /**
   * {@link #plan(long, int, int, int, long)} for {@code turnThreads} threads taking turns
   * ({@link #inTurns}; 0 or 1: not so): segments of at most {@link #TURN_SEGMENT_BYTES} of
   * weights and saves, so that a segment's updates find its weights in the cache where its dh
   * chain (or its recompute) left them, and at least two for each thread in a chunk (the turns
   * overlap only within a chunk). Unless the checkpoints need them longer.
   */
  static Plan plan(long layers, int width, int batch, int chunkLayers, long checkpointBudget,
      int turnThreads) {
    int c = (int) Math.min(chunkLayers, layers);
    long wb = (long) width * batch;
    long s = savedSegment(width, batch);
    if (turnThreads > 1) {
      long perLayer = Kernels.layerBytes(width) + 8 * wb;
      s = Math.max(1, Math.min(Math.min(s, TURN_SEGMENT_BYTES / perLayer),
          (c + 2L * turnThreads - 1) / (2L * turnThreads)));
    }
    long needed = (layers * wb * 4 + checkpointBudget - 1) / checkpointBudget;
    s = Math.min(c, Math.max(s, needed));
    long segsPerChunk = (c + s - 1) / s;
    long full = layers / c;
    long rest = layers % c;
    long segments = full * segsPerChunk + (rest + s - 1) / s;
    return new Plan(c, (int) s, segments, segments * wb * 4, 2 * s * wb * 4);
  }

  /**
   * @param chunkLayers layers per I/O chunk (C)
   * @param trainLimit minibatches are drawn from the first trainLimit training images
   * @param threads 1: everything on the calling thread; T >= 2: the main thread and T - 1
   *     workers take the segments in turns, their recomputes and updates overlapping the dh
   *     chain of the thread whose turn it is ({@link #inTurns}), and the main thread and the
   *     first worker split the forward pass by samples where the kernels run halves faster
   *     ({@link Kernels#forwardSplitPays})
   */
  public ResidualTrainer(CoreWeights core, HeadParams head, Kernels kernels, Dataset train,
      int batch, int chunkLayers, float layerLr, float headLr, int trainLimit, int threads) {
    this(core, head, kernels, train, batch, chunkLayers, layerLr, headLr, trainLimit, threads,
        0);
  }

  /**
   * @param memoryBudget bytes the step may use to keep every layer's saved input and act'(z)
   *     from the forward pass; when they fit, the backward needs no recompute (the memory
   *     planner). Results are bit-identical either way. 0: always checkpoint and recompute.
   *     {@code train}'s default is {@link #defaultBudget}.
   */
  public ResidualTrainer(CoreWeights core, HeadParams head, Kernels kernels, Dataset train,
      int batch, int chunkLayers, float layerLr, float headLr, int trainLimit, int threads,
      long memoryBudget) {
    CoreHeader hd = core.header();
    this.core = core;
    this.head = head;
    this.k = kernels;
    this.train = train;
    this.w = hd.width();
    this.batch = batch;
    this.layers = hd.layers();
    this.alpha = hd.alpha();
    this.act = hd.activation();
    this.layerLr = layerLr;
    this.headLr = headLr;
    this.order = new BatchOrder(hd.dataSeed(), trainLimit);
    this.activationBytes = activationBytes(layers, w, batch);
    this.keepAll = activationBytes <= memoryBudget;
    this.pairs = !keepAll && kernels.recomputesInPairs(w, batch, act);
    // kept activations: the threads' turns overlap one's updates with the next one's dh chain,
    // where the kernels split the two (else there is nothing to overlap)
    boolean turns = !keepAll || kernels.handsOffBeforeUpdates(w, batch);
    this.turnThreads = threads > 1 && turns ? threads : 0;
    Plan p = plan(layers, w, batch, chunkLayers, DEFAULT_CHECKPOINT_BYTES, turnThreads);
    this.chunk = p.chunk();
    this.seg = p.segment();
    long wb = (long) w * batch;
    if (p.segments() * wb > Integer.MAX_VALUE - 8 || (long) seg * wb > Integer.MAX_VALUE - 8) {
      throw new AbyssException("the core does not fit this step's arrays (" + p.segments()
          + " checkpoints of " + wb + " floats); use a smaller --batch or a larger"
          + " --chunk-layers");
    }
    this.nChunks = (int) ((layers + chunk - 1) / chunk);
    // two threads in turns: where one runs slower than the other (a VM's vCPUs often do, by
    // 10-25% for a whole run), the faster one takes longer segments, so that neither waits
    // for the other's turns (docs/decisions.md, "Segments fitted to the threads' speeds");
    // -Dabyss.balance=false keeps one length, for measurement
    this.balanced = turnThreads == 2 && !keepAll && seg >= 16
        && 2 * p.segments() * wb < Integer.MAX_VALUE - 8 && 2L * seg * wb < Integer.MAX_VALUE - 8
        && !"false".equals(System.getProperty("abyss.balance", "true"));
    this.maxSeg = balanced ? (int) Math.ceil(seg * (2 * MAX_SHARE)) : seg;
    if (balanced) {
      int minSeg = 2 * seg - maxSeg;
      long most = 0;
      for (long c = 0; c < layers; c += chunk) {
        most += (Math.min(layers, c + chunk) - c + minSeg - 1) / minSeg + 1;
      }
      this.segStart = new long[(int) most];
      layOut();
    } else {
      this.segStart = new long[(int) p.segments()];
      int q = 0;
      for (long c = 0; c < layers; c += chunk) {
        long end = Math.min(layers, c + chunk);
        for (long s = c; s < end; s += seg) {
          segStart[q++] = s;
        }
      }
      nSegs = q;
    }
    int n = (int) wb;
    idx = new int[batch];
    labels = new int[batch];
    x = new float[batch * HeadParams.INPUTS];
    h = new float[n];
    h2 = new float[n];
    z = new float[n];
    dh = new float[n];
    g = new float[n];
    h0 = new float[n];
    ckpt = new float[segStart.length * n];
    if (keepAll) {
      checkHeap(activationBytes);
      // one save buffer per segment, filled by the forward pass
      hSave = new float[segStart.length][];
      dSave = new float[segStart.length][];
      for (int j = 0; j < segStart.length; j++) {
        long chunkEnd = Math.min(layers, (segStart[j] / chunk + 1) * chunk);
        hSave[j] = new float[segLen(j, chunkEnd) * n];
        dSave[j] = new float[segLen(j, chunkEnd) * n];
      }
    } else {
      // one save buffer for each thread, two where a thread recomputes two segments at once
      int bufs = pairs ? 2 * threads : threads;
      hSave = new float[bufs][maxSeg * n];
      dSave = new float[bufs][maxSeg * n];
    }
    gW = new float[w * w];
    gb = new float[w];
    acc = new float[w];
    logits = new float[batch * HeadParams.CLASSES];
    dl = new float[batch * HeadParams.CLASSES];
    grad = head.zerosLike();
    this.splitForward = threads > 1 && !keepAll && kernels.forwardSplitPays(w, batch, act);
    this.workers = new Worker[threads > 1 && turns ? threads - 1 : 0];
    for (int r = 0; r < workers.length; r++) {
      String name = "abyss-recompute-" + (r + 1);
      workers[r] = new Worker(Executors.newSingleThreadExecutor(run -> {
        Thread t = new Thread(run, name);
        t.setDaemon(true);
        return t;
      }));
    }
    this.tapGrads = new float[workers.length + 1][0];
    // start the workers and their scratch now, not in the first step
    for (Worker wk : workers) {
      wk.ex.submit(() -> forkWorker(wk));
    }
  }

  /** The most training threads by default: measured up to eight (docs/decisions.md). */
  public static final int MAX_DEFAULT_THREADS = 8;

  /**
   * The most training threads a step takes: each has a save buffer (256 KB at w4 b16) and a
   * core to spin on, and past the cores they only wait for one another.
   */
  public static final int MAX_THREADS = 64;

  /** Refuses a thread count above {@link #MAX_THREADS}, with the fix. */
  public static void checkThreads(int threads) {
    if (threads > MAX_THREADS) {
      throw new AbyssException("--threads " + threads + " is more than a step can use: give"
          + " at most " + MAX_THREADS + " (one a core is the most that helps; the default"
          + " takes one a core, up to " + MAX_DEFAULT_THREADS + ")");
    }
  }

  /**
   * Whether a core's storage leaves every core to the training threads ({@link
   * #defaultThreads}): in memory, and f32, or bf16 converted by the vector code (warmed up:
   * {@link Bf16#vectorInUse}; about 1 ns a parameter a step on the helper thread, against 5 for
   * the scalar loops).
   */
  public static boolean helperFree(boolean inMemory, Dtype dtype) {
    return inMemory && (dtype == Dtype.F32 || Bf16.vectorInUse());
  }

  /**
   * Train's default thread count: one for each core, up to {@link #MAX_DEFAULT_THREADS}, for
   * the shapes whose kernels hand off before the updates ({@link
   * Kernels#handsOffBeforeUpdates}: the chunk kernels of widths 4 and 8 at batch 16, 32, ...,
   * wide layers of one sample, the generic layers of a batch); one otherwise. There the
   * backward's updates (and the recompute, where the plan checkpoints) overlap the dh chain of
   * the thread whose turn it is; in memory on two cores two threads took 0.61-0.84x the time
   * of one (w4 b16, w4 b32, w8 b16, w8 b32, ReLU w4 b16, recomputing), and on an Emerald
   * Rapids Xeon four and eight threads on as many cores 0.72-0.76x and 0.56-0.61x the time of
   * two (w4 b16, 1M layers, two rounds in turns; docs/decisions.md); with every activation
   * kept 0.63-0.86x (w32 b1, w64 b1, w16 b16, w32 b16, tanh w4 b16 and w8 b16; w2 b16 and w3
   * b16 0.78 and 0.91; docs/decisions.md). A streamed core's reads and writes run on a
   * thread of their own, which needs a core too: on two cores, two training threads and the
   * I/O thread ran a streamed step 1.1-1.4x slower than one training thread (at 512 bits; at
   * 256 bits, width 4, the step is slow enough that two training threads beside the I/O thread
   * are faster: {@link Kernels#helperSharesCores}). A bf16 core in
   * memory is widened and rounded on a helper thread as well: with the scalar conversions it
   * counts as streamed here (two threads: 0.156-0.194 s/step at 1M against 0.132-0.146), with
   * the vector ones the helper's work is a fifth and two threads are faster (0.116-0.117 against
   * 0.139-0.143; {@link #helperFree}).
   *
   * @param inMemory a core that needs no helper core ({@link #helperFree})
   */
  public static int defaultThreads(boolean inMemory, Kernels k, int width, int batch,
      Activation act) {
    if (!k.handsOffBeforeUpdates(width, batch)) {
      return 1;
    }
    int cores = Runtime.getRuntime().availableProcessors();
    boolean everyCore = inMemory || k.helperSharesCores(width, batch);
    return Math.max(1, Math.min(MAX_DEFAULT_THREADS, everyCore ? cores : cores - 1));
  }

  /** Layers of each chunk of {@link #warmUp}'s scratch core at least; three chunks. */
  private static final int WARM_CHUNK = 2048;

  /**
   * The chunk of {@link #warmUp}'s scratch core: {@link #WARM_CHUNK} layers, or more, so that
   * every one of {@code threads} threads takes at least three turns in a chunk. With four
   * segments a chunk and four threads or more, no thread took a second turn, so the turn loops
   * had never gone round when C2 compiled them: the first real step deoptimised the turn wait
   * ({@code -Xlog:deoptimization}), and with 4 and 8 threads it took 1.2-2.5x the median
   * (docs/decisions.md). Half a segment more, so that each chunk ends with a short segment,
   * as a real run's chunks mostly do: with none, the recompute's pairing never met one, and
   * the first real step deoptimised {@link #prepare} and {@link #backwardSegment} (an
   * uncommon trap at the branch for a short segment; that step took 0.415-0.483 s against a
   * median of 0.31-0.35 at 10M layers).
   */
  static int warmChunk(int width, int batch, int threads) {
    long seg = savedSegment(width, batch);
    return (int) (Math.max(WARM_CHUNK, Math.min((1 << 17) - seg, 3L * threads * seg))
        + seg / 2);
  }

  /** Layers whose saved input and act'(z) take about {@link #SEGMENT_SAVE_BYTES}. */
  private static long savedSegment(int width, int batch) {
    return Math.max(1, SEGMENT_SAVE_BYTES / (8L * width * batch));
  }

  /**
   * Trains a scratch in-memory core of this shape with {@code threads} threads (recomputing;
   * every other step with the diagnostics) until the JIT has compiled nothing for 150 ms, at
   * most 3 s.
   * The kernel warm-up compiles the kernels; this compiles the step's own methods and the two
   * threads' hand-off. With two training threads no core is free for the JIT, and those
   * compiles (and a backward deoptimised by a branch the kernel warm-up never took) made the
   * first steps 1.4-1.7x the median. Returns the seconds it took; nothing when one thread
   * trains in memory (its compiles run on the other core).
   */
  public static double warmUp(int width, Activation act, int batch, int threads, Kernels k,
      Dataset data) throws IOException {
    return warmUp(width, act, batch, threads, k, data, Dtype.F32);
  }

  /**
   * {@link #warmUp(int, Activation, int, int, Kernels, Dataset)} on a scratch core of {@code
   * dtype}: a bf16 core's paths (its widening on load, the helper thread's rounding between the
   * turns) compile here too, not in the run's first step.
   */
  public static double warmUp(int width, Activation act, int batch, int threads, Kernels k,
      Dataset data, Dtype dtype) throws IOException {
    return warmUp(width, act, batch, threads, k, data, dtype, false, false);
  }

  /**
   * {@link #warmUp(int, Activation, int, int, Kernels, Dataset, Dtype)} for the plan the run
   * will take: with {@code keep}, every activation kept and the threads' turns over them
   * (where the kernels hand off before the updates; else the threads have nothing to share);
   * with {@code streamed}, the scratch core streamed from its file, so that the reads, writes
   * and checksums, the help the threads give them, and the step's calls into that core class
   * compile here rather than in the run's first step (docs/decisions.md, "The streamed first
   * step").
   */
  public static double warmUp(int width, Activation act, int batch, int threads, Kernels k,
      Dataset data, Dtype dtype, boolean keep, boolean streamed) throws IOException {
    if ((threads < 2 && !streamed) || (keep && !k.handsOffBeforeUpdates(width, batch))) {
      // one thread in memory (the JIT has the other core), or nothing the threads share;
      // streamed, the other core is the I/O thread's, and the step has its I/O path to compile
      return 0;
    }
    long t0 = System.nanoTime();
    Path dir = Files.createTempDirectory("abyss-warm-up");
    Path file = dir.resolve("core.bin");
    try {
      int chunk = warmChunk(width, batch, threads);
      int layers = 3 * chunk;
      CoreFile.create(file, CoreHeader.create(width, layers, act,
          (float) (1 / Math.sqrt(layers)), 0.01f, 1, 2, dtype), null);
      JitQuiet quiet = new JitQuiet();
      try (CoreWeights core = streamed ? CoreFile.openStreamed(file, true)
              : CoreFile.openInMemory(file);
          ResidualTrainer tr = new ResidualTrainer(core, HeadParams.glorot(width, 3), k, data,
              batch, chunk, 0.01f, 0.01f, data.count(), threads, keep ? Long.MAX_VALUE : 0)) {
        long deadline = t0 + 3_000_000_000L;
        for (long step = 0; System.nanoTime() < deadline; step++) {
          // every other step a diagnostic one, as a run's first step is: the tap's path and
          // its turns compile here too
          tr.step(step, (step & 1) == 1 ? ResidualRun.BUCKETS : 0);
          quiet.poll();
          if (quiet.observable() ? step >= 3 && quiet.quietFor(150) : step >= 20) {
            break;
          }
        }
      }
    } finally {
      // a streamed core's shadow, never committed
      Files.deleteIfExists(AtomicFiles.tempFor(file));
      Files.deleteIfExists(file);
      Files.deleteIfExists(dir);
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  /** Bytes of every layer's saved input and act'(z) for one step of this shape. */
  public static long activationBytes(long layers, int width, int batch) {
    return layers * width * (long) batch * 8;
  }

  /** Whether the Java heap has room for {@code bytes} of kept activations, and some to spare. */
  static boolean heapHolds(long bytes) {
    return bytes <= heapLeft() - (64L << 20);
  }

  private static long heapLeft() {
    Runtime rt = Runtime.getRuntime();
    return rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
  }

  /** Refuses a plan that keeps {@code bytes} of activations the Java heap cannot hold. */
  static void checkHeap(long bytes) {
    long heapLeft = heapLeft();
    if (!heapHolds(bytes)) {
      throw new AbyssException("--memory-budget: keeping all activations takes "
          + AtomicFiles.human(bytes) + " but the Java heap has " + AtomicFiles.human(heapLeft)
          + " left; lower the budget (0 always recomputes) or give the JVM more heap"
          + " (ABYSS_JAVA_OPTS=-Xmx...)");
    }
  }

  /** The threads a step runs on: the calling thread and the workers that take turns with it. */
  public int threads() {
    return workers.length + 1;
  }

  /** Whether the forward keeps every layer's saves, so that the backward recomputes nothing. */
  public boolean keepsActivations() {
    return keepAll;
  }

  /** Bytes of every layer's saved input and act'(z) for one step (the planner's figure). */
  public long activationBytes() {
    return activationBytes;
  }

  /** Installs a gradient tap (null for none). */
  public void setTap(GradientTap tap) {
    this.tap = tap;
  }

  /** I/O chunk and segment sizes in use. */
  public Plan plan() {
    return plan(layers, w, batch, chunk, DEFAULT_CHECKPOINT_BYTES, turnThreads);
  }

  @Override
  public void close() {
    for (Worker wk : workers) {
      wk.ex.shutdownNow();
    }
  }

  /** Runs training step {@code step} (the batch of that index) and applies its update. */
  public StepResult step(long step) throws IOException {
    return step(step, 0);
  }

  /**
   * Runs a step; with {@code buckets > 0} it also measures gradient norms and activation
   * scale by depth bucket (the figures come with the result; the update is the same).
   */
  public StepResult step(long step, int buckets) throws IOException {
    GradientTap saved = tap;
    Diagnostics.Collector col = buckets > 0
        ? new Diagnostics.Collector(layers, (int) Math.min(buckets, layers)) : null;
    if (col != null) {
      tap = saved == null ? col : new GradientTap() {
        @Override
        public void core(long layer, float[] gW, float[] gb) {
          saved.core(layer, gW, gb);
          col.core(layer, gW, gb);
        }

        @Override
        public void coreRange(long first, int count, float[] grads, int w) {
          saved.coreRange(first, count, grads, w);
          col.coreRange(first, count, grads, w);
        }

        @Override
        public void head(HeadParams grad, boolean second) {
          saved.head(grad, second);
          col.head(grad, second);
        }
      };
    }
    if (tap != null) {
      // every thread's gradient copy for the tap, a whole segment's
      int size = maxSeg * Kernels.layerFloats(w) + 16;
      for (int th = 0; th < tapGrads.length; th++) {
        if (tapGrads[th].length < size) {
          tapGrads[th] = new float[size];
        }
      }
    }
    try {
      StepResult r = runStep(step);
      if (col == null) {
        return r;
      }
      return r.with(new Diagnostics(col.norms(), col.firstAbs, col.inputAbs,
          activationRms(col.buckets)));
    } finally {
      tap = saved;
    }
  }

  /** RMS of the forward's checkpoints (h at segment starts) by depth bucket. */
  private double[] activationRms(int buckets) {
    int n = w * batch;
    double[] sum = new double[buckets];
    int[] cnt = new int[buckets];
    for (int q = 0; q < nSegs; q++) {
      int b = (int) (segStart[q] * buckets / layers);
      double s = 0;
      for (int k = 0; k < n; k++) {
        double v = ckpt[q * n + k];
        s += v * v;
      }
      sum[b] += Math.sqrt(s / n);
      cnt[b]++;
    }
    double[] rms = new double[buckets];
    for (int b = 0; b < buckets; b++) {
      rms[b] = cnt[b] == 0 ? Double.NaN : sum[b] / cnt[b];
    }
    return rms;
  }

  private TrainListener progress = TrainListener.NONE;

  /** Receives {@link TrainListener#onProgress} after every chunk of every step. */
  public void setProgressListener(TrainListener l) {
    progress = l == null ? TrainListener.NONE : l;
  }

  private StepResult runStep(long step) throws IOException {
    long t0 = System.nanoTime();
    Arrays.fill(phaseNs, 0);
    for (Worker wk : workers) {
      Arrays.fill(wk.phaseNs, 0);
    }
    long[] ph = phaseNs;
    int n = w * batch;
    if (balanced) {
      layOut();
    }
    core.beginStep(step);
    order.batch(step, batch, idx);
    train.fill(idx, batch, x);
    for (int b = 0; b < batch; b++) {
      labels[b] = train.label(idx[b]);
    }
    // (1) forward, keeping a checkpoint at every segment start
    ResidualHead.inputForward(head, x, batch, h0, acc);
    System.arraycopy(h0, 0, h, 0, n);
    int q = 0;
    for (int c = 0; c < nChunks; c++) {
      long start = (long) c * chunk;
      int count = (int) Math.min(chunk, layers - start);
      long tp = System.nanoTime();
      MemorySegment ms = core.loadForReading(start, count);
      if (c + 1 < nChunks) {
        long next = start + count;
        core.prefetch(next, (int) Math.min(chunk, layers - next));
      } else {
        // the backward starts with this chunk; after it comes the one before
        if (c > 0) {
          core.prefetch(start - chunk, chunk);
        }
      }
      clock(ph, Phases.IO, tp);
      int first = q;
      while (q < nSegs && segStart[q] < start + count) {
        q++;
      }
      if (splitForward) {
        inHalves(ms, first, q, start + count);
      } else {
        Future<?> ahead = readAhead(ms, first, q, start + count);
        try {
          for (int j = first; j < q; j++) {
            System.arraycopy(h, 0, ckpt, j * n, n);
            int len = segLen(j, start + count);
            long tf = System.nanoTime();
            if (keepAll) {
              k.forwardSaveChunk(w, batch, ms, core.offsetOf(segStart[j]), len, alpha, act, h,
                  z, hSave[j], dSave[j]);
            } else {
              k.forwardChunk(w, batch, ms, core.offsetOf(segStart[j]), len, alpha, act, h, z);
            }
            clock(ph, Phases.FORWARD, tf);
            if (ahead != null) {
              handoff.set(FORWARD, j);
            }
          }
        } catch (RuntimeException | Error e) {
          if (ahead != null) {
            handoff.set(FORWARD, STOP);
            finish(ahead);
          }
          throw e;
        }
        if (ahead != null) {
          handoff.set(FORWARD, STOP);
          long tw = System.nanoTime();
          await(ahead);
          clock(ph, Phases.WAITING, tw);
        }
      }
      progress.onProgress(step, "forward", start + count, layers);
    }
    // (2) classifier
    ResidualHead.classifierForward(head, h, batch, logits);
    SoftmaxCrossEntropy.Result r = SoftmaxCrossEntropy.forwardBackward(logits, batch, labels, dl,
        null);
    if (!Double.isFinite(r.lossSum())) {
      throw new DivergedException(step, r.lossSum());
    }
    ResidualHead.classifierBackward(head, h, batch, dl, grad, dh);
    if (tap != null) {
      tap.head(grad, true);
    }
    head.sgdSecond(headLr, grad);
    // (3) chunks in reverse; in each, segments in reverse: recompute, backprop, update
    q = nSegs - 1;
    for (int c = nChunks - 1; c >= 0; c--) {
      long start = (long) c * chunk;
      int count = (int) Math.min(chunk, layers - start);
      long end = start + count;
      long tp = System.nanoTime();
      MemorySegment ms = core.load(start, count);
      if (c > 0) {
        core.prefetch(start - chunk, chunk);
      }
      clock(ph, Phases.IO, tp);
      int first = q;
      while (first > 0 && segStart[first - 1] >= start) {
        first--;
      }
      int segs = q - first + 1;
      if (workers.length > 0) {
        inTurns(ms, q, segs, end);
      } else if (keepAll) {
        for (int t = 0; t < segs; t++) {
          backwardSegment(ms, q - t, end, q - t);
        }
      } else {
        int[] pending = {-1};
        for (int t = 0; t < segs; t++) {
          int buf = prepare(ms, q, t, segs, end, 0, 1, k, h, h2, z, ph, pending);
          backwardSegment(ms, q - t, end, buf);
        }
      }
      q = first - 1;
      tp = System.nanoTime();
      core.writeBack(start, count);
      if (c == 0 && nChunks > 1) {
        // the next step starts with this chunk: read it back while this step finishes
        core.prefetch(0, count);
      }
      clock(ph, Phases.IO, tp);
      progress.onProgress(step, "backward", layers - start, layers);
    }
    // (4) input projection
    ResidualHead.inputBackward(head, x, batch, h0, dh, grad, g);
    if (tap != null) {
      tap.head(grad, false);
    }
    head.sgdFirst(headLr, grad);
    if (balanced && !shareFixed) {
      balance();
    }
    double[][] phs = new double[workers.length + 1][];
    phs[0] = seconds(phaseNs);
    for (int i = 0; i < workers.length; i++) {
      phs[i + 1] = seconds(workers[i].phaseNs);
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    return new StepResult(step, r.lossSum(), r.correct(), batch, seconds, null,
        new Phases(phs, seconds));
  }

  /** The largest share of two segments' layers that one thread takes. */
  static final double MAX_SHARE = 0.65;

  /** Lays this step's segments out by {@link #share}, where their lengths changed. */
  private void layOut() {
    int a = (int) Math.round(2 * seg * share);
    a = Math.max(2 * seg - maxSeg, Math.min(maxSeg, a));
    if (a != laidOut) {
      nSegs = layOut(layers, chunk, a, 2 * seg - a, segStart);
      laidOut = a;
    }
  }

  /**
   * Segment starts, ascending, into {@code out}; returns how many. In every chunk, from its
   * top: a segment of {@code a} layers (the main thread's turn), one of {@code b} (the
   * worker's), and so on, the chunk's lowest one shorter (the turns' order, {@link #inTurns}).
   * Where a segment starts does not change the results, only where a recompute begins.
   */
  static int layOut(long layers, int chunk, int a, int b, long[] out) {
    int q = 0;
    for (long c = 0; c < layers; c += chunk) {
      long end = Math.min(layers, c + chunk);
      int first = q;
      long pos = end;
      for (int t = 0; pos > c; t++) {
        pos = Math.max(c, pos - ((t & 1) == 0 ? a : b));
        out[q++] = pos;
      }
      for (int i = first, j = q - 1; i < j; i++, j--) {
        long x = out[i];
        out[i] = out[j];
        out[j] = x;
      }
    }
    return q;
  }

  /**
   * Fixes the main thread's share of the layers (a test's way to try uneven segments without
   * uneven threads); false where the segments keep one length.
   */
  boolean fixShare(double mainShare) {
    if (!balanced) {
      return false;
    }
    share = Math.max(1 - MAX_SHARE, Math.min(MAX_SHARE, mainShare));
    shareFixed = true;
    return true;
  }

  /**
   * Moves the main thread's share of the layers toward what would have given both threads the
   * same busy time this step (recompute and backward, per layer each took).
   */
  private void balance() {
    Worker wk = workers[0];
    long busyMain = phaseNs[Phases.RECOMPUTE] + phaseNs[Phases.BACKWARD];
    long busyWorker = wk.phaseNs[Phases.RECOMPUTE] + wk.phaseNs[Phases.BACKWARD];
    if (busyMain <= 0 || busyWorker <= 0) {
      return;
    }
    // each thread's time a layer at this step's shares, and the share that evens them; half
    // way there a step, so that one slow step moves it little
    double perMain = busyMain / share;
    double perWorker = busyWorker / (1 - share);
    double even = perWorker / (perMain + perWorker);
    share = Math.max(1 - MAX_SHARE, Math.min(MAX_SHARE, 0.5 * share + 0.5 * even));
  }

  /** Adds the time since {@code t0} to phase {@code p} of {@code ph}. */
  private static void clock(long[] ph, int p, long t0) {
    ph[p] += System.nanoTime() - t0;
  }

  private static double[] seconds(long[] ns) {
    double[] s = new double[ns.length];
    for (int i = 0; i < ns.length; i++) {
      s[i] = ns[i] / 1e9;
    }
    return s;
  }

  /**
   * The forward over segments {@code first .. last - 1} of a chunk, split by samples: the main
   * thread takes the first half of the batch, the worker the second. A sample's forward
   * depends on that sample alone, so nothing crosses between the threads until the chunk's
   * end; each writes its own samples' checkpoints.
   */
  private void inHalves(MemorySegment ms, int first, int last, long end) throws IOException {
    int half = batch / 2;
    Worker wk = workers[0];
    Future<?> f = wk.ex.submit(() -> {
      forkWorker(wk);
      long tf = System.nanoTime();
      forwardSamples(wk.k, ms, first, last, end, half, batch);
      clock(wk.phaseNs, Phases.FORWARD, tf);
      return null;
    });
    try {
      long tf = System.nanoTime();
      forwardSamples(k, ms, first, last, end, 0, half);
      long tw = System.nanoTime();
      phaseNs[Phases.FORWARD] += tw - tf;
      while (!f.isDone() && core.helpIo()) {
        // a block of the read-ahead while the worker finishes its half
      }
      await(f);
      clock(phaseNs, Phases.WAITING, tw);
    } catch (RuntimeException | Error | IOException e) {
      finish(f);
      throw e;
    }
  }

  /**
   * With one sample the forward of a wide layer streams its weights once and waits on memory
   * (one core's loads in flight are too few to fill the bandwidth): a worker reads each
   * segment's weights a segment or two ahead of the forward ({@link #touchAhead}), and the
   * forward then finds them in that core's cache. w32 b1, 10,000 layers: 490 -> 370 ns a layer
   * (docs/decisions.md). Null where there is no worker or the batch is larger.
   */
  private Future<?> readAhead(MemorySegment ms, int first, int last, long chunkEnd) {
    if (workers.length == 0 || batch != 1 || last <= first) {
      return null;
    }
    handoff.set(FORWARD, first - 1);
    return workers[0].ex.submit(() -> {
      touchAhead(ms, first, last, chunkEnd);
      return null;
    });
  }

  /** Keeps {@link #touchAhead}'s reads from being dropped as unused. */
  @SuppressWarnings("unused")
  private volatile float touched;

  /**
   * Reads one float of every cache line of segments {@code first .. last - 1}, each once the
   * forward has finished the one {@link #TOUCH_AHEAD} before it; skips those the forward has
   * passed, and stops at {@link #STOP}. Changes nothing.
   */
  private void touchAhead(MemorySegment ms, int first, int last, long chunkEnd) {
    long lb = Kernels.layerBytes(w);
    float sum = 0;
    for (int j = first; j < last; j++) {
      long done;
      int spins = 0;
      while ((done = handoff.get(FORWARD)) < j - TOUCH_AHEAD) {
        if (++spins > SPINS_BEFORE_YIELD) {
          Thread.yield();
        } else {
          Thread.onSpinWait();
        }
      }
      if (done == STOP) {
        break;
      }
      if (done >= j) {
        continue;
      }
      long from = core.offsetOf(segStart[j]);
      long to = from + segLen(j, chunkEnd) * lb;
      for (long b = from; b < to; b += 64) {
        sum += ms.get(ValueLayout.JAVA_FLOAT_UNALIGNED, b);
      }
    }
    touched = sum;
  }

  /**
   * Waits for the worker's task after the main thread failed, so that the worker is not left
   * running on this chunk; the first failure is the one reported.
   */
  private static void finish(Future<?> f) {
    try {
      f.get();
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException ignored) {
      // the main thread's failure is the one reported
    }
  }

  /** Samples {@code from .. to - 1} forward over segments {@code first .. last - 1}. */
  private void forwardSamples(Kernels kk, MemorySegment ms, int first, int last, long end,
      int from, int to) {
    int n = w * batch;
    for (int j = first; j < last; j++) {
      for (int i = 0; i < w; i++) {
        System.arraycopy(h, i * batch + from, ckpt, j * n + i * batch + from, to - from);
      }
      kk.forwardChunkSamples(w, batch, ms, core.offsetOf(segStart[j]), segLen(j, end), alpha,
          act, h, from, to);
    }
  }

  /** A worker's kernels and scratch, made on its first task (see {@link #inTurns}). */
  private void forkWorker(Worker wk) {
    if (wk.k == null) {
      // allocated here, in the worker's own allocation buffer: scratch written every layer
      // must not share cache lines with another thread's
      int n = w * batch;
      wk.k = k.fork();
      wk.h = new float[n + 32];
      wk.h2 = new float[n + 32];
      wk.z = new float[n + 32];
      wk.g = new float[n + 32];
      wk.gW = new float[w * w + 32];
      wk.gb = new float[w + 32];
    }
  }

  /**
   * The threads take the chunk's segments in turns, from the top: with T threads thread r
   * (0: the main thread) takes the segments r, r + T, r + 2T, ... Each recomputes its next
   * segment into its own save buffer, waits until the backward has reached that segment, runs
   * its dh chain with dh as the previous thread left it, passes the turn on, and then updates
   * the segment's weights. So one thread's recompute and updates overlap the others' dh
   * chains, the one part that must run in order, while the saves never leave the core that
   * wrote them: only dh (W x B floats) and the turn cross between the cores, once a segment.
   * With every layer's saves kept from the forward pass there is no recompute: the threads
   * take the segments' own saves in the same turns, and one's updates overlap the next one's
   * dh chain (where the kernels split the two: {@link Kernels#handsOffBeforeUpdates}). Where
   * the kernels recompute two segments in one call ({@link #pairs}), a thread recomputes its
   * next two before the first one's turn, and the second's saves wait in its second buffer.
   */
  private void inTurns(MemorySegment ms, int last, int segs, long end) throws IOException {
    handoff.set(TURN, 0);
    handoff.set(TAP_TURN, 0);
    int threads = workers.length + 1;
    List<Future<?>> fs = new ArrayList<>(workers.length);
    try {
      for (int r = 1; r < threads && r < segs; r++) {
        Worker wk = workers[r - 1];
        int first = r;
        fs.add(wk.ex.submit(() -> {
          forkWorker(wk);
          int[] pending = {-1};
          for (int t = first; t < segs; t += threads) {
            int buf = keepAll ? last - t
                : prepare(ms, last, t, segs, end, first, threads, wk.k, wk.h, wk.h2, wk.z,
                    wk.phaseNs, pending);
            long tw = System.nanoTime();
            boolean go = awaitTurn(TURN, t, null);
            clock(wk.phaseNs, Phases.WAITING, tw);
            if (!go || !backwardSegment(wk.k, ms, last - t, end, buf, wk.gW, wk.gb, wk.g, t,
                null, wk.phaseNs)) {
              return null;
            }
          }
          return null;
        }));
      }
      int[] pending = {-1};
      for (int t = 0; t < segs; t += threads) {
        int buf = keepAll ? last - t
            : prepare(ms, last, t, segs, end, 0, threads, k, h, h2, z, phaseNs, pending);
        long tw = System.nanoTime();
        awaitTurn(TURN, t, fs);
        clock(phaseNs, Phases.WAITING, tw);
        backwardSegment(k, ms, last - t, end, buf, gW, gb, g, t, fs, phaseNs);
      }
      long tw = System.nanoTime();
      awaitAll(fs);
      clock(phaseNs, Phases.WAITING, tw);
    } catch (RuntimeException | Error | IOException e) {
      handoff.set(TURN, ABORT);
      handoff.set(TAP_TURN, ABORT);
      for (Future<?> f : fs) {
        finish(f);
      }
      throw e;
    }
  }

  /**
   * What a thread that has spun a while for another one does at each further try: a block of
   * the core's I/O if there is one to take ({@link CoreWeights#helpIo}), else yield its core.
   * Streamed on two cores, the I/O thread has no core of its own, and the training thread it
   * takes one from holds up the other's turn: the main thread waited 67-71 ms of a 215 ms step
   * at 1M layers (docs/decisions.md, "Waiting threads do the I/O").
   */
  private void yieldOrHelp() {
    if (!core.helpIo()) {
      Thread.yield();
    }
  }

  /**
   * Waits for every worker's task, rethrowing the first failure as soon as it is seen (a worker
   * waiting for a failed worker's turn would otherwise keep a plain wait from returning).
   */
  private void awaitAll(List<Future<?>> fs) throws IOException {
    int spins = 0;
    for (int i = 0; i < fs.size(); ) {
      if (fs.get(i).isDone()) {
        await(fs.get(i));
        i++;
        continue;
      }
      for (Future<?> f : fs) {
        if (f.isDone()) {
          await(f);
        }
      }
      if (++spins > SPINS_BEFORE_YIELD) {
        yieldOrHelp();
      } else {
        Thread.onSpinWait();
      }
    }
  }

  /**
   * Spins until it is segment t's turn at {@code slot} ({@link #TURN} or {@link #TAP_TURN}).
   * On a worker ({@code fs} null) returns false when the main thread gave up; on the main
   * thread, rethrows a worker's failure.
   */
  private boolean awaitTurn(int slot, int t, List<Future<?>> fs) throws IOException {
    long turn;
    // a park sleeps at least Linux's timer slack (50 us by default), a large share of a
    // segment's backward (512 layers x ~35 ns at w4 b16): spin. But not on and on: where the
    // threads share a core with another (two runs at once on two cores, or a streamed
    // core's I/O thread), the thread we wait for may be the one this spin keeps off the core;
    // after a few microseconds, yield it. Two runs at once on two cores took 7.6-7.8 s a step
    // each with a pure spin, 0.14 with the yield (docs/decisions.md).
    int spins = 0;
    while ((turn = handoff.get(slot)) != t) {
      if (turn == ABORT || (fs == null && Thread.currentThread().isInterrupted())) {
        return false;
      }
      if (fs != null) {
        boolean allDone = true;
        for (Future<?> f : fs) {
          if (f.isDone()) {
            await(f);
          } else {
            allDone = false;
          }
        }
        if (allDone && handoff.get(slot) != t) {
          throw new IllegalStateException("a training thread stopped early");
        }
      }
      if (++spins > SPINS_BEFORE_YIELD) {
        yieldOrHelp();
      } else {
        Thread.onSpinWait();
      }
    }
    return true;
  }

  /** Backward and update over segment j's layers in reverse, from save buffer buf. */
  private void backwardSegment(MemorySegment ms, int j, long chunkEnd, int buf)
      throws IOException {
    backwardSegment(k, ms, j, chunkEnd, buf, gW, gb, g, -1, null, phaseNs);
  }

  /**
   * The same with the given kernels and scratch (each thread its own), as turn {@code t} of
   * {@link #inTurns} (-1: one thread). The turn passes on as soon as dh is final, before the
   * segment's weight updates (where the kernels allow), so that one thread's updates overlap
   * the other's dh chain; on diagnostic steps the tap then takes the segments' gradients in
   * their order, by a turn of its own. Returns false when the main thread gave up ({@code f}
   * null: the worker).
   */
  private boolean backwardSegment(Kernels kk, MemorySegment ms, int j, long chunkEnd, int buf,
      float[] sW, float[] sb, float[] sg, int t, List<Future<?>> fs, long[] ph)
      throws IOException {
    int len = segLen(j, chunkEnd);
    float[] grads = null;
    if (tap != null) {
      // inTurns: thread r takes turns r, r + T, ...; sized by step() (no branch here that only
      // a run's first diagnostic step takes: C2 had left it out, and that step deoptimised
      // this method)
      grads = tapGrads[t < 0 ? 0 : t % tapGrads.length];
    }
    long tb = System.nanoTime();
    kk.backwardUpdateChunk(w, batch, ms, core.offsetOf(segStart[j]), len, alpha, layerLr,
        hSave[buf], dSave[buf], dh, sW, sb, sg, grads,
        t < 0 ? null : () -> handoff.set(TURN, t + 1));
    clock(ph, Phases.BACKWARD, tb);
    if (tap != null) {
      long tw = System.nanoTime();
      boolean go = t < 0 || awaitTurn(TAP_TURN, t, fs);
      clock(ph, Phases.WAITING, tw);
      if (!go) {
        return false;
      }
      tap.coreRange(segStart[j], len, grads, w);
      if (t >= 0) {
        handoff.set(TAP_TURN, t + 1);
      }
    }
    return true;
  }

  /**
   * Each layer's gradients of the segment in progress, for the tap (diagnostic steps): one
   * buffer for each thread.
   */
  private final float[][] tapGrads;

  private int segLen(int q, long chunkEnd) {
    long next = q + 1 < nSegs ? Math.min(segStart[q + 1], chunkEnd) : chunkEnd;
    return (int) (next - segStart[q]);
  }

  /**
   * Makes the saves of turn {@code t} (segment {@code last - t}) ready for a thread whose
   * buffers are {@code r} and {@code r + threads} and whose turns are t, t + threads, ...;
   * returns the buffer that holds them. With {@link #pairs} the thread recomputes that segment
   * and its next one ({@code last - t - threads}) in one call where both have the same length,
   * and {@code pending} remembers the second for its turn.
   */
  private int prepare(MemorySegment ms, int last, int t, int segs, long chunkEnd, int r,
      int threads, Kernels kk, float[] hh, float[] hh2, float[] zz, long[] ph, int[] pending) {
    if (pending[0] == t) {
      pending[0] = -1;
      return r + threads;
    }
    int a = last - t;
    int b = a - threads;
    int len = segLen(a, chunkEnd);
    if (pairs && t + threads < segs && segLen(b, chunkEnd) == len) {
      long tr = System.nanoTime();
      int n = w * batch;
      System.arraycopy(ckpt, a * n, hh, 0, n);
      System.arraycopy(ckpt, b * n, hh2, 0, n);
      kk.forwardSaveChunkPair(w, batch, ms, core.offsetOf(segStart[a]),
          core.offsetOf(segStart[b]), len, alpha, act, hh, hh2, zz, hSave[r], dSave[r],
          hSave[r + threads], dSave[r + threads]);
      clock(ph, Phases.RECOMPUTE, tr);
      pending[0] = t + threads;
      return r;
    }
    recompute(ms, a, chunkEnd, r, kk, hh, zz, ph);
    return r;
  }

  /** Recomputes segment q from its checkpoint into save buffer {@code buf}. */
  private void recompute(MemorySegment ms, int q, long chunkEnd, int buf, Kernels kk, float[] hh,
      float[] zz, long[] ph) {
    long tr = System.nanoTime();
    int n = w * batch;
    System.arraycopy(ckpt, q * n, hh, 0, n);
    kk.forwardSaveChunk(w, batch, ms, core.offsetOf(segStart[q]), segLen(q, chunkEnd), alpha,
        act, hh, zz, hSave[buf], dSave[buf]);
    clock(ph, Phases.RECOMPUTE, tr);
  }

  private static void await(Future<?> f) throws IOException {
    if (f == null) {
      return;
    }
    try {
      f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AbyssException("interrupted");
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException re) {
        throw re;
      }
      if (c instanceof Error er) {
        throw er;
      }
      throw new IOException(c);
    }
  }
}
