package dev.abyss.run;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.abyss.store.AtomicFiles;
import dev.abyss.train.Diagnostics;
import dev.abyss.train.Phases;
import dev.abyss.train.StepResult;
import dev.abyss.train.TrainListener;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * A run's directory: {@code manifest.json} (config, seed, JDK, CPU, kernels, git revision)
 * written at the start, and {@code metrics.jsonl}, one JSON object per step: step, loss,
 * accuracy, learning rates, step time, layers/s, the time of each thread in each phase of the
 * step ({@link Phases}), and on the measured steps the gradient norm
 * and activation RMS by depth bucket and the mean |gradient| of the first core layer and of
 * the input projection. NaN is written as null.
 */
public final class MetricsLog implements TrainListener, AutoCloseable {
  public static final String MANIFEST = "manifest.json";
  public static final String METRICS = "metrics.jsonl";

  private static final ObjectMapper JSON = new ObjectMapper();
  private final BufferedWriter out;
  private final long layers;
  private final float layerLr;
  private final float headLr;

  /**
   * @param config what the run was asked to do (flags, model header, plan)
   */
  public MetricsLog(Path dir, Map<String, Object> config, long layers, float layerLr,
      float headLr) throws IOException {
    Files.createDirectories(dir);
    ObjectNode m = JSON.createObjectNode();
    m.set("config", JSON.valueToTree(config));
    m.set("provenance", JSON.valueToTree(Provenance.collect()));
    m.put("started", java.time.Instant.now().toString());
    AtomicFiles.write(dir.resolve(MANIFEST), JSON.writerWithDefaultPrettyPrinter()
        .writeValueAsBytes(m));
    this.out = Files.newBufferedWriter(dir.resolve(METRICS), StandardCharsets.UTF_8,
        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    this.layers = layers;
    this.layerLr = layerLr;
    this.headLr = headLr;
  }

  @Override
  public void onStep(StepResult r) {
    ObjectNode o = JSON.createObjectNode();
    o.put("step", r.step() + 1);
    o.put("loss", r.meanLoss());
    o.put("accuracy", (double) r.correct() / r.batch());
    o.put("layerLr", layerLr);
    o.put("headLr", headLr);
    o.put("seconds", r.seconds());
    if (layers > 0) {
      o.put("layersPerSecond", layers / r.seconds());
    }
    Phases ph = r.phases();
    if (ph != null) {
      o.set("phaseSeconds", JSON.valueToTree(ph.byName()));
    }
    Diagnostics d = r.diagnostics();
    if (d != null) {
      o.set("gradNorm", array(d.gradNorm()));
      o.set("activationRms", array(d.activationRms()));
      put(o, "firstLayerMeanAbsGrad", d.firstLayerMeanAbsGrad());
      put(o, "inputMeanAbsGrad", d.inputMeanAbsGrad());
    }
    try {
      out.write(JSON.writeValueAsString(o));
      out.newLine();
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void put(ObjectNode o, String k, double v) {
    if (Double.isFinite(v)) {
      o.put(k, v);
    } else {
      o.putNull(k);
    }
  }

  private static ArrayNode array(double[] v) {
    ArrayNode a = JSON.createArrayNode();
    for (double x : v) {
      if (Double.isFinite(x)) {
        a.add(x);
      } else {
        a.addNull();
      }
    }
    return a;
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
