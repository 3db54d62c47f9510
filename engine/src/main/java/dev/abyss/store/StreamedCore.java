package dev.abyss.store;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
 * those blocks' checksums and writes them to the interval's shadow core.
 *
 * <p><b>Crash safety: a shadow core per commit interval.</b> The committed file is never
 * written. Between two commits every block written back goes to the same offset of a second
 * file beside it, {@code .WEIGHTS.tmp}, and reads take each block from whichever file holds
 * its latest bytes. {@link #commit} copies the blocks not written since the last commit into
 * the shadow, writes its header and block table, forces it, writes the head's pending copy,
 * renames the shadow over the core and then the head over theirs: the in-memory core's
 * commit, with the new file built during the interval instead of at the commit. A crash at
 * any point leaves the committed pair, or the new core beside its pending head, which {@link
 * Journal#recover} completes (docs/journal.md). No write is forced before the commit, so the
 * first step of an interval costs what the others do (an undo journal did until 2026-11-28:
 * docs/decisions.md, "A shadow core instead of the undo journal").
 *
 * <p><b>Overlap.</b> One I/O thread reads ahead and writes behind: {@link #prefetch} reads
 * and verifies the next range into a second buffer while the caller computes on this one, and
 * {@link #writeBack} hands its bytes to the thread and returns. Tasks run in submission order
 * on that one thread, so a read submitted after a write sees it; a read-ahead submitted
 * <i>before</i> a write of blocks it shares (chunk edges inside a block) is patched from the
 * written bytes when it is taken. {@link #commit} and {@link #close} wait for every write. An
 * I/O failure on the thread is rethrown by the next call.
 *
 * <p><b>Help.</b> Once the I/O thread has started a read-ahead or a write-behind (every task
 * submitted before it done), its blocks go to whichever thread claims them first: the I/O
 * thread, a training thread that would otherwise wait ({@link #helpIo}), or the caller of
 * {@link #load} waiting for that very read; the task ends when every block is done, so the
 * next one still starts after it. On two cores the I/O thread has no core of its own, and a
 * training thread it takes the core from holds up the other one's turn (docs/decisions.md,
 * "Waiting threads do the I/O").
 *
 * <p>Resident memory: staging, read-ahead and write-behind buffers (three times the largest
 * chunk plus blocks). A bf16 core adds two f32 working copies, of the staged layers and of
 * the read-ahead (widened block by block after the read, rounded back by {@link Bf16#round}
 * on write-back); staging and checksums stay in bf16.
 */
final class StreamedCore implements CoreWeights {
  private final Path path;
  /** The committed core file: read, never written (replaced by the shadow at a commit). */
  private FileChannel ch;
  /** This interval's shadow core, {@code .WEIGHTS.tmp}; null until its first write-back. */
  private FileChannel shadow;
  /**
   * The blocks written back since the last commit, whose latest bytes are in the shadow. Set
   * and read on the calling thread; the I/O tasks get a copy of their range's bits.
   */
  private final BitSet inShadow = new BitSet();
  private final boolean writable;
  private final int[] table;
  private final long lb;
  private final long wlb;
  private final boolean bf16;
  private long roundKey;
  private final Arena arena = Arena.ofShared();
  private final ExecutorService io = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "abyss-io");
    t.setDaemon(true);
    return t;
  });
  private CoreHeader header;
  private MemorySegment staging;
  /** Whether the staged range was loaded for update (not by loadForReading). */
  private boolean updatable;
  /** What the kernels see: the staging buffer itself for f32, its widened copy for bf16. */
  private MemorySegment work;
  private long stagedFirst = -1;
  private long stagedLayers;

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
   * Where each block of a range is read from: the shadow core for the blocks written back
   * since the last commit, the committed file for the rest. Taken on the calling thread when
   * a read is submitted (a write submitted before it has set its blocks' bits).
   */
  private record Sources(FileChannel core, FileChannel shadow, int firstBlock, BitSet written) {
    FileChannel of(int block) {
      return shadow != null && written.get(block - firstBlock) ? shadow : core;
    }
  }

  private Sources sources(long first, long end) {
    long bl = header.blockLayers();
    int b0 = (int) (first / bl);
    int b1 = (int) ((end - 1) / bl) + 1;
    return new Sources(ch, shadow, b0, inShadow.get(b0, b1));
  }

  /**
   * Reads blocks [first, end) into buf and verifies them against the block table, a block at a
   * time, each checksummed while it is still in the cache from its read (a quarter fewer
   * bytes from memory than reading the chunk first: docs/decisions.md). Runs where no write is
   * in flight: on the I/O thread, or after {@link #awaitWrite}.
   */
  private void readVerified(MemorySegment buf, long first, long end, Sources from)
      throws IOException {
    long bl = header.blockLayers();
    for (long l = first; l < end; l += bl) {
      long n = Math.min(bl, end - l);
      CoreFile.readFully(from.of((int) (l / bl)),
          buf.asSlice((l - first) * lb, n * lb).asByteBuffer(), header.dataOffset() + l * lb,
          "core file " + path);
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
    Sources from = sources(first, end);
    BlockJob job = new BlockJob(first, end, (l, n) -> {
      readVerified(buf.asSlice((l - first) * lb), l, l + n, from);
      if (widened != null) {
        // off the compute path: 1-1.5 ns a value there (docs/decisions.md)
        Bf16.widen(buf, (l - first) * lb, widened, (l - first) * wlb, n * lf);
      }
    });
    aheadJob = job;
    ahead = start(job);
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

  /**
   * Submits an I/O task that runs {@code job} on the I/O thread, its blocks offered to helpers
   * ({@link #current}) from the moment the task starts until it ends.
   */
  private Future<?> start(BlockJob job) {
    return io.submit(() -> {
      current = job;
      try {
        job.run();
      } finally {
        current = null;
      }
      return null;
    });
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
      // staged for reading, unchanged since: it may be written back now
      updatable |= writable && forUpdate;
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
      readVerified(staging, first, end, sources(first, end));
    }
    updatable = writable && forUpdate;
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
    if (!updatable) {
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
      openShadow(); // at the interval's first write-back
      awaitWrite(); // one write in flight: its buffers are about to be reused
      if (ahead != null && aheadStale) {
        dropAhead(); // the bytes it would need to be patched with are about to go
      }
      if (ahead != null && first < aheadEnd && aheadFirst < end) {
        aheadStale = true;
      }
      // no copy: the staged buffer goes to the writer and staging takes the idle one (the
      // write it served is done); the range counts as not loaded (a load of it reads it again)
      MemorySegment idle = writeBuf;
      writeBuf = staging;
      staging = idle;
      stagedFirst = -1;
      if (!bf16) {
        work = null;
      }
      MemorySegment src = writeBuf.asSlice(0, bytes);
      updatable = false;
      // reads submitted from now on take these blocks from the shadow
      inShadow.set(b0, b1);
      FileChannel out = shadow;
      long pos = header.dataOffset() + first * lb;
      writtenFirst = first;
      writtenEnd = end;
      // on the I/O thread, the blocks into the shadow, each checksummed into the table just
      // before its write, while it is in the cache (the compute thread had spent about a tenth
      // of a streamed step on these checksums; the table is read only by I/O tasks, after the
      // task that wrote an entry ended, and by commit, after awaitWrite); they go to whichever
      // thread claims them (see BlockJob)
      BlockJob job = new BlockJob(first, end, (l, n) -> {
        long from = (l - first) * lb;
        table[(int) (l / bl)] = Crc.of(src, from, n * lb);
        CoreFile.writeFully(out, src.asSlice(from, n * lb).asByteBuffer(), pos + from);
      });
      writing = start(job);
    } catch (IOException e) {
      throw AtomicFiles.diskError(path, e);
    }
  }

  /** Waits for the write in flight; a failure is a disk error. Package
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

  /**
   * Saves the interval: the blocks not written since the last commit are copied into the
   * shadow, which gets the new header and block table and is forced; then the head's pending
   * copy (forced), the shadow renamed over the core, the head renamed over its file. The
   * shadow's channel goes on as the committed core.
   */
  @Override
  public void commit(long step, Path head, byte[] headBytes) throws IOException {
    if (!writable) {
      throw new IllegalStateException("opened read-only");
    }
    drain();
    CoreHeader h = header.withStep(step);
    Path tmp = AtomicFiles.tempFor(path);
    try {
      openShadow(); // an interval without writes: the commit copies every block
      copyUnwritten();
      CoreFile.writeMeta(shadow, h, table);
      shadow.force(true);
      Path pending = head == null ? null : AtomicFiles.writeTemp(head, headBytes);
      AtomicFiles.commit(tmp, path);
      FileChannel old = ch;
      ch = shadow;
      shadow = null;
      inShadow.clear();
      header = h;
      old.close();
      if (pending != null) {
        AtomicFiles.commit(pending, head);
      }
    } catch (IOException e) {
      throw AtomicFiles.diskError(path, e);
    }
  }

  /**
   * Opens the interval's shadow core if it is not open yet, empty: a stale one (a cut run's) is
   * removed by the recovery before a core is opened, and truncated here if not.
   */
  private void openShadow() throws IOException {
    if (shadow == null) {
      shadow = FileChannel.open(AtomicFiles.tempFor(path), StandardOpenOption.CREATE,
          StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.READ,
          StandardOpenOption.WRITE);
    }
  }

  /** Copies the blocks not written since the last commit from the core into the shadow. */
  private void copyUnwritten() throws IOException {
    long bl = header.blockLayers();
    int blocks = (int) header.numBlocks();
    java.nio.ByteBuffer buf = null;
    for (int b = inShadow.nextClearBit(0); b < blocks; b = inShadow.nextClearBit(b)) {
      int e = inShadow.nextSetBit(b);
      e = e < 0 || e > blocks ? blocks : e;
      long pos = header.dataOffset() + b * bl * lb;
      long bytes = (Math.min(header.layers(), (long) e * bl) - b * bl) * lb;
      if (buf == null) {
        buf = java.nio.ByteBuffer.allocateDirect((int) Math.min(bytes, 1 << 22));
      }
      for (long done = 0; done < bytes; ) {
        buf.clear().limit((int) Math.min(buf.capacity(), bytes - done));
        CoreFile.readFully(ch, buf, pos + done, "core file " + path);
        buf.flip();
        int n = buf.remaining();
        CoreFile.writeFully(shadow, buf, pos + done);
        done += n;
      }
      b = e;
    }
  }

  @Override
  public void close() throws IOException {
    try {
      try {
        drain();
      } finally {
        io.shutdown();
        if (shadow != null) {
          // uncommitted changes: the shadow stays, and the next run's recovery removes it
          shadow.close();
        }
        ch.close();
      }
    } finally {
      arena.close();
    }
  }
}
