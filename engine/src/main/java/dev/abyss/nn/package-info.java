/**
 * The network pieces as forward/backward pairs: the residual net's head (input projection
 * and classifier), the MLP baseline, softmax cross-entropy. Core layers are in
 * {@link dev.abyss.kernel}. Shapes follow the legend in {@link dev.abyss.kernel}: B batch,
 * W width (or H, the MLP's hidden size); images x are (B, 784) sample-major.
 */
package dev.abyss.nn;
