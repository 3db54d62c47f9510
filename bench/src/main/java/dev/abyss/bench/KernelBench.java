package dev.abyss.bench;

import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import dev.abyss.kernel.KernelProvider;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Per-layer cost of the residual kernels over a chunk of layers (ns per layer = score /
 * LAYERS). The Vector API pair joins the scalar one with the speed work.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -jar bench/target/abyss-bench.jar}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Thread)
// one fork with the Vector API module and the launcher's JIT flags (the width-4 backward's
// methods compile separately, see VectorKernels); a shared 2-core machine is noisy, so
// several short iterations give a usable median
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector",
    "-XX:CompileCommand=quiet",
    "-XX:CompileCommand=dontinline,dev.abyss.kernel.VectorKernels::row4",
    "-XX:CompileCommand=dontinline,dev.abyss.kernel.VectorKernels::finish4",
    "-XX:CompileCommand=dontinline,dev.abyss.kernel.VectorKernels::bias4",
    "-XX:CompileCommand=dontinline,dev.abyss.kernel.VectorKernels::dh4",
    "-XX:CompileCommand=dontinline,dev.abyss.kernel.VectorKernels::scale4"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class KernelBench {
  static final int LAYERS = 1000;

  @Param({"4", "32"})
  int width;

  @Param({"1", "16"})
  int batch;

  @Param({"SOFTSIGN"})
  Activation act;

  @Param({"scalar", "vector"})
  String impl;

  Arena arena;
  MemorySegment wts;
  float[] h;
  float[] z;
  float[] hSave;
  float[] dSave;
  float[] dh;
  float[] gW;
  float[] gb;
  float[] g;
  Kernels k;

  @Setup(Level.Trial)
  public void setup() {
    k = impl.equals("scalar") ? KernelProvider.scalar() : KernelProvider.vector();
    arena = Arena.ofConfined();
    wts = arena.allocate(LAYERS * Kernels.layerBytes(width), 64);
    SplittableRandom r = new SplittableRandom(1);
    for (long o = 0; o < wts.byteSize(); o += 4) {
      wts.set(Kernels.F32, o, (float) (r.nextDouble() - 0.5) * 0.01f);
    }
    int n = width * batch;
    h = new float[n];
    z = new float[n];
    dh = new float[n];
    g = new float[n];
    hSave = new float[LAYERS * n];
    dSave = new float[LAYERS * n];
    gW = new float[width * width];
    gb = new float[width];
    for (int i = 0; i < n; i++) {
      h[i] = (float) r.nextDouble();
      dh[i] = (float) r.nextDouble() * 0.01f;
    }
    checkAgreement();
  }

  /**
   * The pair must agree before it is timed: the chunk forward and the backward + update of
   * {@code impl} against the scalar oracle on the same data (bitwise for the forward and the
   * weights; dh to the tree's tolerance), else the trial fails. Called at the end of setup.
   */
  private void checkAgreement() {
    Kernels oracle = KernelProvider.scalar();
    int n = width * batch;
    int layers = 64;
    float[] ha = h.clone();
    float[] hb = h.clone();
    k.forwardChunk(width, batch, wts, 0, layers, 0.01f, act, ha, z);
    oracle.forwardChunk(width, batch, wts, 0, layers, 0.01f, act, hb, z);
    if (java.util.Arrays.mismatch(ha, hb) >= 0) {
      throw new IllegalStateException(impl + " forwardChunk disagrees with the scalar oracle");
    }
    long bytes = layers * Kernels.layerBytes(width);
    MemorySegment wa = arena.allocate(bytes, 64).copyFrom(wts.asSlice(0, bytes));
    MemorySegment wb = arena.allocate(bytes, 64).copyFrom(wts.asSlice(0, bytes));
    float[] hs = new float[layers * n];
    float[] ds = new float[layers * n];
    oracle.forwardSaveChunk(width, batch, wts, 0, layers, 0.01f, act, h.clone(), z, hs, ds);
    float[] da = dh.clone();
    float[] db = dh.clone();
    k.backwardUpdateChunk(width, batch, wa, 0, layers, 0.01f, 0.1f, hs, ds, da, gW, gb, g, null);
    oracle.backwardUpdateChunk(width, batch, wb, 0, layers, 0.01f, 0.1f, hs, ds, db, gW, gb, g,
        null);
    for (int i = 0; i < n; i++) {
      if (Math.abs(da[i] - db[i]) > 1e-5f * (1 + Math.abs(db[i]))) {
        throw new IllegalStateException(impl + " backward dh disagrees with the scalar oracle");
      }
    }
    for (long o = 0; o < bytes; o += 4) {
      float x = wa.get(Kernels.F32, o);
      float y = wb.get(Kernels.F32, o);
      if (Math.abs(x - y) > 1e-6f * (1 + Math.abs(y))) {
        throw new IllegalStateException(impl + " update disagrees with the scalar oracle");
      }
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    arena.close();
  }

  @Benchmark
  public float forwardChunk() {
    k.forwardChunk(width, batch, wts, 0, LAYERS, 0.01f, act, h, z);
    return h[0];
  }

  @Benchmark
  public float recomputeChunk() {
    k.forwardSaveChunk(width, batch, wts, 0, LAYERS, 0.01f, act, h, z, hSave, dSave);
    return h[0];
  }

  @Benchmark
  public float backwardChunk() {
    long lb = Kernels.layerBytes(width);
    int n = width * batch;
    for (int l = LAYERS - 1; l >= 0; l--) {
      k.residualBackward(width, batch, wts, l * lb, 0.01f, hSave, dSave, l * n, dh, gW, gb, g);
    }
    return dh[0] + gW[0];
  }

  @Benchmark
  public float backwardUpdateChunk() {
    k.backwardUpdateChunk(width, batch, wts, 0, LAYERS, 0.01f, 1e-9f, hSave, dSave, dh, gW, gb,
        g, null);
    return dh[0];
  }

  @Benchmark
  public float recomputeAndBackwardChunk() {
    long lb = Kernels.layerBytes(width);
    int n = width * batch;
    k.forwardSaveChunk(width, batch, wts, 0, LAYERS, 0.01f, act, h, z, hSave, dSave);
    for (int l = LAYERS - 1; l >= 0; l--) {
      k.residualBackward(width, batch, wts, l * lb, 0.01f, hSave, dSave, l * n, dh, gW, gb, g);
    }
    return dh[0] + gW[0];
  }
}
