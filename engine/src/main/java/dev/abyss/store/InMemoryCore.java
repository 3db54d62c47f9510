package dev.abyss.store;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A core held whole in (off-heap) memory: loaded and verified once; {@link #commit} writes
 * the whole file anew beside the old one and renames it into place, so the file on disk is
 * always either the old model or the new one. A bf16 core is held in bf16 (half the RAM);
 * {@link #load} widens the range into an f32 working buffer and {@link #writeBack} rounds it
 * back ({@link Bf16#round}), exactly as the streamed core does. Both run on a helper thread
 * when they can: a {@link #prefetch}ed range is widened into a second working buffer while the
 * caller works on the current one, and a write-back's rounding runs while the caller goes on
 * (a commit, a close, or a load that needs its buffer or its range waits for it).
 */
final class InMemoryCore implements CoreWeights {
  private final Path path;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment data;
  private CoreHeader header;
  private final boolean bf16;
  private MemorySegment work;
  private long workFirst;
  private int workCount;
  /** Whether work holds the widened stored values of its range (false after writeBack). */
  private boolean workValid;
  private long roundKey;
  // bf16 read-ahead: [aheadFirst, aheadFirst + aheadCount) widened into aheadWork by ahead
  private ExecutorService helper;
  private Future<?> ahead;
  private MemorySegment aheadWork;
  private long aheadFirst = -1;
  private int aheadCount;
  /** A writeBack overlapped the read-ahead's range after it was submitted. */
  private boolean aheadStale;
  /**
   * The last write-back's rounding, on the helper thread: it reads the working buffer it was
   * given and writes its range of data. Tasks run in order on the one helper, so a later
   * widening into that buffer, or of that range, runs after it.
   */
  private Future<?> rounding;

  InMemoryCore(Path path, CoreFile.Opened o) throws IOException {
    this.path = path;
    this.header = o.header();
    this.bf16 = header.dtype() == Dtype.BF16;
    beginStep(header.step());
    try (var ch = o.channel()) {
      data = arena.allocate(header.dataBytes(), 64);
      long lb = header.layerBytes();
      long bl = header.blockLayers();
      int[] table = o.table();
      // a block at a time, checksummed while it is in the cache from its read
      for (long l = 0; l < header.layers(); l += bl) {
        long n = Math.min(bl, header.layers() - l);
        CoreFile.readFully(ch, data.asSlice(l * lb, n * lb).asByteBuffer(),
            header.dataOffset() + l * lb, "core file " + path);
        int blk = (int) (l / bl);
        if (Crc.of(data, l * lb, n * lb) != table[blk]) {
          throw new FormatException("core file " + path + " is damaged: block " + blk
              + " (layers " + l + ".." + (l + n - 1) + ") fails its checksum; restore it from"
              + " a backup");
        }
      }
    } catch (IOException | RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  @Override
  public CoreHeader header() {
    return header;
  }

  @Override
  public boolean inMemory() {
    return true;
  }

  @Override
  public void beginStep(long step) {
    roundKey = Bf16.stepKey(header.seed(), step);
  }

  @Override
  public MemorySegment load(long start, int count) {
    if (!bf16) {
      return data;
    }
    if (workValid && start == workFirst && count == workCount) {
      return work; // the range loaded last, not written back since
    }
    if (ahead != null && start == aheadFirst && count == aheadCount) {
      Future<?> f = ahead;
      ahead = null;
      aheadFirst = -1;
      await(f);
      if (!aheadStale) {
        MemorySegment t = work;
        work = aheadWork;
        aheadWork = t;
        workFirst = start;
        workCount = count;
        workValid = true;
        return work;
      }
    } else {
      dropAhead();
    }
    awaitRounding(); // it may be reading work, or writing this range of data
    long wlb = header.workLayerBytes();
    if (work == null || work.byteSize() < count * wlb) {
      work = arena.allocate(count * wlb, 64);
    }
    long lf = header.layerFloats();
    Bf16.widen(data, start * header.layerBytes(), work, 0, count * lf);
    workFirst = start;
    workCount = count;
    workValid = true;
    return work;
  }

  /**
   * bf16: widens the range on a helper thread into a second working buffer (never the one the
   * caller holds), so that the next {@link #load} of it only swaps buffers (the figures are in
   * docs/decisions.md). f32: nothing to do.
   */
  @Override
  public void prefetch(long start, int count) {
    if (!bf16 || (workValid && start == workFirst && count == workCount)
        || (ahead != null && start == aheadFirst && count == aheadCount)) {
      return;
    }
    dropAhead();
    long wlb = header.workLayerBytes();
    if (aheadWork == null || aheadWork.byteSize() < count * wlb) {
      aheadWork = arena.allocate(count * wlb, 64);
    }
    MemorySegment dst = aheadWork;
    long src = start * header.layerBytes();
    long n = count * header.layerFloats();
    aheadFirst = start;
    aheadCount = count;
    aheadStale = false;
    ahead = helper().submit(() -> Bf16.widen(data, src, dst, 0, n));
  }

  private ExecutorService helper() {
    if (helper == null) {
      helper = Executors.newSingleThreadExecutor(r ->
          Thread.ofPlatform().daemon().name("abyss-bf16").unstarted(r));
    }
    return helper;
  }

  /** Waits for the last write-back's rounding (rethrowing its failure). */
  private void awaitRounding() {
    if (rounding != null) {
      Future<?> f = rounding;
      rounding = null;
      await(f);
    }
  }

  /** Waits for a read-ahead nobody will take, and forgets it. */
  private void dropAhead() {
    if (ahead != null) {
      Future<?> f = ahead;
      ahead = null;
      aheadFirst = -1;
      await(f);
    }
  }

  private static void await(Future<?> f) {
    try {
      f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while converting a bf16 range", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      if (e.getCause() instanceof Error er) {
        throw er;
      }
      throw new IllegalStateException(e.getCause());
    }
  }

  @Override
  public long offsetOf(long layer) {
    return bf16 ? (layer - workFirst) * header.workLayerBytes() : layer * header.layerBytes();
  }

  @Override
  public void writeBack(long start, int count) {
    // f32: the data is already in place; commit writes the file
    if (bf16) {
      if (start != workFirst) {
        throw new IllegalStateException("writeBack of a range that is not the one loaded");
      }
      long lf = header.layerFloats();
      awaitRounding();
      MemorySegment src = work;
      long dst = start * header.layerBytes();
      long key = roundKey;
      rounding = helper().submit(() ->
          Bf16.round(src, 0, data, dst, count * lf, key, start * lf));
      workValid = false; // work holds the values before rounding
      if (ahead != null && start < aheadFirst + aheadCount && aheadFirst < start + count) {
        aheadStale = true;
      }
    }
  }

  @Override
  public void commit(long step, Path head, byte[] headBytes) throws IOException {
    awaitRounding();
    CoreHeader h = header.withStep(step);
    long lb = h.layerBytes();
    // core to its temporary file, head to its pending file, then the two renames; recovery
    // completes a pair whose pending head matches the core's step
    Path tmp = CoreFile.writeTemp(path, h, (first, count, dst) ->
        MemorySegment.copy(data, first * lb, dst, 0, count * lb), null);
    Path pending = head == null ? null : AtomicFiles.writeTemp(head, headBytes);
    AtomicFiles.commit(tmp, path);
    if (pending != null) {
      AtomicFiles.commit(pending, head);
    }
    header = h;
  }

  @Override
  public void close() {
    try {
      if (helper != null) {
        try {
          dropAhead();
          awaitRounding();
        } finally {
          helper.shutdown();
        }
      }
    } finally {
      arena.close();
    }
  }
}
