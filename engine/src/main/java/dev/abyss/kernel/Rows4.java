package dev.abyss.kernel;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Width 4, batch 1 in 128-bit vectors: a layer's four outputs in the four lanes of one vector,
 * each row of W one vector load, h or dh in one register from layer to layer. Lane o runs the
 * scalar kernel's operations for output o (for dh, input i) in their order, as {@link Narrow}
 * does, so the bits are the scalar oracle's (tested). The forward takes softsign and ReLU;
 * tanh stays in {@link Narrow}, lane for lane the same function. The backward takes any
 * activation (act'(z) comes saved).
 */
final class Rows4 {
  private Rows4() {}

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

  private static FloatVector act(Activation act, FloatVector z) {
    return act == Activation.SOFTSIGN ? z.div(z.abs().add(1f))
        : FloatVector.zero(Q).blend(z, z.compare(VectorOperators.GT, 0f));
  }

  /** {@code count} layers forward from byte offset {@code off}, h (4) in place. */
  static void forward(MemorySegment wts, long off, int count, float alpha, Activation act,
      float[] h) {
    FloatVector hv = FloatVector.fromArray(Q, h, 0);
    FloatVector va = FloatVector.broadcast(Q, alpha);
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      FloatVector z = FloatVector.fromMemorySegment(Q, wts, p + 64, LE);
      z = hv.rearrange(B0).fma(FloatVector.fromMemorySegment(Q, wts, p, LE), z);
      z = hv.rearrange(B1).fma(FloatVector.fromMemorySegment(Q, wts, p + 16, LE), z);
      z = hv.rearrange(B2).fma(FloatVector.fromMemorySegment(Q, wts, p + 32, LE), z);
      z = hv.rearrange(B3).fma(FloatVector.fromMemorySegment(Q, wts, p + 48, LE), z);
      hv = act(act, z).fma(va, hv);
    }
    hv.intoArray(h, 0);
  }

  /**
   * {@code count} layers forward, saving layer l's input at {@code hSave[4 l]} and act'(z) at
   * {@code dSave[4 l]}.
   */
  static void forwardSave(MemorySegment wts, long off, int count, float alpha, Activation act,
      float[] h, float[] hSave, float[] dSave) {
    FloatVector hv = FloatVector.fromArray(Q, h, 0);
    FloatVector va = FloatVector.broadcast(Q, alpha);
    FloatVector one = FloatVector.broadcast(Q, 1f);
    FloatVector zero = FloatVector.zero(Q);
    boolean softsign = act == Activation.SOFTSIGN;
    for (int l = 0; l < count; l++) {
      long p = off + l * LB;
      hv.intoArray(hSave, 4 * l);
      FloatVector z = FloatVector.fromMemorySegment(Q, wts, p + 64, LE);
      z = hv.rearrange(B0).fma(FloatVector.fromMemorySegment(Q, wts, p, LE), z);
      z = hv.rearrange(B1).fma(FloatVector.fromMemorySegment(Q, wts, p + 16, LE), z);
      z = hv.rearrange(B2).fma(FloatVector.fromMemorySegment(Q, wts, p + 32, LE), z);
      z = hv.rearrange(B3).fma(FloatVector.fromMemorySegment(Q, wts, p + 48, LE), z);
      FloatVector a;
      if (softsign) {
        a = z.div(z.abs().add(1f));
        FloatVector r = one.sub(a.abs());
        r.mul(r).intoArray(dSave, 4 * l);
      } else {
        var pos = z.compare(VectorOperators.GT, 0f);
        a = zero.blend(z, pos);
        zero.blend(one, pos).intoArray(dSave, 4 * l);
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
}
