package dev.abyss.cli;

import dev.abyss.train.EvalResult;
import java.io.PrintWriter;
import java.util.Locale;

/** Prints eval figures: the headline line, per-class accuracy, confusion matrix. */
final class EvalPrinter {
  private EvalPrinter() {}

  /** The figures as one JSON object (for scripts: --json). */
  static void printJson(PrintWriter out, EvalResult r) {
    java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
    m.put("samples", r.samples());
    m.put("loss", r.meanLoss());
    m.put("accuracy", r.accuracy());
    m.put("correct", r.correct());
    m.put("seconds", r.seconds());
    double[] pc = r.perClassAccuracy();
    java.util.List<Double> per = new java.util.ArrayList<>();
    for (double v : pc) {
      per.add(Double.isNaN(v) ? null : v);
    }
    m.put("perClassAccuracy", per);
    m.put("confusion", r.confusion());
    try {
      out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(m));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  static void print(PrintWriter out, EvalResult r) {
    out.println(String.format(Locale.ROOT,
        "test loss %.4f  accuracy %.4f (%d/%d)  in %.1f s", r.meanLoss(), r.accuracy(),
        r.correct(), r.samples(), r.seconds()));
    double[] pc = r.perClassAccuracy();
    StringBuilder sb = new StringBuilder("per-class accuracy:");
    for (int c = 0; c < pc.length; c++) {
      sb.append(String.format(Locale.ROOT, " %d:%s", c,
          Double.isNaN(pc[c]) ? "-" : String.format(Locale.ROOT, "%.3f", pc[c])));
    }
    out.println(sb);
    out.println("confusion matrix (rows: label, columns: predicted):");
    StringBuilder hdr = new StringBuilder("     ");
    for (int c = 0; c < 10; c++) {
      hdr.append(String.format(Locale.ROOT, "%6d", c));
    }
    out.println(hdr);
    for (int l = 0; l < 10; l++) {
      StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "  %d: ", l));
      for (int c = 0; c < 10; c++) {
        row.append(String.format(Locale.ROOT, "%6d", r.confusion()[l][c]));
      }
      out.println(row);
    }
  }
}
