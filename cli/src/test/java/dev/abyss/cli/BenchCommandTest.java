package dev.abyss.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `abyss bench` on a tiny suite: every row is printed and lands in the JSON with provenance. */
class BenchCommandTest {
  @TempDir Path dir;

  @Test
  void tinySuiteWritesTableAndJson() throws Exception {
    Path json = dir.resolve("b.json");
    CliTest.Out r = CliTest.run("bench", "--depths", "3000", "--steps", "1", "--eval-images",
        "4100", "--chunk-layers", "1000", "--dir", dir.toString(), "--json", json.toString());
    assertEquals(0, r.code(), r.err());
    for (String row : new String[] {"forward w4 b16 3000", "step w4 b16 3000 in-memory",
        "step w4 b16 3000 in-memory, diagnostics", "step w4 b16 3000 streamed",
        "eval 4100 images", "step w4 b16 3000 bf16 in-memory",
        "step w4 b16 3000 bf16 streamed", "step w32 b1 10000", "MLP step", "JIT warm-up, MLP step",
        "JIT warm-up, bf16 conversions", "JIT warm-up, w4 b16 step, ",
        "JIT warm-up, w4 b16 step streamed, ", "JIT warm-up",
        "vector division", "vector FMA",
        "eval division floor at 3000 layers", "step w4 b1 3000 in-memory",
        "step w4 b32 3000 in-memory", "step w8 b16 3000 in-memory",
        "step w16 b16 3000 in-memory"}) {
      assertTrue(r.out().contains(row), row + " missing:\n" + r.out());
    }
    JsonNode doc = new ObjectMapper().readTree(json.toFile());
    assertEquals(23, doc.get("rows").size());
    assertTrue(doc.get("provenance").get("kernels").asText().matches("scalar|vector-\\d+"));
    // the bf16 rows' warm-up puts the vector conversions in use, unless it gave up (4 s)
    String conv = doc.get("provenance").get("bf16Conversions").asText();
    assertTrue(conv.equals(doc.get("provenance").get("kernels").asText())
        || conv.equals("scalar"), conv);
    assertTrue(doc.get("provenance").has("jdk"));
    // whether train splits the w4 b16 forward, as the kernel warm-up timed it: said both ways
    assertTrue(doc.get("forwardSplitW4B16").isBoolean(), doc.toString());
    if (doc.get("provenance").get("kernels").asText().equals("vector-512")) {
      assertTrue(r.out().contains("w4 b16 forward with two threads: "
          + (doc.get("forwardSplitW4B16").asBoolean() ? "split by samples"
              : "the whole batch on one thread")), r.out());
    }
    for (JsonNode row : doc.get("rows")) {
      String name = row.get("name").asText();
      if (name.matches("step w(4 b32|8 b16|16 b16|4 b1) 3000 .*")) {
        // the other shapes' medians take 20 steps whatever --steps says (Bench.OTHER_STEPS)
        assertEquals(20, row.get("repeats").asInt(), name);
      } else if (name.startsWith("step w4 b16")) {
        assertEquals(1, row.get("repeats").asInt(), name);
      }
      // the scalar kernels have nothing to warm up
      boolean warm = row.get("name").asText().startsWith("JIT warm-up");
      assertTrue(row.get("median").asDouble() > 0 || warm && row.get("median").asDouble() == 0,
          row.toString());
    }
    // the temporary model files are gone
    try (var s = Files.list(dir.resolve("abyss-bench"))) {
      assertEquals(0, s.count());
    }
  }

  @Test
  void oneShapeAloneIsOneRowLine() {
    // how the suite measures each other shape in a JVM of its own
    CliTest.Out r = CliTest.run("bench", "--shape", "8,16", "--depths", "2000", "--steps", "1",
        "--chunk-layers", "1000", "--dir", dir.toString());
    assertEquals(0, r.code(), r.err());
    String[] f = r.out().strip().split("\t");
    assertEquals(7, f.length, r.out());
    assertEquals(BenchCommand.ROW, f[0]);
    assertEquals("step w8 b16 2000 in-memory", f[1]);
    assertEquals("s/step", f[2]);
    assertTrue(Double.parseDouble(f[3]) > 0, r.out());
    assertEquals("20", f[6], "at least Bench.OTHER_STEPS measured steps");
    CliTest.Out bad = CliTest.run("bench", "--shape", "8", "--dir", dir.toString());
    assertEquals(1, bad.err().strip().lines().count(), bad.err());
    assertTrue(bad.err().contains("--shape takes a width and a batch"), bad.err());
    assertTrue(bad.code() != 0);
  }

  @Test
  void evalImagesPastTheTestSetAreOneLine() {
    CliTest.Out r = CliTest.run("bench", "--eval-images", "10001", "--dir", dir.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--eval-images must be 1 to 10000"), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
  }
}
