package dev.abyss.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The float derivatives against the exact ones. Softsign's is (1 - |a|)^2 from a = act(z), not
 * 1 / (1 + |z|)^2 by a second division: 1 - |a| is exact (Sterbenz) but inherits a's rounding,
 * so its relative error grows with |z|, about 2^-24 (1 + |z|).
 */
class ActivationTest {

  @Test
  void softsignDerivativeWithinItsBound() {
    double worst = 0;
    float worstAt = 0;
    // every 64th float from 0 to 1e4, both signs
    for (int bits = 0; bits <= Float.floatToRawIntBits(1e4f); bits += 64) {
      for (float z : new float[] {Float.intBitsToFloat(bits), -Float.intBitsToFloat(bits)}) {
        double d = 1 + Math.abs((double) z);
        double want = 1 / (d * d);
        double rel = Math.abs(Activation.SOFTSIGN.derivative(z) - want) / want;
        // in units of the bound: 2^-23 (1 + |z|) + 2^-22
        double units = rel / (Math.scalb(d, -23) + Math.scalb(1.0, -22));
        if (units > worst) {
          worst = units;
          worstAt = z;
        }
      }
    }
    System.out.printf("softsign act': worst %.3f of the bound at z = %g%n", worst, worstAt);
    assertTrue(worst <= 1, "worst " + worst + " of the bound at z = " + worstAt);
    assertEquals(1f, Activation.SOFTSIGN.derivative(0f));
    assertEquals(0f, Activation.SOFTSIGN.derivative(Float.MAX_VALUE));
  }

  @Test
  void derivativesMatchFiniteDifferences() {
    for (Activation act : Activation.values()) {
      for (double z = -3.05; z < 3; z += 0.1) {
        double h = 1e-6;
        double fd = (act.applyDouble(z + h) - act.applyDouble(z - h)) / (2 * h);
        assertEquals(fd, act.derivative((float) z), 2e-6, act + " at " + z);
      }
    }
  }
}
