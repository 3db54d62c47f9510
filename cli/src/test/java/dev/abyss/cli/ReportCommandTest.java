package dev.abyss.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code abyss report}: the charts and page it writes from a run directory, and its means. */
class ReportCommandTest {
  @TempDir Path dir;

  @Test
  void trailingMeansAreTheMeansOfTheLastStepsOfTheWindow() {
    assertArrayEquals(new double[] {2, 3, 4, 6, 8}, ReportCommand.trailingMeans(
        new double[] {2, 4, 6, 8, 10}, 3), 1e-12);
    assertArrayEquals(new double[] {1, 5}, ReportCommand.trailingMeans(new double[] {1, 5}, 1),
        0);
    Random r = new Random(7);
    for (int win : new int[] {1, 2, 5, 20, 100}) {
      double[] v = r.doubles(257, -3, 3).toArray();
      double[] m = ReportCommand.trailingMeans(v, win);
      for (int i = 0; i < v.length; i++) {
        double s = 0;
        int from = Math.max(0, i - win + 1);
        for (int j = from; j <= i; j++) {
          s += v[j];
        }
        assertEquals(s / (i - from + 1), m[i], 1e-12, "window " + win + ", step " + i);
      }
    }
  }

  @Test
  void shortRunsAreNotSmoothedLongOnesByAFiftiethOfTheRun() {
    assertEquals(1, ReportCommand.smoothingWindow(1));
    assertEquals(1, ReportCommand.smoothingWindow(99));
    assertEquals(5, ReportCommand.smoothingWindow(100));
    assertEquals(20, ReportCommand.smoothingWindow(1000));
    assertEquals(100, ReportCommand.smoothingWindow(1_000_000));
  }

  /** A run directory as train writes it: {@code steps} steps, diagnostics every 50. */
  private Path run(String name, int first, int steps) throws Exception {
    Path d = dir.resolve(name);
    Files.createDirectories(d);
    Files.writeString(d.resolve("manifest.json"), "{\"config\": {\"layers\": 1000}}\n");
    List<String> lines = new ArrayList<>();
    Random r = new Random(first);
    for (int s = first; s < first + steps; s++) {
      StringBuilder b = new StringBuilder(String.format(Locale.ROOT,
          "{\"step\":%d,\"loss\":%.4f,\"accuracy\":%.4f,\"seconds\":0.01", s,
          2.3 - 0.001 * s + 0.3 * r.nextDouble(), 0.1 + 0.0005 * s + 0.2 * r.nextDouble()));
      if (s % 50 == 0 || s == first) {
        b.append(",\"gradNorm\":[0.03,0.02,0.01],\"activationRms\":[0.5,0.6,0.7]")
            .append(",\"firstLayerMeanAbsGrad\":1e-5,\"inputMeanAbsGrad\":0.01");
      }
      lines.add(b.append('}').toString());
    }
    Files.write(d.resolve("metrics.jsonl"), lines, StandardCharsets.UTF_8);
    return d;
  }

  private static void assertPng(Path p) throws Exception {
    assertTrue(Files.exists(p), p + " written");
    byte[] b = Files.readAllBytes(p);
    assertTrue(b.length > 1000, p + " is an image, not an empty file");
    assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, java.util.Arrays.copyOf(b, 4),
        p + " is a PNG");
  }

  @Test
  void aRunGetsItsChartsAndAPageThatShowsThem() throws Exception {
    for (int[] shape : new int[][] {{1, 1000}, {5001, 60}}) {
      Path d = run("run-" + shape[0], shape[0], shape[1]);
      CliTest.Out o = CliTest.run("report", d.toString());
      assertEquals(0, o.code(), o.err());
      assertEquals("", o.err());
      String[] charts = {"loss-accuracy", "gradnorm-depth", "activation-depth",
          "first-layer-grad"};
      String html = Files.readString(d.resolve("report.html"));
      for (String c : charts) {
        assertPng(d.resolve(c + ".png"));
        assertTrue(html.contains("<img src='" + c + ".png'"), c + " on the page");
        assertTrue(o.out().contains(c + ".png"), o.out());
      }
      assertTrue(html.contains(shape[1] + " steps"), html);
      assertTrue(html.contains("&quot;layers&quot;") || html.contains("\"layers\""),
          "the manifest on the page");
    }
  }

  @Test
  void aRunWithoutDiagnosticsGetsTheLossChartAlone() throws Exception {
    Path d = dir.resolve("plain");
    Files.createDirectories(d);
    Files.writeString(d.resolve("manifest.json"), "{}\n");
    Files.writeString(d.resolve("metrics.jsonl"),
        "{\"step\":1,\"loss\":2.3,\"accuracy\":0.1}\n{\"step\":2,\"loss\":2.2,\"accuracy\":0.2}\n");
    CliTest.Out o = CliTest.run("report", d.toString());
    assertEquals(0, o.code(), o.err());
    assertPng(d.resolve("loss-accuracy.png"));
    assertFalse(Files.exists(d.resolve("gradnorm-depth.png")));
    assertTrue(o.out().contains("wrote loss-accuracy.png and report.html"), o.out());
  }
}
