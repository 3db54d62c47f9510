package dev.abyss.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.AbyssException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The IDX reader on generated files, well-formed and malformed; MNIST location checks. */
class IdxTest {
  @TempDir Path dir;

  @Test
  void parsesGeneratedFiles() {
    byte[] px = new byte[3 * 4 * 5];
    for (int i = 0; i < px.length; i++) {
      px[i] = (byte) (i * 7);
    }
    Idx.Images im = Idx.parseImages("x", Idx.encodeImages(3, 4, 5, px));
    assertEquals(3, im.count());
    assertEquals(20, im.pixelsPerImage());
    assertArrayEquals(px, Arrays.copyOfRange(im.pixels(), im.offset(), im.offset() + px.length));
    byte[] lb = {0, 9, 3};
    assertArrayEquals(lb, Idx.parseLabels("y", Idx.encodeLabels(lb)));
  }

  @Test
  void refusesMalformedFiles() {
    byte[] good = Idx.encodeImages(2, 2, 2, new byte[8]);
    assertRefused(() -> Idx.parseImages("f", new byte[5]), "truncated");
    byte[] wrong = good.clone();
    wrong[3] = 1;
    assertRefused(() -> Idx.parseImages("f", wrong), "wrong magic");
    assertRefused(() -> Idx.parseImages("f", Arrays.copyOf(good, good.length - 1)), "truncated");
    assertRefused(() -> Idx.parseImages("f", Arrays.copyOf(good, good.length + 1)), "too long");
    byte[] count = good.clone();
    count[7] = 3; // says 3 images, has 2
    assertRefused(() -> Idx.parseImages("f", count), "truncated");
    assertRefused(() -> Idx.parseLabels("f", good), "wrong magic");
    assertRefused(() -> Idx.parseLabels("f", Idx.encodeLabels(new byte[] {1, 10})), "label 10");
    byte[] lab = Idx.encodeLabels(new byte[] {1, 2});
    assertRefused(() -> Idx.parseLabels("f", Arrays.copyOf(lab, 9)), "truncated");
  }

  @Test
  void givenDirectoryFileWithWrongChecksumIsRefusedNamingIt() throws Exception {
    Path bad = dir.resolve("t10k-labels-idx1-ubyte");
    Files.write(bad, Idx.encodeLabels(new byte[] {1, 2, 3}));
    Mnist m = new Mnist(dir, dir.resolve("cache"), s -> { });
    AbyssException e = assertThrows(AbyssException.class, () -> m.locate(Mnist.File.TEST_LABELS));
    assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("SHA-256"), e.getMessage());
    // the bad file is left as it was; nothing was written to the cache
    assertArrayEquals(Idx.encodeLabels(new byte[] {1, 2, 3}), Files.readAllBytes(bad));
    assertTrue(!Files.exists(dir.resolve("cache").resolve("t10k-labels-idx1-ubyte")));
  }

  @Test
  void corruptGzipIsRefused() throws Exception {
    Path gz = dir.resolve("train-labels-idx1-ubyte.gz");
    try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(gz))) {
      o.write(Idx.encodeLabels(new byte[] {1}));
    }
    byte[] b = Files.readAllBytes(gz);
    Files.write(gz, Arrays.copyOf(b, b.length / 2));
    Mnist m = new Mnist(dir, dir.resolve("cache"), s -> { });
    AbyssException e = assertThrows(AbyssException.class,
        () -> m.locate(Mnist.File.TRAIN_LABELS));
    assertTrue(e.getMessage().contains("gzip"), e.getMessage());
  }

  private static void assertRefused(Runnable r, String part) {
    AbyssException e = assertThrows(AbyssException.class, r::run);
    assertTrue(e.getMessage().contains(part), e.getMessage());
  }
}
