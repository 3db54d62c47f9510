package dev.abyss.kernel;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Batch 1 at widths 4 and 8 in vector rows (128-bit and 256-bit): a layer's outputs in the
 * lanes of one vector, each row of W one vector load, h or dh in one register from layer to
 * layer. Lane o runs the scalar kernel's operations for output o (for dh, input i) in their
 * order, as {@link Narrow} does, so the bits are the scalar oracle's (tested); for dh the
 * columns of W come from the rows by two-source permutes (a 4 x 4 or 8 x 8 transpose). The
 * forward takes softsign and ReLU; tanh stays in {@link Narrow}, lane for lane the same
 * function. The backward takes any activation (act'(z) comes saved). Width 8 only where the
 * kernels' vectors are at least 256 bits.
 */
final class Rows {
  private Rows() {}

  static final VectorSpecies<Float> Q = FloatVector.SPECIES_128;
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  private static final long LB = 80;

  /** Whether the forward of this activation runs here. */
  static boolean forwardApplies(Activation act) {
    return act == Activation.SOFTSIGN || act == Activation.RELU;
  }

  // every lane takes lane k
  private static final VectorShuffle<Float> B0 = VectorShuffle.fromOp(Q, l -> 0);
  private static final VectorShuffle<Float> B1 = VectorShuffle.fromOp(Q, l -> 1);
  private static final VectorShuffle<Float> B2 = VectorShuffle.fromOp(Q, l -> 2);
  private static final VectorShuffle<Float> B3 = VectorShuffle.fromOp(Q, l -> 3);

  /**
   * Width 4, batch 1, {@code count} layers forward from byte offset {@code off}, h (4) in place;
   * with {@code hSave} non-null also saving layer l's input and act'(z) at {@code [4 l]}.
   */
  static void forward(MemorySegment wts, long off, int count, float alpha, Activation act,
      float[] h, float[] hSave, float[] dSave) {
    FloatVector hv = FloatVector.fromArray(Q, h, 0);
    FloatVector va = FloatVector.broadcast(Q, alpha);
    FloatVector one = FloatVector.broadcast(Q, 1f);
    FloatVector zero = FloatVector.zero(Q);
    boolean softsign = act == Activation.SOFTSIGN;
    boolean save = hSave != null;
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      if (save) {
        hv.intoArray(hSave, 4 * l);
      }
      FloatVector z = FloatVector.fromMemorySegment(Q, wts, p + 64, LE);
      z = hv.rearrange(B0).fma(FloatVector.fromMemorySegment(Q, wts, p, LE), z);
      z = hv.rearrange(B1).fma(FloatVector.fromMemorySegment(Q, wts, p + 16, LE), z);
      z = hv.rearrange(B2).fma(FloatVector.fromMemorySegment(Q, wts, p + 32, LE), z);
      z = hv.rearrange(B3).fma(FloatVector.fromMemorySegment(Q, wts, p + 48, LE), z);
      FloatVector a;
      if (softsign) {
        a = z.div(z.abs().add(1f));
        if (save) {
          FloatVector r = one.sub(a.abs());
          r.mul(r).intoArray(dSave, 4 * l);
        }
      } else {
        var pos = z.compare(VectorOperators.GT, 0f);
        a = zero.blend(z, pos);
        if (save) {
          zero.blend(one, pos).intoArray(dSave, 4 * l);
        }
      }
      hv = a.fma(va, hv);
    }
    hv.intoArray(h, 0);
  }

  /**
   * Backward and SGD update over {@code count} layers, last first, dh (4) in place; with
   * {@code grads} non-null, layer l's gW (16) and gb (4) are written at {@code grads[20 l]}.
   * Lane i of dh runs input i's fused multiply-adds over the outputs in order, on the columns
   * of W (a 4 x 4 transpose of the rows by eight two-source permutes); the gradients are
   * one-term sums from zero, as the scalar kernel's. The permute indices are computed here
   * from lane numbers: the loop stores to the segment, so static ones would be reloaded every
   * layer (see {@link Width4#updates}).
   */
  static void backwardUpdate(MemorySegment wts, long off, int count, float alpha, float lr,
      float[] hSave, float[] dSave, float[] dh, float[] grads) {
    IntVector iota = IntVector.zero(IntVector.SPECIES_128).addIndex(1);
    IntVector half = iota.lanewise(VectorOperators.ASHR, 1);
    IntVector odd = iota.and(1);
    // unpack: [0, 4, 1, 5] and [2, 6, 3, 7]; then [0, 1, 4, 5] and [2, 3, 6, 7]
    FloatVector lo = (FloatVector) half.add(odd.mul(4)).convert(VectorOperators.I2F, 0);
    FloatVector hi = lo.add(2f);
    FloatVector pl = (FloatVector) odd.add(half.mul(4)).convert(VectorOperators.I2F, 0);
    FloatVector ph = pl.add(2f);
    // broadcasts of lane k
    FloatVector k0 = FloatVector.zero(Q);
    FloatVector k1 = FloatVector.broadcast(Q, 1f);
    FloatVector k2 = FloatVector.broadcast(Q, 2f);
    FloatVector k3 = FloatVector.broadcast(Q, 3f);
    FloatVector zero = FloatVector.zero(Q);
    FloatVector dv = FloatVector.fromArray(Q, dh, 0);
    for (int l = count - 1; l >= 0; l--) {
      long p = off + l * LB;
      FloatVector g = dv.mul(alpha).mul(FloatVector.fromArray(Q, dSave, 4 * l));
      FloatVector x = FloatVector.fromArray(Q, hSave, 4 * l);
      FloatVector r0 = FloatVector.fromMemorySegment(Q, wts, p, LE);
      FloatVector r1 = FloatVector.fromMemorySegment(Q, wts, p + 16, LE);
      FloatVector r2 = FloatVector.fromMemorySegment(Q, wts, p + 32, LE);
      FloatVector r3 = FloatVector.fromMemorySegment(Q, wts, p + 48, LE);
      FloatVector bv = FloatVector.fromMemorySegment(Q, wts, p + 64, LE);
      FloatVector t0 = lo.selectFrom(r0, r1);
      FloatVector t1 = lo.selectFrom(r2, r3);
      FloatVector t2 = hi.selectFrom(r0, r1);
      FloatVector t3 = hi.selectFrom(r2, r3);
      // dh_i = fma(g_o, W[i][o], dh_i) for o = 0..3, W before the update
      dv = k0.selectFrom(g).fma(pl.selectFrom(t0, t1), dv);
      dv = k1.selectFrom(g).fma(ph.selectFrom(t0, t1), dv);
      dv = k2.selectFrom(g).fma(pl.selectFrom(t2, t3), dv);
      dv = k3.selectFrom(g).fma(ph.selectFrom(t2, t3), dv);
      FloatVector gw0 = zero.add(k0.selectFrom(x).mul(g));
      FloatVector gw1 = zero.add(k1.selectFrom(x).mul(g));
      FloatVector gw2 = zero.add(k2.selectFrom(x).mul(g));
      FloatVector gw3 = zero.add(k3.selectFrom(x).mul(g));
      FloatVector gb = zero.add(g);
      if (grads != null) {
        gw0.intoArray(grads, 20 * l);
        gw1.intoArray(grads, 20 * l + 4);
        gw2.intoArray(grads, 20 * l + 8);
        gw3.intoArray(grads, 20 * l + 12);
        gb.intoArray(grads, 20 * l + 16);
      }
      r0.sub(gw0.mul(lr)).intoMemorySegment(wts, p, LE);
      r1.sub(gw1.mul(lr)).intoMemorySegment(wts, p + 16, LE);
      r2.sub(gw2.mul(lr)).intoMemorySegment(wts, p + 32, LE);
      r3.sub(gw3.mul(lr)).intoMemorySegment(wts, p + 48, LE);
      bv.sub(gb.mul(lr)).intoMemorySegment(wts, p + 64, LE);
    }
    dv.intoArray(dh, 0);
  }

  // ---- width 8, batch 1: the same forward in 256-bit vectors ----------------------------

  static final VectorSpecies<Float> E = FloatVector.SPECIES_256;
  private static final long LB8 = 4L * (8 * 8 + 8);
  private static final VectorShuffle<Float> E0 = VectorShuffle.fromOp(E, l -> 0);
  private static final VectorShuffle<Float> E1 = VectorShuffle.fromOp(E, l -> 1);
  private static final VectorShuffle<Float> E2 = VectorShuffle.fromOp(E, l -> 2);
  private static final VectorShuffle<Float> E3 = VectorShuffle.fromOp(E, l -> 3);
  private static final VectorShuffle<Float> E4 = VectorShuffle.fromOp(E, l -> 4);
  private static final VectorShuffle<Float> E5 = VectorShuffle.fromOp(E, l -> 5);
  private static final VectorShuffle<Float> E6 = VectorShuffle.fromOp(E, l -> 6);
  private static final VectorShuffle<Float> E7 = VectorShuffle.fromOp(E, l -> 7);

  /**
   * Width 8, batch 1, {@code count} layers forward, h (8) in place; with {@code hSave} non-null
   * also saving layer l's input and act'(z) at {@code [8 l]}. As {@link #forward} with rows of
   * eight: z from b by fused multiply-adds over the eight inputs in order.
   */
  static void forward8(MemorySegment wts, long off, int count, float alpha, Activation act,
      float[] h, float[] hSave, float[] dSave) {
    FloatVector hv = FloatVector.fromArray(E, h, 0);
    FloatVector va = FloatVector.broadcast(E, alpha);
    FloatVector one = FloatVector.broadcast(E, 1f);
    FloatVector zero = FloatVector.zero(E);
    boolean softsign = act == Activation.SOFTSIGN;
    boolean save = hSave != null;
    for (int l = 0; l < count; l++) {
      long p = off + l * LB8;
      if (save) {
        hv.intoArray(hSave, 8 * l);
      }
      FloatVector z = FloatVector.fromMemorySegment(E, wts, p + 256, LE);
      z = hv.rearrange(E0).fma(FloatVector.fromMemorySegment(E, wts, p, LE), z);
      z = hv.rearrange(E1).fma(FloatVector.fromMemorySegment(E, wts, p + 32, LE), z);
      z = hv.rearrange(E2).fma(FloatVector.fromMemorySegment(E, wts, p + 64, LE), z);
      z = hv.rearrange(E3).fma(FloatVector.fromMemorySegment(E, wts, p + 96, LE), z);
      z = hv.rearrange(E4).fma(FloatVector.fromMemorySegment(E, wts, p + 128, LE), z);
      z = hv.rearrange(E5).fma(FloatVector.fromMemorySegment(E, wts, p + 160, LE), z);
      z = hv.rearrange(E6).fma(FloatVector.fromMemorySegment(E, wts, p + 192, LE), z);
      z = hv.rearrange(E7).fma(FloatVector.fromMemorySegment(E, wts, p + 224, LE), z);
      FloatVector a;
      if (softsign) {
        a = z.div(z.abs().add(1f));
        if (save) {
          FloatVector r = one.sub(a.abs());
          r.mul(r).intoArray(dSave, 8 * l);
        }
      } else {
        var pos = z.compare(VectorOperators.GT, 0f);
        a = zero.blend(z, pos);
        if (save) {
          zero.blend(one, pos).intoArray(dSave, 8 * l);
        }
      }
      hv = a.fma(va, hv);
    }
    hv.intoArray(h, 0);
  }

  /**
   * Width 8, batch 1: as {@link #backwardUpdate} with rows of eight; the columns of W come from
   * an 8 x 8 transpose of the rows (24 two-source permutes, indices computed here).
   */
  static void backwardUpdate8(MemorySegment wts, long off, int count, float alpha, float lr,
      float[] hSave, float[] dSave, float[] dh, float[] grads) {
    IntVector iota = IntVector.zero(IntVector.SPECIES_256).addIndex(1);
    IntVector half = iota.lanewise(VectorOperators.ASHR, 1);
    IntVector odd = iota.and(1);
    // [0, 8, 1, 9, 2, 10, 3, 11]: interleave the low halves of two rows
    FloatVector ia = (FloatVector) half.add(odd.mul(8)).convert(VectorOperators.I2F, 0);
    FloatVector ib = ia.add(4f);
    // [0, 1, 8, 9, 2, 3, 10, 11]: interleave pairs
    FloatVector ic = (FloatVector) odd.add(half.and(1).mul(8)).add(
        iota.lanewise(VectorOperators.ASHR, 2).mul(2)).convert(VectorOperators.I2F, 0);
    FloatVector id = ic.add(4f);
    // [0, 1, 2, 3, 8, 9, 10, 11]: interleave quads
    FloatVector ie = (FloatVector) iota.and(3).add(iota.lanewise(VectorOperators.ASHR, 2)
        .mul(8)).convert(VectorOperators.I2F, 0);
    FloatVector jf = ie.add(4f);
    FloatVector k0 = FloatVector.zero(E);
    FloatVector k1 = FloatVector.broadcast(E, 1f);
    FloatVector k2 = FloatVector.broadcast(E, 2f);
    FloatVector k3 = FloatVector.broadcast(E, 3f);
    FloatVector k4 = FloatVector.broadcast(E, 4f);
    FloatVector k5 = FloatVector.broadcast(E, 5f);
    FloatVector k6 = FloatVector.broadcast(E, 6f);
    FloatVector k7 = FloatVector.broadcast(E, 7f);
    FloatVector zero = FloatVector.zero(E);
    FloatVector dv = FloatVector.fromArray(E, dh, 0);
    for (int l = count - 1; l >= 0; l--) {
      long p = off + l * LB8;
      FloatVector g = dv.mul(alpha).mul(FloatVector.fromArray(E, dSave, 8 * l));
      FloatVector x = FloatVector.fromArray(E, hSave, 8 * l);
      FloatVector r0 = FloatVector.fromMemorySegment(E, wts, p, LE);
      FloatVector r1 = FloatVector.fromMemorySegment(E, wts, p + 32, LE);
      FloatVector r2 = FloatVector.fromMemorySegment(E, wts, p + 64, LE);
      FloatVector r3 = FloatVector.fromMemorySegment(E, wts, p + 96, LE);
      FloatVector r4 = FloatVector.fromMemorySegment(E, wts, p + 128, LE);
      FloatVector r5 = FloatVector.fromMemorySegment(E, wts, p + 160, LE);
      FloatVector r6 = FloatVector.fromMemorySegment(E, wts, p + 192, LE);
      FloatVector r7 = FloatVector.fromMemorySegment(E, wts, p + 224, LE);
      FloatVector bv = FloatVector.fromMemorySegment(E, wts, p + 256, LE);
      // the transpose: columns c_o, lane i = W[i][o]
      FloatVector a0 = ia.selectFrom(r0, r1);
      FloatVector a1 = ia.selectFrom(r2, r3);
      FloatVector a2 = ia.selectFrom(r4, r5);
      FloatVector a3 = ia.selectFrom(r6, r7);
      FloatVector b0 = ib.selectFrom(r0, r1);
      FloatVector b1 = ib.selectFrom(r2, r3);
      FloatVector b2 = ib.selectFrom(r4, r5);
      FloatVector b3 = ib.selectFrom(r6, r7);
      FloatVector c = ic.selectFrom(a0, a1);
      FloatVector d = id.selectFrom(a0, a1);
      FloatVector cc = ic.selectFrom(a2, a3);
      FloatVector dd = id.selectFrom(a2, a3);
      FloatVector e = ic.selectFrom(b0, b1);
      FloatVector f = id.selectFrom(b0, b1);
      FloatVector ee = ic.selectFrom(b2, b3);
      FloatVector ff = id.selectFrom(b2, b3);
      // dh_i = fma(g_o, W[i][o], dh_i) for o = 0..7, W before the update
      dv = k0.selectFrom(g).fma(ie.selectFrom(c, cc), dv);
      dv = k1.selectFrom(g).fma(jf.selectFrom(c, cc), dv);
      dv = k2.selectFrom(g).fma(ie.selectFrom(d, dd), dv);
      dv = k3.selectFrom(g).fma(jf.selectFrom(d, dd), dv);
      dv = k4.selectFrom(g).fma(ie.selectFrom(e, ee), dv);
      dv = k5.selectFrom(g).fma(jf.selectFrom(e, ee), dv);
      dv = k6.selectFrom(g).fma(ie.selectFrom(f, ff), dv);
      dv = k7.selectFrom(g).fma(jf.selectFrom(f, ff), dv);
      FloatVector gw0 = zero.add(k0.selectFrom(x).mul(g));
      FloatVector gw1 = zero.add(k1.selectFrom(x).mul(g));
      FloatVector gw2 = zero.add(k2.selectFrom(x).mul(g));
      FloatVector gw3 = zero.add(k3.selectFrom(x).mul(g));
      FloatVector gw4 = zero.add(k4.selectFrom(x).mul(g));
      FloatVector gw5 = zero.add(k5.selectFrom(x).mul(g));
      FloatVector gw6 = zero.add(k6.selectFrom(x).mul(g));
      FloatVector gw7 = zero.add(k7.selectFrom(x).mul(g));
      FloatVector gb = zero.add(g);
      if (grads != null) {
        int q = 72 * l;
        gw0.intoArray(grads, q);
        gw1.intoArray(grads, q + 8);
        gw2.intoArray(grads, q + 16);
        gw3.intoArray(grads, q + 24);
        gw4.intoArray(grads, q + 32);
        gw5.intoArray(grads, q + 40);
        gw6.intoArray(grads, q + 48);
        gw7.intoArray(grads, q + 56);
        gb.intoArray(grads, q + 64);
      }
      r0.sub(gw0.mul(lr)).intoMemorySegment(wts, p, LE);
      r1.sub(gw1.mul(lr)).intoMemorySegment(wts, p + 32, LE);
      r2.sub(gw2.mul(lr)).intoMemorySegment(wts, p + 64, LE);
      r3.sub(gw3.mul(lr)).intoMemorySegment(wts, p + 96, LE);
      r4.sub(gw4.mul(lr)).intoMemorySegment(wts, p + 128, LE);
      r5.sub(gw5.mul(lr)).intoMemorySegment(wts, p + 160, LE);
      r6.sub(gw6.mul(lr)).intoMemorySegment(wts, p + 192, LE);
      r7.sub(gw7.mul(lr)).intoMemorySegment(wts, p + 224, LE);
      bv.sub(gb.mul(lr)).intoMemorySegment(wts, p + 256, LE);
    }
    dv.intoArray(dh, 0);
  }
}
