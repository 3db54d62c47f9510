package dev.abyss.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.constraints.StringLength;

/**
 * Malformed files given to the command line (inspect, eval, report): one line on stderr,
 * exit code 2, no stack trace, the file left as it was.
 */
class CliFuzzTest {

  static void refusedCleanly(CliTest.Out r) {
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("abyss: "), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertFalse(r.err().contains("Exception"), r.err());
  }

  @Property(tries = 100)
  void inspectAndEvalRefuseRandomFiles(@ForAll @Size(max = 300) byte[] raw,
      @ForAll boolean coreMagic) throws Exception {
    if (raw.length >= 8) {
      System.arraycopy((coreMagic ? "ABYSCORE" : "ABYSHEAD").getBytes(StandardCharsets.US_ASCII),
          0, raw, 0, 8);
    }
    Path d = Files.createTempDirectory("clifuzz");
    Path f = d.resolve("x.bin");
    Files.write(f, raw);
    refusedCleanly(CliTest.run("inspect", f.toString()));
    refusedCleanly(CliTest.run("eval-dense", "--weights", f.toString(), "--head", f.toString()));
    assertEquals(raw.length, Files.size(f));
    assertTrue(java.util.Arrays.equals(raw, Files.readAllBytes(f)));
    Files.delete(f);
    Files.delete(d);
  }

  @Property(tries = 50)
  void reportRefusesMalformedMetrics(@ForAll @StringLength(max = 80) String line)
      throws Exception {
    Path d = Files.createTempDirectory("clifuzz");
    Files.writeString(d.resolve("manifest.json"), "{\"config\": {}}");
    Files.writeString(d.resolve("metrics.jsonl"), "{\"step\": 1, \"loss\": 2.0, \"accuracy\":"
        + " 0.1}\n{" + line.replace("\n", " ") + "\n");
    CliTest.Out r = CliTest.run("report", d.toString());
    refusedCleanly(r);
    try (var s = Files.list(d)) {
      s.forEach(x -> x.toFile().delete());
    }
    Files.delete(d);
  }
}
