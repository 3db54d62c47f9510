package dev.abyss.bench;

import dev.abyss.store.Bf16;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * A bf16 core's conversions over one default chunk of width 4 (100,000 layers, 2,000,000
 * parameters): widening to f32 and stochastic rounding back, scalar loops against the vector
 * code (ns per value = score * 1000 / VALUES).
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -jar bench/target/abyss-bench.jar
 * Bf16Bench}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Thread)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
public class Bf16Bench {
  static final int VALUES = 2_000_000;

  @Param({"scalar", "vector"})
  String impl;

  Arena arena;
  MemorySegment bf16;
  MemorySegment f32;
  Bf16.Bulk bulk;
  long step;

  /**
   * The pair must agree before it is timed: both widen the same bf16 values to the same f32
   * bits, and both round the same f32 values (specials included) to the same bf16 bits.
   */
  @Setup(Level.Trial)
  public void setup() {
    bulk = Bf16.bulk(impl);
    Bf16.Bulk oracle = Bf16.bulk("scalar");
    arena = Arena.ofConfined();
    bf16 = arena.allocate(2L * VALUES, 64);
    f32 = arena.allocate(4L * VALUES, 64);
    MemorySegment want = arena.allocate(2L * VALUES, 64);
    MemorySegment wide = arena.allocate(4L * VALUES, 64);
    SplittableRandom r = new SplittableRandom(1);
    for (long i = 0; i < VALUES; i++) {
      float v = i % 9973 == 0 ? Float.NaN : (float) ((r.nextDouble() - 0.5) * 0.01);
      f32.set(ValueLayout.JAVA_FLOAT_UNALIGNED, 4 * i, v);
    }
    long key = Bf16.stepKey(7, 3);
    oracle.round(f32, 0, want, 0, VALUES, key, 5);
    bulk.round(f32, 0, bf16, 0, VALUES, key, 5);
    if (MemorySegment.mismatch(want, 0, want.byteSize(), bf16, 0, bf16.byteSize()) != -1) {
      throw new IllegalStateException(impl + " rounding disagrees with the scalar loops");
    }
    oracle.widen(bf16, 0, wide, 0, VALUES);
    bulk.widen(bf16, 0, f32, 0, VALUES);
    if (MemorySegment.mismatch(wide, 0, wide.byteSize(), f32, 0, f32.byteSize()) != -1) {
      throw new IllegalStateException(impl + " widening disagrees with the scalar loops");
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    arena.close();
  }

  @Benchmark
  public MemorySegment widen() {
    bulk.widen(bf16, 0, f32, 0, VALUES);
    return f32;
  }

  @Benchmark
  public MemorySegment round() {
    bulk.round(f32, 0, bf16, 0, VALUES, step++, 0);
    return bf16;
  }
}
