package dev.abyss.data;

import dev.abyss.store.CoreFile;
import java.util.SplittableRandom;

/**
 * The seeded data order: minibatch t draws B indices uniformly with replacement from
 * [0, trainLimit), from {@code SplittableRandom(mix(mix(dataSeed) + t * golden))}. A batch
 * depends only on (dataSeed, t, B, trainLimit), so a run resumed at step t sees exactly the
 * batches the uninterrupted run would have seen.
 */
public final class BatchOrder {
  private final long dataSeed;
  private final int trainLimit;

  public BatchOrder(long dataSeed, int trainLimit) {
    this.dataSeed = dataSeed;
    this.trainLimit = trainLimit;
  }

  /** Fills {@code idx[0..batch)} with the indices of step {@code step}'s minibatch. */
  public void batch(long step, int batch, int[] idx) {
    // hashed twice: seeds spaced by SplittableRandom's own gamma would give each step a
    // shifted copy of the previous step's draws
    SplittableRandom r = new SplittableRandom(
        CoreFile.mix(CoreFile.mix(dataSeed) + step * 0x9E3779B97F4A7C15L));
    for (int b = 0; b < batch; b++) {
      idx[b] = r.nextInt(trainLimit);
    }
  }
}
