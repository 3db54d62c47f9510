package dev.abyss.nn;

import java.util.SplittableRandom;

/**
 * The parameters of a 784 -> mid -> 10 two-layer map, in one float array laid out as the
 * reference program's raw head: W1 (784 x mid, pixel-major), b1 (mid), W2 (mid x 10,
 * mid-major), b2 (10). For the residual net mid is the core width (W1/b1 the input
 * projection, W2/b2 the classifier); for the MLP baseline it is the hidden size.
 */
public final class HeadParams {
  public static final int INPUTS = 784;
  public static final int CLASSES = 10;

  public final int mid;
  public final float[] p;
  public final int w1;
  public final int b1;
  public final int w2;
  public final int b2;

  public HeadParams(int mid, float[] p) {
    this.mid = mid;
    this.w1 = 0;
    this.b1 = INPUTS * mid;
    this.w2 = b1 + mid;
    this.b2 = w2 + mid * CLASSES;
    if (p.length != b2 + CLASSES) {
      throw new IllegalArgumentException("head of size " + mid + " needs " + (b2 + CLASSES)
          + " floats, got " + p.length);
    }
    this.p = p;
  }

  public static int floats(int mid) {
    return INPUTS * mid + mid + mid * CLASSES + CLASSES;
  }

  /** A zeroed buffer of the same shape (for gradients). */
  public HeadParams zerosLike() {
    return new HeadParams(mid, new float[p.length]);
  }

  /**
   * Glorot-uniform W1 and W2 (limit sqrt(6 / (fan_in + fan_out))), zero biases, drawn in
   * that order from {@code SplittableRandom(seed)}.
   */
  public static HeadParams glorot(int mid, long seed) {
    HeadParams h = new HeadParams(mid, new float[floats(mid)]);
    SplittableRandom r = new SplittableRandom(seed);
    double l1 = Math.sqrt(6.0 / (INPUTS + mid));
    for (int k = 0; k < INPUTS * mid; k++) {
      h.p[h.w1 + k] = (float) ((2 * r.nextDouble() - 1) * l1);
    }
    double l2 = Math.sqrt(6.0 / (mid + CLASSES));
    for (int k = 0; k < mid * CLASSES; k++) {
      h.p[h.w2 + k] = (float) ((2 * r.nextDouble() - 1) * l2);
    }
    return h;
  }

  /** {@code p -= lr * g} over the first layer (W1, b1). */
  public void sgdFirst(float lr, HeadParams g) {
    for (int k = w1; k < w2; k++) {
      p[k] -= lr * g.p[k];
    }
  }

  /** {@code p -= lr * g} over the second layer (W2, b2). */
  public void sgdSecond(float lr, HeadParams g) {
    for (int k = w2; k < p.length; k++) {
      p[k] -= lr * g.p[k];
    }
  }
}
