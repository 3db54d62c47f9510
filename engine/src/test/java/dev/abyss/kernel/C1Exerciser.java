package dev.abyss.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Runs every chunk kernel of {@link VectorKernels} often enough for the JIT to compile it, on
 * small segments: the child process of {@link KernelsCompileUnderC1Test}, which runs it with
 * C1 only and reads the JVM's compilation log.
 */
final class C1Exerciser {
  private C1Exerciser() {}

  /** {width, batch}: each reaches different chunk kernels (see VectorKernels' dispatch). */
  static final int[][] SHAPES = {
    {4, 16}, {4, 48}, {4, 8}, {8, 16}, {8, 8}, {4, 1}, {8, 1}, {16, 16}, {32, 1}
  };

  public static void main(String[] args) {
    int calls = Integer.parseInt(args[0]);
    int layers = 16;
    try (Arena arena = Arena.ofConfined()) {
      for (int[] s : SHAPES) {
        int w = s[0];
        int batch = s[1];
        int n = w * batch;
        long lb = Kernels.layerBytes(w);
        MemorySegment ws = arena.allocate(layers * lb, 64);
        for (long o = 0; o < ws.byteSize(); o += 4) {
          ws.set(Kernels.F32, o, (float) (((o * 2654435761L) % 997) * 1e-3 - 0.5));
        }
        float[] h = new float[n];
        float[] z = new float[n];
        float[] dh = new float[n];
        float[] g = new float[n];
        float[] gW = new float[w * w];
        float[] gb = new float[w];
        float[] hs = new float[layers * n];
        float[] ds = new float[layers * n];
        float[] h2 = new float[n];
        float[] hs2 = new float[layers * n];
        float[] ds2 = new float[layers * n];
        for (Activation act : Activation.values()) {
          Kernels k = new VectorKernels();
          for (int c = 0; c < calls; c++) {
            java.util.Arrays.fill(h, 0.3f);
            java.util.Arrays.fill(dh, 0.01f);
            k.forwardChunk(w, batch, ws, 0, layers, 0.1f, act, h, z);
            if (k.splitsForward(w, batch, act)) {
              k.forwardChunkSamples(w, batch, ws, 0, layers, 0.1f, act, h, 0, batch / 2);
            }
            k.forwardSaveChunk(w, batch, ws, 0, layers, 0.1f, act, h, z, hs, ds);
            if (k.recomputesInPairs(w, batch, act)) {
              k.forwardSaveChunkPair(w, batch, ws, 0, lb * layers / 2, layers / 2, 0.1f, act, h,
                  h2, z, hs, ds, hs2, ds2);
            }
            k.backwardUpdateChunk(w, batch, ws, 0, layers, 0.1f, 0f, hs, ds, dh, gW, gb, g,
                null);
          }
        }
      }
    }
    System.out.println("exercised " + SHAPES.length + " shapes");
  }
}
