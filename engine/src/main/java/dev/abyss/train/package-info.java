/**
 * Training and evaluation: the exact chunk-checkpointed SGD step over the core
 * ({@link dev.abyss.train.ResidualTrainer}), the whole-model runs that open, check, train and
 * save files ({@link dev.abyss.train.ResidualRun}, {@link dev.abyss.train.MlpRun}), and
 * evaluation. Calls kernels only through {@link dev.abyss.kernel.Kernels}.
 */
package dev.abyss.train;
