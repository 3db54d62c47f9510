package dev.abyss.store;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A core streamed from its file: each {@link #load} reads the whole checksum blocks that
 * cover the range into one staging buffer and verifies them; {@link #writeBack} recomputes
 * those blocks' checksums and writes them in place, after logging the blocks' committed bytes
 * in the {@link Journal} (once per block per commit interval).
 *
 * <p><b>Overlap.</b> One I/O thread reads ahead and writes behind: {@link #prefetch} reads
 * and verifies the next range into a second buffer while the caller computes on this one, and
 * {@link #writeBack} hands its bytes to the thread and returns. Tasks run in submission order
 * on that one thread, so a read submitted after a write sees it; a read-ahead submitted
 * <i>before</i> a write of blocks it shares (chunk edges inside a block) is patched from the
 * written bytes when it is taken. The undo record of a block is forced to the journal on the
 * I/O thread, in the same task and before the block's write (the journal's write-ahead
 * rule), so the compute thread never waits for the journal's forced writes.
 * {@link #commit} and {@link #close} wait for every write. An I/O failure on the thread is
 * rethrown by the next call.
 *
 * <p><b>Help.</b> Once the I/O thread has started a read-ahead or a write-behind (every task
 * submitted before it done; for a write, its undo records forced), its blocks go to whichever
 * thread claims them first: the I/O thread, a training thread that would otherwise wait
 * ({@link #helpIo}), or the caller of {@link #load} waiting for that very read; the task ends
 * when every block is done, so the next one still starts after it. On two cores the I/O
 * thread has no core of its own, and a training thread it takes the core from holds up the
 * other one's turn (docs/decisions.md, "Waiting threads do the I/O").
 *
 * <p>Resident memory: staging, read-ahead, write-behind and undo buffers and the pristine copy
 * (five times the largest chunk plus blocks). A bf16 core adds two f32 working copies, of the
 * staged layers and of the read-ahead (widened block by block after the read, rounded back
 * by {@link Bf16#round} on write-back); staging, pristine copy, journal and checksums stay in
 * bf16.
 */
final class StreamedCore implements CoreWeights {
  private final Path path;
  private final FileChannel ch;
  private final boolean writable;
  private final int[] table;
  private final long lb;
  private final long wlb;
  private final boolean bf16;
  private long roundKey;
  private final Arena arena = Arena.ofShared();
  private final BitSet logged = new BitSet();
  private final ExecutorService io = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "abyss-io");
    t.setDaemon(true);
    return t;
  });
  private CoreHeader header;
  private MemorySegment staging;
  private MemorySegment pristine;
  /** Whether the staged range was loaded for update (not by loadForReading). */
  private boolean pristineValid;
  /**
   * Whether pristine holds the stored bytes of the staged range: only needed, and only copied,
   * when a block of it has no undo record yet in this commit interval (its first step).
   */
  private boolean pristineCopied;
  /** What the kernels see: the staging buffer itself for f32, its widened copy for bf16. */
  private MemorySegment work;
  private long stagedFirst = -1;
  private long stagedLayers;
  private Journal.Writer journal;

  // read-ahead: [aheadFirst, aheadEnd) into aheadBuf, verified by the task
  private MemorySegment aheadBuf;
  /** bf16: the read-ahead widened to f32 by the same task (never the staged work buffer). */
  private MemorySegment aheadWork;
  private Future<?> ahead;
  /** The read-ahead's blocks, for whoever claims them once the I/O thread has started it. */
  private BlockJob aheadJob;
  /** The blocks of the read or write the I/O thread is running now, or null. */
  private volatile BlockJob current;
  private long aheadFirst = -1;
  private long aheadEnd;
  /** A write of blocks the read-ahead covers was submitted after it (its bytes: writeBuf). */
  private boolean aheadStale;
  // write-behind: the last range handed to the I/O thread, still held in writeBuf
  private MemorySegment writeBuf;
  /** The committed bytes of the blocks the write in flight logs first (undo records). */
  private MemorySegment undoBuf;
  private Future<?> writing;
  private long writtenFirst = -1;
  private long writtenEnd;

  StreamedCore(Path path, CoreFile.Opened o, boolean writable) {
    this.path = path;
    this.ch = o.channel();
    this.table = o.table();
    this.header = o.header();
    this.writable = writable;
    this.lb = header.layerBytes();
    this.wlb = header.workLayerBytes();
    this.bf16 = header.dtype() == Dtype.BF16;
    beginStep(header.step());
  }

  @Override
  public void beginStep(long step) {
    roundKey = Bf16.stepKey(header.seed(), step);
  }

  @Override
  public CoreHeader header() {
    return header;
  }

  @Override
  public boolean inMemory() {
    return false;
  }

  private long firstOf(long start) {
    long bl = header.blockLayers();
    return start / bl * bl;
  }

  private long endOf(long start, int count) {
    long bl = header.blockLayers();
    return Math.min(header.layers(), ((start + count - 1) / bl + 1) * bl);
  }

  /**
   * {@code seg} if it holds {@code layers} layers of {@code perLayer} bytes, else a new buffer
   * with room for two more blocks: the staged span of a chunk varies by up to two blocks with
   * where its edges fall, and a buffer replaced here stays allocated until close.
   */
  private MemorySegment grow(MemorySegment seg, long layers, long perLayer) {
    long bytes = layers * perLayer;
    return seg != null && seg.byteSize() >= bytes ? seg
        : arena.allocate((layers + 2L * header.blockLayers()) * perLayer, 64);
  }

  /**
   * Reads blocks [first, end) into buf and verifies them against the block table, a block at a
   * time, each checksummed while it is still in the cache from its read (a quarter fewer
   * bytes from memory than reading the chunk first: docs/decisions.md). Runs where no write is
   * in flight: on the I/O thread, or after {@link #awaitWrite}.
   */
  private void readVerified(MemorySegment buf, long first, long end) throws IOException {
    long bl = header.blockLayers();
    for (long l = first; l < end; l += bl) {
      long n = Math.min(bl, end - l);
      CoreFile.readFully(ch, buf.asSlice((l - first) * lb, n * lb).asByteBuffer(),
          header.dataOffset() + l * lb, "core file " + path);
      int crc = Crc.of(buf, (l - first) * lb, n * lb);
      int blk = (int) (l / bl);
      if (crc != table[blk]) {
        throw new FormatException("core file " + path + " is damaged: block " + blk + " (layers "
            + l + ".." + (l + n - 1) + ") fails its checksum; restore it from a backup");
      }
    }
  }

  @Override
  public void prefetch(long start, int count) throws IOException {
    long first = firstOf(start);
    long end = endOf(start, count);
    if ((first == stagedFirst && end - first == stagedLayers)
        || (first == aheadFirst && end == aheadEnd)) {
      return;
    }
    dropAhead();
    aheadBuf = grow(aheadBuf, end - first, lb);
    MemorySegment buf = aheadBuf;
    aheadFirst = first;
    aheadEnd = end;
    aheadStale = false;
    // the task verifies against the block table as it stands after every write submitted so
    // far (those tasks run before it, on the same thread, and set their blocks' checksums; the
    // threads that help it take its blocks only once it has started); a later write of these
    // blocks is patched in when the read-ahead is taken (the task returns, and the write
    // starts, only when every block it handed out is done)
    if (bf16) {
      aheadWork = grow(aheadWork, end - first, wlb);
    }
    MemorySegment widened = bf16 ? aheadWork : null;
    int lf = header.layerFloats();
    BlockJob job = new BlockJob(first, end, (l, n) -> {
      readVerified(buf.asSlice((l - first) * lb), l, l + n);
      if (widened != null) {
        // off the compute path: 1-1.5 ns a value there (docs/decisions.md)
        Bf16.widen(buf, (l - first) * lb, widened, (l - first) * wlb, n * lf);
      }
    });
    aheadJob = job;
    ahead = io.submit(() -> {
      current = job;
      try {
        job.run();
      } finally {
        current = null;
      }
      return null;
    });
  }

  /**
   * Reads, verifies and (bf16) widens one block of the read-ahead in progress, or checksums
   * and writes one of the write-behind's, if one is left unclaimed; false if there is none.
   * Called by threads that would otherwise wait: the work is the I/O thread's, done sooner.
   */
  @Override
  public boolean helpIo() {
    BlockJob j = current;
    // not on an interrupted thread: the channel would close itself under everyone's I/O
    return j != null && !Thread.currentThread().isInterrupted() && j.step();
  }

  /** What a {@link BlockJob} does to each block: layers [l, l + n). */
  private interface BlockOp {
    void run(long l, long n) throws Exception;
  }

  /**
   * An I/O task's blocks [first, end) (a read-ahead's, a write-behind's), a block at a time to
   * whichever thread claims it; a block's read (or write) and checksum stay on one thread, so
   * each block is checksummed while it is in that core's cache.
   */
  private final class BlockJob {
    final long first;
    final long end;
    final long bl = header.blockLayers();
    final BlockOp op;
    final AtomicLong next;
    final AtomicLong finished = new AtomicLong();
    final AtomicReference<Throwable> failure = new AtomicReference<>();

    BlockJob(long first, long end, BlockOp op) {
      this.first = first;
      this.end = end;
      this.op = op;
      this.next = new AtomicLong(first);
    }

    /** Claims and does the next block; false when every block is claimed. */
    boolean step() {
      long l = next.getAndAdd(bl);
      if (l >= end) {
        return false;
      }
      long n = Math.min(bl, end - l);
      try {
        op.run(l, n);
      } catch (Throwable t) {
        failure.compareAndSet(null, t);
      } finally {
        finished.addAndGet(n);
      }
      return true;
    }

    /** On the I/O thread: every block not claimed by another thread, then waits for those. */
    void run() throws Exception {
      while (step()) {
        // next block
      }
      int spins = 0;
      while (finished.get() < end - first) {
        if (++spins > 100) {
          Thread.yield();
        } else {
          Thread.onSpinWait();
        }
      }
      Throwable t = failure.get();
      if (t instanceof Exception e) {
        throw e;
      }
      if (t instanceof Error e) {
        throw e;
      }
    }
  }

  /** Waits for a read-ahead nobody will take, and forgets it. */
  private void dropAhead() throws IOException {
    if (ahead != null) {
      Future<?> f = ahead;
      ahead = null;
      aheadJob = null;
      aheadFirst = -1;
      try {
        await(f);
      } catch (FormatException e) {
        // a damaged block that was not asked for after all: the load that needs it reports it
      }
    }
  }

  @Override
  public MemorySegment load(long start, int count) throws IOException {
    return load(start, count, true);
  }

  @Override
  public MemorySegment loadForReading(long start, int count) throws IOException {
    return load(start, count, false);
  }

  private MemorySegment load(long start, int count, boolean forUpdate) throws IOException {
    long first = firstOf(start);
    long end = endOf(start, count);
    if (first == stagedFirst && end - first == stagedLayers) {
      if (forUpdate && writable && !pristineValid) {
        // staged for reading, unchanged since: its stored bytes are still in staging
        pristineValid = true;
        copyPristine(first, end);
      }
      return work;
    }
    stagedFirst = -1;
    boolean widened = false;
    if (first == aheadFirst && end == aheadEnd) {
      Future<?> f = ahead;
      BlockJob j = aheadJob;
      ahead = null;
      aheadJob = null;
      aheadFirst = -1;
      // read blocks of it here rather than wait, once the I/O thread has started it
      while (j != null && !f.isDone() && current == j && j.step()) {
        // next block
      }
      await(f);
      MemorySegment t = staging;
      staging = aheadBuf;
      aheadBuf = t;
      if (bf16) {
        t = work;
        work = aheadWork;
        aheadWork = t;
        widened = true;
      }
      // blocks written after this read was submitted: take them from the write buffer
      long a = Math.max(first, writtenFirst);
      long b = Math.min(end, writtenEnd);
      if (aheadStale && a < b) {
        MemorySegment.copy(writeBuf, (a - writtenFirst) * lb, staging, (a - first) * lb,
            (b - a) * lb);
        if (bf16) {
          Bf16.widen(staging, (a - first) * lb, work, (a - first) * wlb,
              (b - a) * header.layerFloats());
        }
      }
    } else {
      dropAhead();
      awaitWrite(); // the file must hold every write before a direct read
      staging = grow(staging, end - first, lb);
      readVerified(staging, first, end);
    }
    pristineValid = writable && forUpdate;
    pristineCopied = false;
    if (pristineValid) {
      copyPristine(first, end);
    }
    if (bf16) {
      if (!widened) {
        work = grow(work, end - first, wlb); // never the staging buffer in bf16
        Bf16.widen(staging, 0, work, 0, (end - first) * header.layerFloats());
      }
    } else {
      work = staging;
    }
    stagedFirst = first;
    stagedLayers = end - first;
    return work;
  }

  /**
   * Copies the staged range's stored bytes to pristine if a block of it has no undo record
   * yet: after the first step of a commit interval every block has one, and the 8 MB copy a
   * chunk would be for nothing (docs/decisions.md).
   */
  private void copyPristine(long first, long end) {
    long bl = header.blockLayers();
    int b0 = (int) (first / bl);
    int b1 = (int) ((end - 1) / bl) + 1;
    pristineCopied = logged.nextClearBit(b0) < b1;
    if (pristineCopied) {
      pristine = grow(pristine, end - first, lb);
      MemorySegment.copy(staging, 0, pristine, 0, (end - first) * lb);
    }
  }

  @Override
  public long offsetOf(long layer) {
    return (layer - stagedFirst) * wlb;
  }

  @Override
  public void writeBack(long start, int count) throws IOException {
    if (!writable) {
      throw new IllegalStateException("opened read-only");
    }
    long bl = header.blockLayers();
    long first = firstOf(start);
    long end = endOf(start, count);
    if (first != stagedFirst || end - first != stagedLayers) {
      throw new IllegalStateException("writeBack of a range that is not the one loaded");
    }
    if (!pristineValid) {
      throw new IllegalStateException("writeBack of a range loaded for reading only");
    }
    int b0 = (int) (first / bl);
    int b1 = (int) ((end - 1) / bl) + 1;
    long bytes = (end - first) * lb;
    if (bf16) {
      // layers of the staged blocks outside [start, start + count) are already bf16 and come
      // back unchanged
      long lf = header.layerFloats();
      Bf16.round(work, 0, staging, 0, (end - first) * lf, roundKey, first * lf);
    }
    try {
      // undo records for the blocks not yet logged in this commit interval, in runs: their
      // committed checksums now (before the table changes), their bytes from the pristine copy
      java.util.List<long[]> runs = new java.util.ArrayList<>();
      java.util.List<int[]> runCrcs = new java.util.ArrayList<>();
      for (int b = logged.nextClearBit(b0); b < b1; b = logged.nextClearBit(b)) {
        int e = Math.min(b1, logged.nextSetBit(b) < 0 ? b1 : logged.nextSetBit(b));
        if (journal == null) {
          journal = new Journal.Writer(Journal.pathFor(path), header.dataOffset());
        }
        long from = (b * bl - first) * lb;
        long to = (Math.min(end, (long) e * bl) - first) * lb;
        runs.add(new long[] {b, from, to - from});
        runCrcs.add(java.util.Arrays.copyOfRange(table, b, e));
        logged.set(b, e);
        b = e;
      }
      if (!runs.isEmpty() && !pristineCopied) {
        throw new IllegalStateException("undo records due but no pristine copy was taken");
      }
      awaitWrite(); // one write in flight: its buffers are about to be reused
      if (ahead != null && aheadStale) {
        dropAhead(); // the bytes it would need to be patched with are about to go
      }
      if (ahead != null && first < aheadEnd && aheadFirst < end) {
        aheadStale = true;
      }
      // no copies: the staged buffer goes to the writer and the pristine copy to the undo
      // records; staging and pristine take the idle buffers (the write they served is done),
      // and the range counts as not loaded (a load of it reads it again)
      MemorySegment idle = writeBuf;
      writeBuf = staging;
      staging = idle;
      stagedFirst = -1;
      if (!bf16) {
        work = null;
      }
      MemorySegment src = writeBuf.asSlice(0, bytes);
      MemorySegment undo = null;
      if (!runs.isEmpty()) {
        idle = undoBuf;
        undoBuf = pristine;
        pristine = idle;
        undo = undoBuf;
      }
      pristineValid = false;
      pristineCopied = false;
      MemorySegment undoSrc = undo;
      Journal.Writer jw = journal;
      long pos = header.dataOffset() + first * lb;
      writtenFirst = first;
      writtenEnd = end;
      // on the I/O thread, in this order: the undo records (forced), then the blocks, each
      // checksummed into the table just before its write, while it is in the cache (the
      // compute thread had spent about a tenth of a streamed step on these checksums; the
      // table is read only on this thread, after the task that wrote an entry ended, or after
      // awaitWrite, and the entries of blocks without an undo record yet, read above, are
      // never those of a write in flight); the blocks, once the undo records are forced, go
      // to whichever thread claims them (see BlockJob)
      BlockJob job = new BlockJob(first, end, (l, n) -> {
        long from = (l - first) * lb;
        table[(int) (l / bl)] = Crc.of(src, from, n * lb);
        CoreFile.writeFully(ch, src.asSlice(from, n * lb).asByteBuffer(), pos + from);
      });
      writing = io.submit(() -> {
        for (int r = 0; r < runs.size(); r++) {
          long[] u = runs.get(r);
          jw.undo(u[0], runCrcs.get(r), undoSrc.asSlice(u[1], u[2]));
        }
        current = job;
        try {
          job.run();
        } finally {
          current = null;
        }
        return null;
      });
    } catch (IOException e) {
      throw AtomicFiles.diskError(path, e);
    }
  }

  /** Waits for the write in flight (and its undo records); a failure is a disk error. Package
   * access for tests that reach into a commit. */
  void awaitWrite() throws IOException {
    try {
      await(writing);
    } catch (IOException e) {
      throw AtomicFiles.diskError(path, e);
    }
  }

  /** Waits for an I/O task; rethrows what it threw. */
  private static void await(Future<?> f) throws IOException {
    if (f == null) {
      return;
    }
    try {
      f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for I/O", e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof IOException io) {
        throw io;
      }
      if (c instanceof RuntimeException re) {
        throw re;
      }
      if (c instanceof Error er) {
        throw er;
      }
      throw new IOException(c);
    }
  }

  /** Waits for every read and write in flight. */
  private void drain() throws IOException {
    dropAhead();
    awaitWrite();
  }

  @Override
  public void commit(long step, Path head, byte[] headBytes) throws IOException {
    if (!writable) {
      throw new IllegalStateException("opened read-only");
    }
    drain();
    CoreHeader h = header.withStep(step);
    try {
      ch.force(false);
      Path pending = head == null ? null : AtomicFiles.writeTemp(head, headBytes);
      if (journal == null) {
        journal = new Journal.Writer(Journal.pathFor(path), header.dataOffset());
      }
      int tableCrc = Crc.ofInts(table);
      journal.commit(h.encode(tableCrc), table);
      CoreFile.writeMeta(ch, h, table);
      ch.force(true);
      if (pending != null) {
        AtomicFiles.commit(pending, head);
      }
      journal.close();
      journal = null;
      Files.delete(Journal.pathFor(path));
      logged.clear();
      header = h;
    } catch (IOException e) {
      throw AtomicFiles.diskError(path, e);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      try {
        drain();
      } finally {
        io.shutdown();
        if (journal != null) {
          // uncommitted changes: the journal stays, and the next run rolls them back
          journal.close();
        }
        ch.close();
      }
    } finally {
      arena.close();
    }
  }
}
