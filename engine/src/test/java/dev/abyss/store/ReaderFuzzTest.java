package dev.abyss.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.AbyssException;
import dev.abyss.data.Idx;
import dev.abyss.kernel.Activation;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Malformed input to every reader (core and head headers, IDX, the journal) is refused with
 * an {@link AbyssException} carrying one line, never another exception, and refusing writes
 * nothing. Inputs: random bytes, and valid files with random bytes flipped or cut.
 */
class ReaderFuzzTest {

  private static void oneLine(AbyssException e) {
    assertTrue(e.getMessage() != null && !e.getMessage().isBlank()
        && !e.getMessage().contains("\n"), String.valueOf(e.getMessage()));
  }

  private static byte[] validCore() throws Exception {
    Path d = Files.createTempDirectory("fuzz");
    Path p = d.resolve("c.bin");
    CoreFile.create(p, new CoreHeader(3, 20, Activation.TANH, 0.2f, 0.1f, 1, 0, 2, 4), null);
    byte[] b = Files.readAllBytes(p);
    Files.delete(p);
    Files.delete(d);
    return b;
  }

  @Property(tries = 300)
  void coreFilesWithDamageAreRefusedCleanly(@ForAll("damage") int[] edits,
      @ForAll @IntRange(min = 0, max = 5000) int cut) throws Exception {
    byte[] b = validCore();
    for (int k = 0; k + 1 < edits.length; k += 2) {
      int pos = Math.floorMod(edits[k], b.length);
      b[pos] ^= (byte) (edits[k + 1] | 1);
    }
    if (cut % 3 == 0) {
      b = java.util.Arrays.copyOf(b, Math.floorMod(cut, b.length + 1));
    }
    Path d = Files.createTempDirectory("fuzz");
    Path p = d.resolve("c.bin");
    Files.write(p, b);
    try {
      try (CoreWeights cw = CoreFile.openStreamed(p, false)) {
        cw.load(0, 20);
      }
    } catch (AbyssException e) {
      oneLine(e);
    }
    assertArrayEquals(b, Files.readAllBytes(p), "a refused file is not written");
    Files.delete(p);
    Files.delete(d);
  }

  @Provide
  Arbitrary<int[]> damage() {
    return Arbitraries.integers().array(int[].class).ofMinSize(2).ofMaxSize(8);
  }

  @Property(tries = 300)
  void randomBytesAsCoreHeader(@ForAll @Size(max = 200) byte[] raw) {
    try {
      CoreHeader.decode("fuzz", ByteBuffer.wrap(raw));
    } catch (AbyssException e) {
      oneLine(e);
    }
  }

  @Property(tries = 300)
  void randomHeadFiles(@ForAll @Size(max = 400) byte[] raw, @ForAll boolean withMagic)
      throws Exception {
    if (withMagic && raw.length >= 8) {
      System.arraycopy(HeadHeader.MAGIC, 0, raw, 0, 8);
    }
    Path d = Files.createTempDirectory("fuzz");
    Path p = d.resolve("h.bin");
    Files.write(p, raw);
    try {
      HeadFile.read(p);
    } catch (AbyssException e) {
      oneLine(e);
    }
    Files.delete(p);
    Files.delete(d);
  }

  @Property(tries = 300)
  void randomIdxFiles(@ForAll @Size(max = 300) byte[] raw, @ForAll boolean images,
      @ForAll @IntRange(min = 0, max = 3) int header) {
    if (raw.length >= 16 && header > 0) {
      ByteBuffer b = ByteBuffer.wrap(raw);
      b.putInt(images ? Idx.IMAGES_MAGIC : Idx.LABELS_MAGIC);
      b.putInt(header == 1 ? 2 : raw[5] & 0x7f);
    }
    try {
      if (images) {
        Idx.parseImages("fuzz", raw);
      } else {
        Idx.parseLabels("fuzz", raw);
      }
    } catch (AbyssException e) {
      oneLine(e);
    }
  }

  @Property(tries = 200)
  void garbageJournalNeverDamagesTheCore(@ForAll @Size(max = 600) byte[] raw,
      @ForAll boolean withMagic) throws Exception {
    Path d = Files.createTempDirectory("fuzz");
    Path p = d.resolve("c.bin");
    Files.write(p, validCore());
    byte[] before = Files.readAllBytes(p);
    if (withMagic && raw.length >= Journal.START) {
      ByteBuffer b = ByteBuffer.wrap(raw).order(java.nio.ByteOrder.LITTLE_ENDIAN);
      b.put(Journal.MAGIC).putInt(1).putLong(CoreFile.readHeader(p).dataOffset());
    }
    Files.write(Journal.pathFor(p), raw);
    try {
      Journal.recover(p, d.resolve("h.bin"));
    } catch (AbyssException e) {
      oneLine(e);
    }
    // random records fail their CRC: nothing is rolled back or forward
    assertArrayEquals(before, Files.readAllBytes(p));
    assertFalse(Files.exists(Journal.pathFor(p)));
    try (var s = Files.list(d)) {
      s.forEach(f -> f.toFile().delete());
    }
    Files.delete(d);
  }
}
