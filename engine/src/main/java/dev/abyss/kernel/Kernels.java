package dev.abyss.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The residual layer's math, one layer per call: {@code h <- h + alpha * act(h W + b)}, the
 * forward in fused multiply-adds ({@link ScalarKernels} fixes the operation order).
 *
 * <p>Shapes (see the package legend): {@code h, z, dh}: (B, W) feature-major, element (b, j)
 * at {@code j * B + b}. The layer's weights are read from {@code wts} at byte offset
 * {@code off}: W (W x W, W[in][out] row-major) then b (W), little-endian f32.
 *
 * <p>Call order in a training step: {@link #forwardChunk} over each segment of the forward
 * pass; for each segment in reverse, {@link #forwardSaveChunk} (the recompute; or in the
 * forward pass itself when the memory plan keeps every activation), then {@link
 * #backwardUpdateChunk}. The chunk methods must give the bits of the per-layer ones ({@link
 * #residualForward}, {@link #residualForwardSave}, {@link #residualBackward} then {@link
 * #sgdUpdate}), which stay the reference. Implementations must be deterministic: the same inputs
 * give the same bits, whatever thread calls them. An instance is used by one thread at a time
 * ({@link #fork} makes another).
 */
public interface Kernels {

  /** Little-endian float layout, unaligned: the on-disk and in-memory weight encoding. */
  ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** Floats in one core layer of width {@code w}: W (w*w) then b (w). */
  static int layerFloats(int w) {
    return w * w + w;
  }

  /**
   * Layer {@code off}'s weights copied into {@code buf}, or into a new array when {@code buf} is
   * too small (the caller keeps what is returned, as its scratch for the next layer).
   */
  static float[] copyLayer(float[] buf, int w, MemorySegment wts, long off) {
    int n = layerFloats(w);
    float[] b = buf.length < n ? new float[n] : buf;
    MemorySegment.copy(wts, F32, off, b, 0, n);
    return b;
  }

  /** Bytes in one core layer of width {@code w}. */
  static long layerBytes(int w) {
    return 4L * layerFloats(w);
  }

  /** Name of the implementation, for provenance ("scalar", "vector-512", ...). */
  String name();

  /**
   * A new instance of the same implementation. Instances hold scratch buffers and are not
   * thread-safe: each thread uses its own.
   */
  Kernels fork();

  /**
   * One layer forward, in place.
   *
   * @param h (B, W), read and overwritten with the layer's output
   * @param z (B, W) scratch
   */
  void residualForward(
      int w, int batch, MemorySegment wts, long off, float alpha, Activation act, float[] h,
      float[] z);

  /**
   * One layer forward that also saves what the backward needs.
   *
   * @param h (B, W), read and overwritten with the layer's output
   * @param z (B, W) scratch
   * @param hSave receives the layer's input h (B, W) at {@code saveOff}
   * @param dSave receives act'(z) (B, W) at {@code saveOff}
   */
  void residualForwardSave(
      int w, int batch, MemorySegment wts, long off, float alpha, Activation act, float[] h,
      float[] z, float[] hSave, float[] dSave, int saveOff);

  /**
   * One layer backward with the layer's weights as they were in the forward pass.
   *
   * <p>{@code g = alpha * dh * act'(z)}; {@code gW[i][o] = sum_b hIn[i][b] g[o][b]};
   * {@code gb[o] = sum_b g[o][b]}; then {@code dh[i][b] += sum_o g[o][b] W[i][o]}.
   *
   * @param hSave the layer's input h (B, W) at {@code saveOff}, read-only
   * @param dSave act'(z) (B, W) at {@code saveOff}, read-only
   * @param dh (B, W): gradient of the loss w.r.t. the layer's output; overwritten with the
   *     gradient w.r.t. its input
   * @param gW (W, W) written: gradient of W
   * @param gb (W) written: gradient of b
   * @param g (B, W) scratch
   */
  void residualBackward(
      int w, int batch, MemorySegment wts, long off, float alpha, float[] hSave, float[] dSave,
      int saveOff, float[] dh, float[] gW, float[] gb, float[] g);

  /**
   * {@code count} consecutive layers forward, in place, the first at byte offset {@code off}.
   * Same result as {@code count} calls of {@link #residualForward}; implementations may keep h
   * in registers across layers. The chunk defaults run batch 1 at width 2 through {@link
   * Width2} and at the other widths up to 8 through {@link Narrow} (the scalar per-layer
   * operations, which both kernel sets use for those shapes).
   */
  default void forwardChunk(int w, int batch, MemorySegment wts, long off, int count,
      float alpha, Activation act, float[] h, float[] z) {
    if (Width2.applies(w, batch)) {
      Width2.forward(wts, off, count, alpha, act, h);
      return;
    }
    if (Narrow.applies(w, batch)) {
      Narrow.forward(w, wts, off, count, alpha, act, h);
      return;
    }
    long lb = layerBytes(w);
    for (int l = 0; l < count; l++) {
      residualForward(w, batch, wts, off + l * lb, alpha, act, h, z);
    }
  }

  /**
   * Whether {@link #forwardChunkSamples} has a kernel of its own for this shape that makes a
   * forward pass split between two threads by samples (half the batch each) faster than one
   * thread running it whole. False by default.
   */
  default boolean splitsForward(int w, int batch, Activation act) {
    return false;
  }

  /**
   * Whether a training step should split its forward pass between two threads: {@link
   * #splitsForward}, unless this process has measured that here the halves' kernel is not
   * faster than the whole batch's (which depends on the CPU; {@link #warmUp} measures it).
   */
  default boolean forwardSplitPays(int w, int batch, Activation act) {
    return splitsForward(w, batch, act);
  }

  /**
   * {@link #forwardChunk} for the samples {@code from .. to - 1} of the batch only, the others
   * left as they are: what one of two threads runs when they split a forward pass. Each
   * sample's forward depends on that sample alone, so the two halves give the bits of the
   * whole. This default runs the samples as a batch of their own through {@link #forwardChunk}
   * (copied out and back); kernels for which {@link #splitsForward} is true run them in place.
   */
  default void forwardChunkSamples(int w, int batch, MemorySegment wts, long off, int count,
      float alpha, Activation act, float[] h, int from, int to) {
    int nb = to - from;
    float[] part = new float[w * nb];
    for (int i = 0; i < w; i++) {
      System.arraycopy(h, i * batch + from, part, i * nb, nb);
    }
    forwardChunk(w, nb, wts, off, count, alpha, act, part, new float[w * nb]);
    for (int i = 0; i < w; i++) {
      System.arraycopy(part, i * nb, h, i * batch + from, nb);
    }
  }

  /**
   * {@code count} consecutive layers forward, saving layer l's input and act'(z) at
   * {@code l * W * B} in {@code hSave} and {@code dSave}. Same result as {@code count} calls
   * of {@link #residualForwardSave}.
   */
  default void forwardSaveChunk(int w, int batch, MemorySegment wts, long off, int count,
      float alpha, Activation act, float[] h, float[] z, float[] hSave, float[] dSave) {
    if (Width2.applies(w, batch)) {
      Width2.forwardSave(wts, off, count, alpha, act, h, hSave, dSave);
      return;
    }
    if (Narrow.applies(w, batch)) {
      Narrow.forwardSave(w, wts, off, count, alpha, act, h, hSave, dSave);
      return;
    }
    long lb = layerBytes(w);
    int n = w * batch;
    for (int l = 0; l < count; l++) {
      residualForwardSave(w, batch, wts, off + l * lb, alpha, act, h, z, hSave, dSave, l * n);
    }
  }

  /**
   * Whether {@link #forwardSaveChunkPair} runs two segments' recomputes faster than two calls
   * of {@link #forwardSaveChunk} (two chains in one loop); false: the trainer makes one call a
   * segment.
   */
  default boolean recomputesInPairs(int w, int batch, Activation act) {
    return false;
  }

  /**
   * Two independent recomputes of {@code count} layers each: from byte offset {@code offA}
   * with {@code hA} into {@code hSaveA}, {@code dSaveA}, and from {@code offB} with {@code hB}
   * into {@code hSaveB}, {@code dSaveB}. Same results as two calls of {@link
   * #forwardSaveChunk}, which is what this default makes.
   */
  default void forwardSaveChunkPair(int w, int batch, MemorySegment wts, long offA, long offB,
      int count, float alpha, Activation act, float[] hA, float[] hB, float[] z, float[] hSaveA,
      float[] dSaveA, float[] hSaveB, float[] dSaveB) {
    forwardSaveChunk(w, batch, wts, offA, count, alpha, act, hA, z, hSaveA, dSaveA);
    forwardSaveChunk(w, batch, wts, offB, count, alpha, act, hB, z, hSaveB, dSaveB);
  }

  /**
   * Backward and plain SGD update over {@code count} consecutive layers, the last first, the
   * first at byte offset {@code off}; layer l's saves at {@code l * W * B} in {@code hSave} and
   * {@code dSave}. Same result as, for each layer, {@link #residualBackward} then {@link
   * #sgdUpdate}; implementations may keep dh in registers. With {@code grads} non-null (at
   * least {@code count * layerFloats(W)} floats), layer l's gW then gb are written at {@code
   * l * layerFloats(W)} (diagnostics); {@code gW}, {@code gb}, {@code g} are scratch.
   */
  default void backwardUpdateChunk(int w, int batch, MemorySegment wts, long off, int count,
      float alpha, float lr, float[] hSave, float[] dSave, float[] dh, float[] gW, float[] gb,
      float[] g, float[] grads) {
    backwardUpdateChunk(w, batch, wts, off, count, alpha, lr, hSave, dSave, dh, gW, gb, g, grads,
        null);
  }

  /**
   * {@link #backwardUpdateChunk(int, int, MemorySegment, long, int, float, float, float[],
   * float[], float[], float[], float[], float[], float[])}, running {@code dhDone} (when not
   * null) exactly once, as soon as dh holds its final value: from then on the method neither
   * reads nor writes dh, and reads no weights outside the count layers. Kernels that finish the
   * dh chain before the weight updates (the chunk kernels of widths 4 and 8) run it between the
   * two, so that a second thread can start the dh chain of the layers below while this one
   * updates; the others run it last.
   */
  default void backwardUpdateChunk(int w, int batch, MemorySegment wts, long off, int count,
      float alpha, float lr, float[] hSave, float[] dSave, float[] dh, float[] gW, float[] gb,
      float[] g, float[] grads, Runnable dhDone) {
    scalarBackwardUpdateChunk(w, batch, wts, off, count, alpha, lr, hSave, dSave, dh, gW, gb, g,
        grads);
    if (dhDone != null) {
      dhDone.run();
    }
  }

  /**
   * Whether {@link #backwardUpdateChunk(int, int, MemorySegment, long, int, float, float,
   * float[], float[], float[], float[], float[], float[], float[], Runnable)} runs its {@code
   * dhDone} before the segment's weight updates for this shape, so that two training threads
   * overlap one's updates with the other's dh chain. False by default (run last).
   */
  default boolean handsOffBeforeUpdates(int w, int batch) {
    return false;
  }

  /**
   * Whether a step of this shape is so slow beside its helper thread's work (a streamed core's
   * reads and writes, a bf16 core's conversions) that the helper can share the cores with a
   * training thread on each: {@code ResidualTrainer.defaultThreads} then gives every core to
   * the training. Measured, not derived; false by default (the helper gets a core of its own).
   */
  default boolean helperSharesCores(int w, int batch) {
    return false;
  }

  /** The scalar chunk kernels' backward, or the per-layer methods layer by layer. */
  private void scalarBackwardUpdateChunk(int w, int batch, MemorySegment wts, long off,
      int count, float alpha, float lr, float[] hSave, float[] dSave, float[] dh, float[] gW,
      float[] gb, float[] g, float[] grads) {
    if (Width2.applies(w, batch)) {
      Width2.backwardUpdate(wts, off, count, alpha, lr, hSave, dSave, dh, grads);
      return;
    }
    if (Narrow.applies(w, batch)) {
      Narrow.backwardUpdate(w, wts, off, count, alpha, lr, hSave, dSave, dh, grads);
      return;
    }
    long lb = layerBytes(w);
    int n = w * batch;
    int lf = layerFloats(w);
    for (int l = count - 1; l >= 0; l--) {
      residualBackward(w, batch, wts, off + l * lb, alpha, hSave, dSave, l * n, dh, gW, gb, g);
      if (grads != null) {
        System.arraycopy(gW, 0, grads, l * lf, w * w);
        System.arraycopy(gb, 0, grads, l * lf + w * w, w);
      }
      sgdUpdate(w, wts, off + l * lb, lr, gW, gb);
    }
  }

  /**
   * Whether, for this shape, checkpointing and recomputing each segment runs faster than
   * keeping every layer's activations from the forward pass: true where the recompute is a
   * chunk kernel so fast that writing all the saves to memory and reading them back costs
   * more (the memory planner's default, {@code ResidualTrainer.defaultBudget}). Measured, not
   * derived; false by default.
   */
  default boolean prefersRecompute(int w, int batch, Activation act) {
    return false;
  }

  /**
   * {@link #prefersRecompute(int, int, Activation)} for a step on {@code threads} threads,
   * which take the segments in turns: there a thread's recompute runs beside another's dh
   * chain and leaves the segment's weights in its cache, which can make recomputing the faster
   * plan where one thread keeps. By default the same answer.
   */
  default boolean prefersRecompute(int w, int batch, Activation act, int threads) {
    return prefersRecompute(w, batch, act);
  }

  /**
   * Runs the kernels a training or eval run of this shape will use on scratch data until the
   * JIT has compiled them (bounded in time), so that the first step is not paid in
   * interpreted or half-compiled code. Changes nothing a run can see; may be a no-op.
   *
   * @return seconds spent
   */
  default double warmUp(int w, int batch, Activation act) {
    return 0;
  }

  /**
   * As {@link #warmUp}, for {@link #forwardChunk} alone: what eval runs.
   *
   * @return seconds spent
   */
  default double warmUpForward(int w, int batch, Activation act) {
    return 0;
  }

  /** Plain SGD on one layer: {@code W -= lr * gW; b -= lr * gb}, in the segment. */
  void sgdUpdate(int w, MemorySegment wts, long off, float lr, float[] gW, float[] gb);
}
