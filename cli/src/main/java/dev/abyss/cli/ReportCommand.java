package dev.abyss.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.abyss.AbyssException;
import dev.abyss.run.MetricsLog;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** report: PNG plots and an HTML page from a run directory. */
@Command(name = "report", mixinStandardHelpOptions = true,
    description = "Plot a run (its directory from train's --run-dir): loss and accuracy (with"
        + " their trailing means from 100 steps on),"
        + " gradient norm vs depth, first-layer mean |grad| over training, activation scale vs"
        + " depth; PNGs and report.html in the run directory.")
final class ReportCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec cmd;

  @Parameters(paramLabel = "RUN_DIR", description = "A run directory (manifest.json,"
      + " metrics.jsonl).")
  Path dir;

  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  public Integer call() throws IOException {
    System.setProperty("java.awt.headless", "true");
    var out = cmd.commandLine().getOut();
    JsonNode manifest;
    List<JsonNode> rows = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      throw new AbyssException("run directory " + dir + " does not exist: give the directory"
          + " that train wrote (its --run-dir, or the runs/... path it printed)");
    }
    try {
      try (var in = Files.newInputStream(dir.resolve(MetricsLog.MANIFEST))) {
        manifest = JSON.readTree(in);
      }
      int n = 0;
      for (String line : Files.readAllLines(dir.resolve(MetricsLog.METRICS))) {
        n++;
        if (line.isBlank()) {
          continue;
        }
        try {
          JsonNode row = JSON.readTree(line);
          if (row == null || !row.isObject() || !row.path("step").isNumber()
              || !row.path("loss").isNumber()) {
            throw new AbyssException(dir.resolve(MetricsLog.METRICS) + " line " + n + " is not"
                + " a step record (it needs a numeric step and loss); was the file edited?");
          }
          rows.add(row);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
          throw new AbyssException(dir.resolve(MetricsLog.METRICS) + " line " + n
              + " is not JSON; was the file edited or cut? (" + e.getOriginalMessage() + ")");
        }
      }
    } catch (NoSuchFileException e) {
      throw new AbyssException(dir + " is not a run directory: " + e.getFile() + " is missing"
          + " (train writes one per run; see --run-dir)");
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new AbyssException(dir.resolve(MetricsLog.MANIFEST) + " is not valid JSON ("
          + e.getOriginalMessage() + ")");
    }
    if (rows.isEmpty()) {
      throw new AbyssException(dir.resolve(MetricsLog.METRICS) + " has no steps yet");
    }
    List<String> pngs = new ArrayList<>();
    // 1. loss and accuracy
    XYChart c = chart("Training loss and accuracy", "step", "value");
    c.getStyler().setYAxisDecimalPattern("0.0#");
    stepAxis(c, rows);
    // a step's loss and accuracy are those of its one minibatch: noisy; with enough steps
    // they are drawn faint, under their trailing means
    int win = smoothingWindow(rows.size());
    Color lossColor = new Color(31, 119, 180);
    Color accColor = new Color(255, 127, 14);
    Points lossPts = points(rows, "loss", false);
    Points accPts = points(rows, "accuracy", false);
    XYSeries loss = series(c, "loss", lossPts, false);
    XYSeries acc = series(c, "accuracy", accPts, false);
    if (win > 1) {
      meanSeries(c, "loss, mean of " + win + " steps", lossPts, win, lossColor, loss);
      meanSeries(c, "accuracy, mean of " + win + " steps", accPts, win, accColor, acc);
    }
    pngs.add(save(c, "loss-accuracy"));
    // diagnostics rows
    List<JsonNode> diag = rows.stream().filter(r -> r.has("gradNorm")).toList();
    if (!diag.isEmpty()) {
      XYChart g = chart("Gradient norm vs depth (100 buckets)", "depth (fraction of the core)",
          "||grad|| per bucket");
      XYChart a = chart("Activation RMS vs depth", "depth (fraction of the core)", "RMS of h");
      for (JsonNode r : pick(diag)) {
        depthSeries(g, "step " + r.get("step").asLong(), r.get("gradNorm"));
        depthSeries(a, "step " + r.get("step").asLong(), r.get("activationRms"));
      }
      g.getStyler().setYAxisLogarithmic(spansDecades(diag, "gradNorm"));
      g.getStyler().setXAxisDecimalPattern("0.0");
      a.getStyler().setXAxisDecimalPattern("0.0");
      pngs.add(save(g, "gradnorm-depth"));
      pngs.add(save(a, "activation-depth"));
      XYChart f = chart("Mean |grad| of the first layers over training", "step", "mean |grad|");
      stepAxis(f, rows);
      series(f, "core layer 0", points(diag, "firstLayerMeanAbsGrad", true), true);
      series(f, "input projection", points(diag, "inputMeanAbsGrad", true), true);
      f.getStyler().setYAxisLogarithmic(spansDecades(diag, "firstLayerMeanAbsGrad",
          "inputMeanAbsGrad"));
      pngs.add(save(f, "first-layer-grad"));
    }
    StringBuilder html = new StringBuilder("<!doctype html><meta charset=utf-8><title>abyss run "
        + esc(dir.getFileName().toString()) + "</title><body style='font-family:sans-serif;"
        + "max-width:1000px;margin:auto'><h1>abyss run " + esc(dir.getFileName().toString())
        + "</h1><p>" + rows.size() + " steps; last: loss "
        + String.format(java.util.Locale.ROOT, "%.4f", rows.getLast().get("loss").asDouble())
        + "</p>");
    for (String p : pngs) {
      html.append("<p><img src='").append(p).append("' width=800></p>");
    }
    html.append("<h2>Manifest</h2><pre>").append(esc(JSON.writerWithDefaultPrettyPrinter()
        .writeValueAsString(manifest))).append("</pre></body>");
    Files.writeString(dir.resolve("report.html"), html, StandardCharsets.UTF_8);
    out.println("wrote " + String.join(", ", pngs) + " and report.html in " + dir);
    return 0;
  }

  private static List<JsonNode> pick(List<JsonNode> diag) {
    if (diag.size() <= 3) {
      return diag;
    }
    return List.of(diag.getFirst(), diag.get(diag.size() / 2), diag.getLast());
  }

  /** Whether the values of the keys (numbers or arrays) span more than a decade, all > 0. */
  private static boolean spansDecades(List<JsonNode> rows, String... keys) {
    double lo = Double.POSITIVE_INFINITY;
    double hi = 0;
    for (JsonNode r : rows) {
      for (String key : keys) {
      JsonNode n = r.get(key);
      if (n == null) {
        continue;
      }
      for (JsonNode v : n.isArray() ? n : List.of(n)) {
        if (v.isNull()) {
          continue;
        }
        double d = v.asDouble();
        if (d <= 0) {
          return false;
        }
        lo = Math.min(lo, d);
        hi = Math.max(hi, d);
      }
      }
    }
    return hi > 10 * lo;
  }

  private static XYChart chart(String title, String x, String y) {
    XYChart c = new XYChartBuilder().width(800).height(450).title(title).xAxisTitle(x)
        .yAxisTitle(y).build();
    c.getStyler().setChartBackgroundColor(Color.WHITE);
    c.getStyler().setMarkerSize(4);
    c.getStyler().setYAxisDecimalPattern("0.###E0");
    return c;
  }

  /** A step axis from the step before the run's first, labelled in whole steps. */
  private static void stepAxis(XYChart c, List<JsonNode> rows) {
    c.getStyler().setXAxisMin(rows.getFirst().get("step").asDouble() - 1);
    c.getStyler().setXAxisDecimalPattern("#");
  }

  /**
   * The trailing mean's window for a run of {@code steps} steps: none (1) under 100 steps, else
   * a fiftieth of the run, 5 to 100 steps.
   */
  static int smoothingWindow(int steps) {
    return steps < 100 ? 1 : Math.max(5, Math.min(100, steps / 50));
  }

  /**
   * The trailing means of {@code v}: element i is the mean of {@code v[i - win + 1 .. i]}, or
   * of {@code v[0 .. i]} for the first {@code win - 1}.
   */
  static double[] trailingMeans(double[] v, int win) {
    double[] m = new double[v.length];
    double sum = 0;
    for (int i = 0; i < v.length; i++) {
      sum += v[i];
      if (i >= win) {
        sum -= v[i - win];
      }
      m[i] = sum / Math.min(i + 1, win);
    }
    return m;
  }

  /**
   * Adds the trailing means of the points {@code p} in {@code color}, and fades {@code raw}
   * (their per-step series, null if there is none) to a thin line of that color.
   */
  private static void meanSeries(XYChart c, String name, Points p, int win, Color color,
      XYSeries raw) {
    if (raw == null) {
      return;
    }
    double[] m = trailingMeans(p.ys().stream().mapToDouble(Double::doubleValue).toArray(), win);
    raw.setLineColor(new Color(color.getRed(), color.getGreen(), color.getBlue(), 70));
    raw.setLineWidth(1f);
    XYSeries s = c.addSeries(name, p.xs(), java.util.Arrays.stream(m).boxed().toList());
    s.setMarker(SeriesMarkers.NONE);
    s.setLineColor(color);
    s.setLineWidth(2.5f);
  }

  /** A key's values by step. */
  private record Points(List<Double> xs, List<Double> ys) {}

  /** The steps and values of {@code key} in the rows that have it (positive ones only, if so). */
  private static Points points(List<JsonNode> rows, String key, boolean positiveOnly) {
    List<Double> xs = new ArrayList<>();
    List<Double> ys = new ArrayList<>();
    for (JsonNode r : rows) {
      JsonNode v = r.get(key);
      if (v != null && !v.isNull() && (!positiveOnly || v.asDouble() > 0)) {
        xs.add(r.get("step").asDouble());
        ys.add(v.asDouble());
      }
    }
    return new Points(xs, ys);
  }

  /** Adds the points as a series; returns it, or null where there are none. */
  private static XYSeries series(XYChart c, String name, Points p, boolean markers) {
    if (p.xs().isEmpty()) {
      return null;
    }
    List<Double> xs = new ArrayList<>(p.xs());
    List<Double> ys = new ArrayList<>(p.ys());
    if (!markers) {
      // a gap half a step before the first: with a value at every step the x values are
      // equally spaced, and XChart then puts its ticks at every k-th value (1, 47, 93, ...,
      // running into one another at four digits) instead of at round numbers
      xs.addFirst(xs.getFirst() - 0.5);
      ys.addFirst(Double.NaN);
    }
    XYSeries s = c.addSeries(name, xs, ys);
    s.setMarker(markers ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
    return s;
  }

  private static void depthSeries(XYChart c, String name, JsonNode values) {
    List<Double> xs = new ArrayList<>();
    List<Double> ys = new ArrayList<>();
    int n = values.size();
    for (int k = 0; k < n; k++) {
      if (!values.get(k).isNull()) {
        xs.add((k + 0.5) / n);
        ys.add(values.get(k).asDouble());
      }
    }
    if (!xs.isEmpty()) {
      c.addSeries(name, xs, ys).setMarker(SeriesMarkers.NONE);
    }
  }

  private String save(XYChart c, String name) throws IOException {
    BitmapEncoder.saveBitmap(c, dir.resolve(name).toString(), BitmapEncoder.BitmapFormat.PNG);
    return name + ".png";
  }

  private static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
