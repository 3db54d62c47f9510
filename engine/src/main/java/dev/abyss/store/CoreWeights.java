package dev.abyss.store;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Access to a core's layers, chunk by chunk, wherever they live (streamed from the file or
 * held in memory).
 *
 * <p>Call order: {@link #load} a range, read (and for training, update) its layers through
 * the returned segment at {@link #offsetOf}, then {@link #writeBack} the same range if it was
 * changed; {@link #commit} once at the end of a run records the new step; {@link #close}
 * releases memory and file handles. A segment returned by {@code load} is valid until the
 * next {@code load}.
 */
public interface CoreWeights extends AutoCloseable {

  /** The header as of the last {@link #commit} (or as opened). */
  CoreHeader header();

  /** Makes layers {@code [start, start + count)} available and returns their segment. */
  MemorySegment load(long start, int count) throws IOException;

  /**
   * As {@link #load}, for a range the caller will only read (the forward pass): a streamed core
   * refuses a write-back of it. A later {@link #load} of the same range makes it writable
   * without reading it again.
   */
  default MemorySegment loadForReading(long start, int count) throws IOException {
    return load(start, count);
  }

  /**
   * A hint: {@link #load} of this range comes next, so a streamed core may start reading it
   * now, overlapped with the caller's work on the current range. Loads are correct with or
   * without it.
   */
  default void prefetch(long start, int count) throws IOException {}

  /**
   * Does a piece of this core's I/O in progress on the calling thread, if there is one it can
   * take (a block of a streamed core's read-ahead or write-behind): for a thread that would
   * otherwise wait for another. Returns whether it did any. Any thread may call it at any time.
   */
  default boolean helpIo() {
    return false;
  }

  /** Byte offset of {@code layer} in the segment returned by the last {@link #load}. */
  long offsetOf(long layer);

  /**
   * Announces the SGD step whose updates the following {@link #writeBack}s store: a bf16 core
   * draws its stochastic-rounding bits from it (see {@link Bf16}); f32 ignores it.
   */
  void beginStep(long step);

  /** Persists changes made to layers {@code [start, start + count)} (the last load). */
  void writeBack(long start, int count) throws IOException;

  /**
   * Makes the files a consistent model at {@code step}, durably and atomically together with
   * the head: after a crash at any point, {@link Journal#recover} finds either the previous
   * commit or this one.
   *
   * @param head the head file to replace in the same commit, or null
   * @param headBytes its new contents (see {@link HeadFile#encode}), or null
   */
  void commit(long step, Path head, byte[] headBytes) throws IOException;

  /** {@link #commit(long, Path, byte[])} without a head. */
  default void commit(long step) throws IOException {
    commit(step, null, null);
  }

  /** Whether the whole core is resident in memory. */
  boolean inMemory();

  @Override
  void close() throws IOException;
}
