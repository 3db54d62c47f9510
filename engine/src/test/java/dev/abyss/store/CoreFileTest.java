package dev.abyss.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.AbyssException;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import dev.abyss.train.CoreSpec;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Core and head formats: round trips and the refusal of every kind of bad file. */
class CoreFileTest {
  @TempDir Path dir;

  private Path newCore(String name, long layers, int blockLayers) throws Exception {
    CoreHeader h = new CoreHeader(4, layers, Activation.SOFTSIGN, 0.25f, 0.001f, 0x5EED, 0,
        0xD00D, blockLayers);
    Path p = dir.resolve(name);
    CoreFile.create(p, h, null);
    return p;
  }

  @Test
  void headerRoundTripsAndInitIsDeterministic() throws Exception {
    Path a = newCore("a.bin", 100, 16);
    Path b = newCore("b.bin", 100, 16);
    CoreHeader h = CoreFile.readHeader(a);
    assertEquals(4, h.width());
    assertEquals(100, h.layers());
    assertEquals(Activation.SOFTSIGN, h.activation());
    assertEquals(0.25f, h.alpha());
    assertEquals(0x5EED, h.seed());
    assertEquals(0, h.step());
    assertEquals(0xD00D, h.dataSeed());
    assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
    try (CoreWeights cw = CoreFile.openInMemory(a)) {
      MemorySegment s = cw.load(0, 100);
      for (int l = 0; l < 100; l++) {
        for (int k = 0; k < 16; k++) {
          float v = s.get(Kernels.F32, cw.offsetOf(l) + 4L * k);
          assertTrue(Math.abs(v) <= 0.001f && v != 0f, "W in [-scale, scale]: " + v);
        }
        for (int k = 16; k < 20; k++) {
          assertEquals(0f, s.get(Kernels.F32, cw.offsetOf(l) + 4L * k), "b = 0");
        }
      }
    }
  }

  @Test
  void initDoesNotDependOnBlockOrBufferSize() throws Exception {
    Path a = newCore("a.bin", 70000, 3);
    Path b = newCore("b.bin", 70000, 4096);
    try (CoreWeights x = CoreFile.openInMemory(a); CoreWeights y = CoreFile.openInMemory(b)) {
      MemorySegment sx = x.load(0, 70000);
      MemorySegment sy = y.load(0, 70000);
      assertEquals(-1, sx.mismatch(sy));
    }
  }

  @Test
  void refusesWrongMagicTruncationAndDamage() throws Exception {
    Path good = newCore("good.bin", 40, 8);
    byte[] orig = Files.readAllBytes(good);

    Path empty = dir.resolve("empty.bin");
    Files.write(empty, new byte[0]);
    assertMessage(empty, "shorter than its");

    Path magic = dir.resolve("magic.bin");
    byte[] m = orig.clone();
    m[0] = 'X';
    Files.write(magic, m);
    assertMessage(magic, "wrong magic");

    Path hdr = dir.resolve("hdr.bin");
    byte[] hd = orig.clone();
    hd[16] ^= 1; // width
    Files.write(hdr, hd);
    assertMessage(hdr, "damaged header");

    Path trunc = dir.resolve("trunc.bin");
    Files.write(trunc, java.util.Arrays.copyOf(orig, orig.length - 10));
    assertMessage(trunc, "truncated");

    Path table = dir.resolve("table.bin");
    byte[] t = orig.clone();
    t[CoreHeader.SIZE + 2] ^= 1;
    Files.write(table, t);
    assertMessage(table, "checksum table");

    Path data = dir.resolve("data.bin");
    byte[] d = orig.clone();
    d[d.length - 100] ^= 0x10;
    Files.write(data, d);
    CoreFile.readHeader(data); // header is fine
    AbyssException e = assertThrows(AbyssException.class, () -> {
      try (CoreWeights cw = CoreFile.openStreamed(data, false)) {
        cw.load(0, 40);
      }
    });
    assertTrue(e.getMessage().contains("fails its checksum"), e.getMessage());
    assertThrows(AbyssException.class, () -> CoreFile.openInMemory(data).close());
    // the refused files were not touched
    assertArrayEquals(d, Files.readAllBytes(data));

    Path head = dir.resolve("head.bin");
    HeadFile.write(head, new HeadHeader(0, 4, 1, 0, 0, 0),
        new float[(int) HeadHeader.payloadFloats(4)]);
    assertMessage(head, "it is a head file");
  }

  private static void assertMessage(Path p, String part) {
    AbyssException e = assertThrows(AbyssException.class, () -> CoreFile.readHeader(p));
    assertTrue(e.getMessage().contains(part), e.getMessage());
    assertTrue(!e.getMessage().contains("\n"), "one line");
  }

  @Test
  void refusesFlagsThatContradictTheHeader() throws Exception {
    Path p = newCore("c.bin", 30, 8);
    CoreHeader h = CoreFile.readHeader(p);
    new CoreSpec(30L, 4, Activation.SOFTSIGN, null, null, null).check(p, h);
    new CoreSpec(null, null, null, null, null, null).check(p, h);
    for (CoreSpec bad : new CoreSpec[] {
        new CoreSpec(31L, null, null, null, null, null),
        new CoreSpec(null, 32, null, null, null, null),
        new CoreSpec(null, null, Activation.TANH, null, null, null),
        new CoreSpec(null, null, null, 0.5f, null, null)}) {
      AbyssException e = assertThrows(AbyssException.class, () -> bad.check(p, h));
      assertTrue(e.getMessage().contains("was given"), e.getMessage());
    }
  }

  @Test
  void headFileRoundTripAndRefusals() throws Exception {
    Path p = dir.resolve("h.bin");
    float[] payload = new float[(int) HeadHeader.payloadFloats(3)];
    for (int i = 0; i < payload.length; i++) {
      payload[i] = i * 0.5f - 7;
    }
    HeadHeader hh = new HeadHeader(HeadHeader.KIND_RESIDUAL, 3, 2, 17, 5, 6);
    HeadFile.write(p, hh, payload);
    HeadFile.Contents c = HeadFile.read(p);
    assertEquals(hh, c.header());
    assertArrayEquals(payload, c.payload());
    byte[] orig = Files.readAllBytes(p);

    byte[] bad = orig.clone();
    bad[bad.length - 1] ^= 1;
    Files.write(p, bad);
    assertTrue(assertThrows(AbyssException.class, () -> HeadFile.read(p)).getMessage()
        .contains("payload checksum"));
    Files.write(p, java.util.Arrays.copyOf(orig, orig.length - 4));
    assertTrue(assertThrows(AbyssException.class, () -> HeadFile.read(p)).getMessage()
        .contains("truncated"));
    bad = orig.clone();
    bad[20] ^= 1;
    Files.write(p, bad);
    assertTrue(assertThrows(AbyssException.class, () -> HeadFile.read(p)).getMessage()
        .contains("damaged header"));
    Path core = newCore("core.bin", 3, 1);
    assertTrue(assertThrows(AbyssException.class, () -> HeadFile.read(core)).getMessage()
        .contains("it is a core file"));
    assertTrue(assertThrows(AbyssException.class, () -> HeadFile.read(dir.resolve("none")))
        .getMessage().contains("does not exist"));
  }

  @Test
  void rawCoreAndHeadRoundTrip() throws Exception {
    Path core = newCore("core.bin", 123, 10);
    Path raw = dir.resolve("raw.bin");
    RawFormat.exportCore(core, raw);
    CoreHeader h = CoreFile.readHeader(core);
    assertEquals(h.dataBytes(), Files.size(raw));
    byte[] whole = Files.readAllBytes(core);
    assertArrayEquals(java.util.Arrays.copyOfRange(whole, (int) h.dataOffset(), whole.length),
        Files.readAllBytes(raw));
    Path back = dir.resolve("back.bin");
    RawFormat.importCore(raw, h, back);
    assertArrayEquals(whole, Files.readAllBytes(back));

    // a raw file whose size does not match the flags is refused, nothing written
    Path out = dir.resolve("never.bin");
    CoreHeader wrong = new CoreHeader(4, 124, Activation.SOFTSIGN, 0.1f, 0, 0, 0, 0, 10);
    AbyssException e = assertThrows(AbyssException.class,
        () -> RawFormat.importCore(raw, wrong, out));
    assertTrue(e.getMessage().contains("check --layers and --width"), e.getMessage());
    assertTrue(!Files.exists(out));

    float[] hp = new float[(int) HeadHeader.payloadFloats(4)];
    hp[5] = 3.25f;
    Path rh = dir.resolve("rawhead.bin");
    RawFormat.writeHead(rh, hp);
    assertArrayEquals(hp, RawFormat.readHead(rh, 4));
    assertThrows(AbyssException.class, () -> RawFormat.readHead(rh, 5));
  }

  @Test
  void streamedWritesKeepChecksumsValid() throws Exception {
    Path p = newCore("s.bin", 37, 5);
    try (CoreWeights cw = CoreFile.openStreamed(p, true)) {
      for (long start = 30; start >= 0; start -= 6) {
        int n = (int) Math.min(7, 37 - start);
        MemorySegment s = cw.load(start, n);
        s.set(Kernels.F32, cw.offsetOf(start), 1.5f);
        cw.writeBack(start, n);
      }
      cw.commit(9);
    }
    assertEquals(9, CoreFile.readHeader(p).step());
    try (CoreWeights cw = CoreFile.openInMemory(p)) { // verifies every block
      MemorySegment s = cw.load(0, 37);
      assertEquals(1.5f, s.get(Kernels.F32, cw.offsetOf(30)));
      assertEquals(1.5f, s.get(Kernels.F32, cw.offsetOf(0)));
    }
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "r")) {
      assertEquals(CoreFile.readHeader(p).fileSize(), f.length());
    }
  }
}
