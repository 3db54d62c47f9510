package dev.abyss.store;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The bulk bf16 conversions of {@link Bf16} in Vector API code: the same bits as its scalar
 * loops ({@link Bf16#widenScalar}, {@link Bf16#roundScalar}), which are their oracle (tested
 * at 128, 256 and 512 bits). The width is the kernels' ({@code abyss.vectorBits}, else the
 * CPU's). Loaded by name, only where the vector kernels run, so that no other path touches the
 * incubator module.
 *
 * <p>Widening is a sign extension of 16-bit lanes to 32 and a shift left by 16 (the extension's
 * bits are shifted out). Rounding draws the 16 random bits of parameter i as piece {@code i & 3}
 * of the hash of {@code i >>> 2} ({@link Bf16#bits}): the hashes of consecutive groups of four
 * parameters are the lanes of one long vector, and read as 16-bit lanes (little-endian) they
 * are the parameters' random bits in order. The rare infinities and NaNs are blended in from
 * their own formula, as the scalar path branches to it.
 */
final class Bf16Vector implements Bf16.Bulk {
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  private static final long GOLDEN = 0x9E3779B97F4A7C15L;
  private static final long MIX1 = 0xff51afd7ed558ccdL;
  private static final long MIX2 = 0xc4ceb9fe1a85ec53L;
  private static final int EXPONENT = 0x7f800000;

  // static final, so that C2 sees constant species (from instance fields every operation
  // would run boxed, 10-20 times slower)
  private static final int BITS = bits();
  private static final VectorSpecies<Integer> SI =
      VectorSpecies.of(int.class, VectorShape.forBitSize(BITS));
  private static final VectorSpecies<Short> SH =
      VectorSpecies.of(short.class, VectorShape.forBitSize(BITS / 2));
  private static final VectorSpecies<Long> SL =
      VectorSpecies.of(long.class, VectorShape.forBitSize(BITS));
  /** Values per widening step (the int lanes) and per rounding step (four per long lane). */
  private static final int WSTEP = SI.length();
  private static final int RSTEP = 4 * SL.length();

  /** The vector width: {@code abyss.vectorBits} (128, 256 or 512), else the CPU's. */
  private static int bits() {
    String b = System.getProperty("abyss.vectorBits", "");
    return switch (b) {
      case "128", "256", "512" -> Integer.parseInt(b);
      default -> IntVector.SPECIES_PREFERRED.vectorBitSize();
    };
  }

  @Override
  public String toString() {
    return "vector-" + BITS;
  }

  @Override
  public void widen(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long n) {
    long k = 0;
    for (; k + WSTEP <= n; k += WSTEP) {
      ShortVector s = ShortVector.fromMemorySegment(SH, src, srcOff + 2 * k, LE);
      ((IntVector) s.convertShape(VectorOperators.S2I, SI, 0))
          .lanewise(VectorOperators.LSHL, 16)
          .intoMemorySegment(dst, dstOff + 4 * k, LE);
    }
    if (k < n) {
      Bf16.widenScalar(src, srcOff + 2 * k, dst, dstOff + 4 * k, n - k);
    }
  }

  @Override
  public void round(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long n,
      long key, long firstIndex) {
    // up to three values first, so that the vector steps start at a multiple of four
    long k = Math.min(n, (4 - (firstIndex & 3)) & 3);
    if (k > 0) {
      Bf16.roundScalar(src, srcOff, dst, dstOff, k, key, firstIndex);
    }
    LongVector iota = (LongVector) LongVector.zero(SL).addIndex(1);
    IntVector exponent = IntVector.broadcast(SI, EXPONENT);
    IntVector zero = IntVector.zero(SI);
    int half = RSTEP / 2;
    for (; k + RSTEP <= n; k += RSTEP) {
      // the hashes of parameter groups (firstIndex + k) / 4 + j, j = 0 .. lanes - 1
      LongVector z = iota.add((firstIndex + k) >>> 2).mul(GOLDEN).add(key);
      z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 33)).mul(MIX1);
      z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 33)).mul(MIX2);
      z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 33));
      ShortVector r = z.reinterpretAsShorts();
      for (int part = 0; part < 2; part++) {
        long v = k + (long) part * half;
        IntVector rb = ((IntVector) r.convertShape(VectorOperators.S2I, SI, part))
            .lanewise(VectorOperators.AND, 0xffff);
        IntVector b = IntVector.fromMemorySegment(SI, src, srcOff + 4 * v, LE);
        IntVector q = b.add(rb).lanewise(VectorOperators.LSHR, 16);
        VectorMask<Integer> special = b.and(exponent).eq(exponent);
        if (special.anyTrue()) {
          // infinities keep their sign; NaNs stay NaN (a quiet bit set in what remains)
          IntVector quiet = zero.blend(0x40,
              b.and(0x007fffff).compare(VectorOperators.NE, 0));
          q = q.blend(b.lanewise(VectorOperators.LSHR, 16).or(quiet), special);
        }
        ((ShortVector) q.convertShape(VectorOperators.I2S, SH, 0))
            .intoMemorySegment(dst, dstOff + 2 * v, LE);
      }
    }
    if (k < n) {
      Bf16.roundScalar(src, srcOff + 4 * k, dst, dstOff + 2 * k, n - k, key, firstIndex + k);
    }
  }

  @Override
  public double compiledWidenNs() {
    return 1.5;
  }

  @Override
  public double compiledRoundNs() {
    return 2.5;
  }
}
