package dev.abyss.store;

import dev.abyss.kernel.JitQuiet;
import dev.abyss.kernel.KernelProvider;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * bfloat16 conversions between a stored (bf16) and a working (f32) copy of some layers.
 *
 * <p>Widening is exact. Narrowing after an SGD update rounds <b>stochastically</b>: the 16
 * bits that bf16 drops are replaced by 16 random bits added to the f32's bit pattern before
 * truncation, so a value rounds away from zero with probability equal to its distance from the
 * lower bf16 neighbour (in units of the gap): unbiased, and an update smaller than half a bf16
 * step still moves the weight on average. The random bits are a hash of (seed, step, parameter
 * index in the whole core), never a stream: the same parameter in the same step gets the same
 * bits whatever the chunk size, storage mode or thread count, so runs stay bit-reproducible.
 * A value that is already bf16 (low 16 bits zero) is unchanged by it (no carry is possible).
 *
 * <p>Values are little-endian, each layer W then b as in f32 files.
 */
public final class Bf16 {
  static final ValueLayout.OfShort I16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfFloat F32 =
      ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final long GOLDEN = 0x9E3779B97F4A7C15L;
  /**
   * {@code -Dabyss.bf16.rounding=nearest} makes write-back round to nearest instead: for the
   * experiment in docs/bf16.md that shows what stochastic rounding is for; not for training.
   */
  static final boolean NEAREST = "nearest".equals(System.getProperty("abyss.bf16.rounding"));

  private Bf16() {}

  /** The f32 with the same sign, exponent and top 7 fraction bits. */
  public static float widen(short b) {
    return Float.intBitsToFloat(b << 16);
  }

  /** Round to nearest, ties to even (for init and imports: no randomness needed). */
  public static short nearest(float v) {
    int bits = Float.floatToRawIntBits(v);
    if ((bits & 0x7f800000) == 0x7f800000) {
      return special(bits);
    }
    int lsb = (bits >>> 16) & 1;
    return (short) ((bits + 0x7fff + lsb) >>> 16);
  }

  /** Stochastic rounding with 16 random bits {@code r} (0..65535). */
  public static short round(float v, int r) {
    int bits = Float.floatToRawIntBits(v);
    if ((bits & 0x7f800000) == 0x7f800000) {
      return special(bits);
    }
    // sign-magnitude: adding to the pattern moves the magnitude up; a carry out of the
    // fraction is the correct step to the next binade (or to infinity past the largest)
    return (short) ((bits + r) >>> 16);
  }

  /** {@link #round(float, int)} on the f32 bits, as an unsigned 16-bit value. */
  private static int roundBits(int bits, int r) {
    if ((bits & 0x7f800000) == 0x7f800000) {
      return special(bits) & 0xffff;
    }
    return (bits + r) >>> 16;
  }

  private static short special(int bits) {
    // infinities keep their sign; NaNs stay NaN (a quiet bit set in what remains)
    return (short) ((bits >>> 16) | ((bits & 0x007fffff) != 0 ? 0x0040 : 0));
  }

  /** The per-step key from which {@link #bits} draws; distinct steps give unrelated bits. */
  public static long stepKey(long seed, long step) {
    return CoreFile.mix(CoreFile.mix(seed ^ 0x6A09E667F3BCC909L) + step * GOLDEN);
  }

  /** 16 random bits for parameter {@code index} (of the whole core) under {@code key}. */
  public static int bits(long key, long index) {
    long z = CoreFile.mix(key + (index >>> 2) * GOLDEN);
    return (int) (z >>> ((index & 3) << 4)) & 0xffff;
  }

  static final ValueLayout.OfLong I64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /**
   * The bulk conversions: {@link #widen(MemorySegment, long, MemorySegment, long, long)} and
   * {@link #round(MemorySegment, long, MemorySegment, long, long, long, long)} (stochastic
   * rounding) with the same bits as {@link #widenScalar} and {@link #roundScalar}. One of them
   * by name: {@link #bulk(String)}.
   */
  public interface Bulk {
    void widen(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long n);

    void round(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long n,
        long key, long firstIndex);

    /** ns a value under which {@link #warmUp} takes widening as compiled by C2. */
    double compiledWidenNs();

    /** ns a value under which {@link #warmUp} takes rounding as compiled by C2. */
    double compiledRoundNs();
  }

  /** The scalar loops below: the oracle, and the path where the vector kernels do not run. */
  private static final class ScalarBulk implements Bulk {
    @Override
    public void widen(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long n) {
      widenScalar(src, srcOff, dst, dstOff, n);
    }

    @Override
    public void round(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long n,
        long key, long firstIndex) {
      roundScalar(src, srcOff, dst, dstOff, n, key, firstIndex);
    }

    @Override
    public double compiledWidenNs() {
      return 6;
    }

    @Override
    public double compiledRoundNs() {
      return 12;
    }

    @Override
    public String toString() {
      return "scalar";
    }
  }

  private static final Bulk SCALAR = new ScalarBulk();

  /**
   * {@link Bf16Vector} where the vector kernels run ({@link KernelProvider}; so {@code
   * -Dabyss.kernels=scalar} makes these scalar too), else null. A holder, so that only a bulk
   * conversion or {@link #warmUp} chooses (not {@link #nearest} in an f32 run or a header read).
   */
  private static final class Chosen {
    static final Bulk VECTOR = chooseVector();
  }

  private static Bulk chooseVector() {
    if (KernelProvider.name().startsWith("vector")) {
      try {
        return (Bulk) Class.forName("dev.abyss.store.Bf16Vector").getDeclaredConstructor()
            .newInstance();
      } catch (ReflectiveOperationException | LinkageError e) {
        // the kernels loaded, so this should not happen; the scalar loops give the same bits
      }
    }
    return null;
  }

  /**
   * Whether {@link #warmUp} has seen the vector conversions run compiled: from then on they
   * replace the scalar loops. Until C2 compiles them they run 50-2000 times slower than the
   * scalar loops (interpreted Vector API code allocates at every operation), so a run too short
   * to warm up keeps the scalar ones. The two give the same bits, so the switch changes nothing
   * a run can see but its speed.
   */
  private static volatile boolean vectorWarm;

  private static Bulk bulk() {
    return vectorWarm ? Chosen.VECTOR : SCALAR;
  }

  /** The bulk conversions this JVM can run: "vector-BITS" (once warmed up) or "scalar". */
  public static String bulkName() {
    Bulk v = Chosen.VECTOR;
    return v == null ? SCALAR.toString() : v.toString();
  }

  /**
   * The scalar ("scalar") or the vector ("vector") bulk conversions, whichever is in use: for
   * the JMH pair and tests. The vector ones need the vector kernels ({@link KernelProvider}).
   */
  public static Bulk bulk(String impl) {
    return switch (impl) {
      case "scalar" -> SCALAR;
      case "vector" -> {
        if (Chosen.VECTOR == null) {
          throw new IllegalStateException("no vector bf16 conversions: the kernels are "
              + KernelProvider.name());
        }
        yield Chosen.VECTOR;
      }
      default -> throw new IllegalArgumentException("scalar or vector, not " + impl);
    };
  }

  /** Whether the vector conversions are in use (warmed up by {@link #warmUp}). */
  public static boolean vectorInUse() {
    return vectorWarm;
  }

  /** f32 {@code dst} = widened bf16 {@code src}, {@code n} values. */
  public static void widen(MemorySegment src, long srcOff, MemorySegment dst, long dstOff,
      long n) {
    bulk().widen(src, srcOff, dst, dstOff, n);
  }

  /** {@link #widen(MemorySegment, long, MemorySegment, long, long)} in scalar code. */
  static void widenScalar(MemorySegment src, long srcOff, MemorySegment dst, long dstOff,
      long n) {
    long k = 0;
    // four values per 64-bit load, two per 64-bit store: bf16 b becomes the f32 bits b << 16
    for (; k + 4 <= n; k += 4) {
      long a = src.get(I64, srcOff + 2 * k);
      dst.set(I64, dstOff + 4 * k, ((a & 0xFFFFL) << 16) | ((a & 0xFFFF0000L) << 32));
      long c = a >>> 32;
      dst.set(I64, dstOff + 4 * k + 8, ((c & 0xFFFFL) << 16) | ((c & 0xFFFF0000L) << 32));
    }
    for (; k < n; k++) {
      dst.set(F32, dstOff + 4 * k, widen(src.get(I16, srcOff + 2 * k)));
    }
  }

  /**
   * bf16 {@code dst} = stochastically rounded f32 {@code src}, {@code n} values, the first
   * being parameter {@code firstIndex} of the core.
   */
  public static void round(MemorySegment src, long srcOff, MemorySegment dst, long dstOff,
      long n, long key, long firstIndex) {
    if (NEAREST) {
      nearest(src, srcOff, dst, dstOff, n);
      return;
    }
    bulk().round(src, srcOff, dst, dstOff, n, key, firstIndex);
  }

  /**
   * {@link #round(MemorySegment, long, MemorySegment, long, long, long, long)} in scalar code
   * (stochastic rounding always).
   */
  static void roundScalar(MemorySegment src, long srcOff, MemorySegment dst, long dstOff,
      long n, long key, long firstIndex) {
    long k = 0;
    // four parameters share one hash
    for (; k < n && ((firstIndex + k) & 3) != 0; k++) {
      dst.set(I16, dstOff + 2 * k, round(src.get(F32, srcOff + 4 * k),
          bits(key, firstIndex + k)));
    }
    // four values per step: two 64-bit loads, one 64-bit store
    for (; k + 4 <= n; k += 4) {
      long z = CoreFile.mix(key + ((firstIndex + k) >>> 2) * GOLDEN);
      long x0 = src.get(I64, srcOff + 4 * k);
      long x1 = src.get(I64, srcOff + 4 * k + 8);
      long q = roundBits((int) x0, (int) z & 0xffff)
          | (long) roundBits((int) (x0 >>> 32), (int) (z >>> 16) & 0xffff) << 16
          | (long) roundBits((int) x1, (int) (z >>> 32) & 0xffff) << 32
          | (long) roundBits((int) (x1 >>> 32), (int) (z >>> 48) & 0xffff) << 48;
      dst.set(I64, dstOff + 2 * k, q);
    }
    for (; k < n; k++) {
      dst.set(I16, dstOff + 2 * k, round(src.get(F32, srcOff + 4 * k),
          bits(key, firstIndex + k)));
    }
  }

  /** Values per warm-up call: 1 MB of bf16, 2 MB of f32. */
  private static final int WARM_VALUES = 1 << 19;

  /**
   * Compiles the bulk conversions for training (three conversions of every layer a step; an
   * evaluation: {@link #warmUpScalar}): the vector ones where they can run (for up to four
   * seconds: 1.2-1.9 s on the Intel development machine, most of it interpreting and compiling
   * the Vector API's own code), then they replace the scalar loops ({@link #vectorInUse}); else, or
   * when they did not get fast in time, the scalar loops (for up to two seconds: 0.14-0.22 s).
   * Each runs on scratch segments of the kind the cores use (native, shared arena) until it
   * runs at compiled speed three times in a row: scalar under 6 and 12 ns a value (interpreted
   * 50 and more), vector under 1.5 and 2.5 (C1's code 3-140, C2's 0.3-0.7). Without it a bf16
   * run's first step pays for the compilation: 0.56-0.60 s against 0.22 s for the next steps at
   * 1M layers with the scalar loops (docs/decisions.md). Changes nothing a run can see but its
   * speed.
   *
   * @return seconds spent
   */
  public static double warmUp() {
    return warmUp(true);
  }

  /**
   * {@link #warmUp()} of the scalar loops alone, for work that converts the core once (an
   * evaluation reads each layer once: at 10M layers the scalar widening takes about 0.2 s of
   * the I/O thread's time, less than the vector code's warm-up).
   *
   * @return seconds spent
   */
  public static double warmUpScalar() {
    return warmUp(false);
  }

  private static double warmUp(boolean vector) {
    long t0 = System.nanoTime();
    Bulk v = vector ? Chosen.VECTOR : null;
    if (!vectorWarm && v != null && warm(v, 4_000_000_000L, true)) {
      vectorWarm = true;
    }
    if (!vectorWarm) {
      warm(SCALAR, 2_000_000_000L, false);
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  /**
   * Runs {@code bulk} until it is fast three times in a row (and, with {@code quiet}, the JIT
   * has compiled nothing for {@link #QUIET_MS}) or {@code ns} pass: whether it got there.
   */
  private static boolean warm(Bulk bulk, long ns, boolean quiet) {
    long deadline = System.nanoTime() + ns;
    JitQuiet jit = new JitQuiet();
    try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared()) {
      MemorySegment b = arena.allocate(2L * WARM_VALUES, 64);
      MemorySegment f = arena.allocate(4L * WARM_VALUES, 64);
      int fast = 0;
      for (long r = 0; (fast < 3 || quiet && !jit.quietFor(QUIET_MS))
          && System.nanoTime() < deadline; r++) {
        jit.poll();
        long t = System.nanoTime();
        bulk.widen(b, 0, f, 0, WARM_VALUES);
        long tw = System.nanoTime() - t;
        t = System.nanoTime();
        bulk.round(f, 0, b, 0, WARM_VALUES, r, r * WARM_VALUES);
        long tr = System.nanoTime() - t;
        fast = tw < bulk.compiledWidenNs() * WARM_VALUES
            && tr < bulk.compiledRoundNs() * WARM_VALUES ? fast + 1 : 0;
      }
      return fast >= 3;
    }
  }

  /**
   * How long the JIT must have been idle before the vector conversions' warm-up ends: the
   * Vector API's own methods are still being compiled after the conversions run fast (seen
   * with {@code -XX:+PrintCompilation} during a run's first step), as for the kernels
   * ({@link JitQuiet}).
   */
  private static final long QUIET_MS = 150;

  /** bf16 {@code dst} = f32 {@code src} rounded to nearest, {@code n} values. */
  public static void nearest(MemorySegment src, long srcOff, MemorySegment dst, long dstOff,
      long n) {
    for (long k = 0; k < n; k++) {
      dst.set(I16, dstOff + 2 * k, nearest(src.get(F32, srcOff + 4 * k)));
    }
  }
}
