/**
 * Per-layer math with no I/O: the {@link dev.abyss.kernel.Kernels} contract, the scalar
 * reference implementation ({@link dev.abyss.kernel.ScalarKernels}, the oracle) and the
 * provider that chooses an implementation at run time.
 *
 * <p>Dimension legend used in every shape comment: B batch, W width, L layers, C chunk.
 * Activation tensors are feature-major with the batch contiguous ("batch in lanes"):
 * element (b, j) of an (B, W) tensor lives at {@code j * B + b}, so one SIMD vector can
 * hold one feature for the whole batch. Core weights live in a {@link
 * java.lang.foreign.MemorySegment} (little-endian f32), one layer after another: W (W x W,
 * row-major, W[in][out]) then b (W).
 */
package dev.abyss.kernel;
