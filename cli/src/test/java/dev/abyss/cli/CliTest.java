package dev.abyss.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line through {@code Main.run(out, err, args)}: help, files, bad input. */
class CliTest {
  @TempDir Path dir;

  record Out(int code, String out, String err) {}

  static Out run(String... args) {
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    int code = Main.run(new PrintStream(o, true, StandardCharsets.UTF_8),
        new PrintStream(e, true, StandardCharsets.UTF_8), args);
    return new Out(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
  }

  String p(String name) {
    return dir.resolve(name).toString();
  }

  @Test
  void everyCommandExplainsEveryFlag() {
    String[][] cmds = {
      {"init", "--layers", "--width", "--weights", "--head", "--seed", "--scale", "--alpha",
        "--activation"},
      {"init-dense", "--layers", "--width"},
      {"train", "--layers", "--width", "--weights", "--head", "--data-dir", "--steps", "--batch",
        "--chunk-layers", "--alpha", "--activation", "--layer-lr", "--head-lr", "--seed",
        "--scale", "--train-limit", "--init-if-missing", "--report-every", "--in-memory"},
      {"train-dense", "--chunk-layers", "--layer-lr", "--in-memory", "--streamed"},
      {"eval", "--samples", "--batch", "--weights", "--head", "--data-dir", "--in-memory"},
      {"eval-dense", "--samples"},
      {"train-mlp", "--hidden", "--lr", "--steps", "--batch", "--head", "--seed"},
      {"eval-mlp", "--hidden", "--samples", "--head"},
      {"inspect"}, {"import-raw", "--raw-weights", "--raw-head", "--mlp", "--hidden"},
      {"export-raw", "--raw-weights", "--raw-head", "--mlp"}};
    for (String[] c : cmds) {
      Out r = run(c[0], "--help");
      assertEquals(0, r.code(), c[0]);
      for (String flag : Arrays.copyOfRange(c, 1, c.length)) {
        assertTrue(r.out().contains(flag), c[0] + " --help lacks " + flag + ":\n" + r.out());
      }
    }
  }

  @Test
  void initInspectImportExport() throws Exception {
    Out r = run("init", "--layers", "100", "--width", "3", "--weights", p("w.bin"), "--head",
        p("h.bin"));
    assertEquals(0, r.code(), r.err());
    r = run("inspect", p("w.bin"));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("layers:      100"), r.out());
    assertTrue(r.out().contains("activation:  tanh"), r.out());
    assertTrue(r.out().contains("seed:        0x5EED"), r.out());
    assertFalse(r.out().contains("unsaved:"), r.out());
    // a streamed run's shadow core left by a crash: inspect says so, train or eval removes it
    Path shadow = dir.resolve(".w.bin.tmp");
    java.nio.file.Files.write(shadow, new byte[16]);
    r = run("inspect", p("w.bin"));
    assertTrue(r.out().contains("unsaved:     .w.bin.tmp holds a run's changes after step 0"),
        r.out());
    java.nio.file.Files.delete(shadow);
    r = run("inspect", p("h.bin"));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("width:       3"), r.out());

    r = run("init", "--layers", "100", "--width", "3", "--weights", p("w.bin"), "--head",
        p("h.bin"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("already exists"), r.err());

    r = run("export-raw", "--weights", p("w.bin"), "--head", p("h.bin"), "--raw-weights",
        p("rw.bin"), "--raw-head", p("rh.bin"));
    assertEquals(0, r.code(), r.err());
    assertEquals(100L * 12 * 4, Files.size(dir.resolve("rw.bin")));
    r = run("import-raw", "--layers", "100", "--width", "3", "--activation", "tanh",
        "--raw-weights", p("rw.bin"), "--raw-head", p("rh.bin"), "--weights", p("w2.bin"),
        "--head", p("h2.bin"));
    assertEquals(0, r.code(), r.err());
    byte[] a = Files.readAllBytes(dir.resolve("w.bin"));
    byte[] b = Files.readAllBytes(dir.resolve("w2.bin"));
    assertEquals(a.length, b.length);
    assertTrue(Arrays.equals(a, 4096, a.length, b, 4096, b.length), "same layers");

    // a head saved at another step than the core: refused, nothing written
    dev.abyss.store.HeadFile.Contents hc = dev.abyss.store.HeadFile.read(dir.resolve("h.bin"));
    dev.abyss.store.HeadFile.write(dir.resolve("h5.bin"), hc.header().withStep(5),
        hc.payload());
    r = run("export-raw", "--weights", p("w.bin"), "--head", p("h5.bin"), "--raw-weights",
        p("rw5.bin"), "--raw-head", p("rh5.bin"));
    assertEquals(2, r.code());
    assertOneLine(r.err());
    assertTrue(r.err().contains("is at step 5 but core file " + p("w.bin") + " is at step 0"),
        r.err());
    assertFalse(Files.exists(dir.resolve("rw5.bin")));
    assertFalse(Files.exists(dir.resolve("rh5.bin")));

    // a raw file whose size does not match: refused, nothing written
    r = run("import-raw", "--layers", "101", "--width", "3", "--activation", "tanh",
        "--raw-weights", p("rw.bin"), "--raw-head", p("rh.bin"), "--weights", p("w3.bin"),
        "--head", p("h3.bin"));
    assertEquals(2, r.code());
    assertOneLine(r.err());
    assertFalse(Files.exists(dir.resolve("w3.bin")));
    assertFalse(Files.exists(dir.resolve("h3.bin")));

    r = run("export-raw", "--mlp", "--head", p("h.bin"), "--raw-head", p("m.bin"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("not an MLP"), r.err());
  }

  @Test
  void badInputGetsOneLineAndExitCode2() throws Exception {
    String[][] bad = {
      {"init", "--width", "0", "--layers", "10", "--weights", p("a"), "--head", p("b")},
      {"init", "--layers", "0", "--weights", p("a"), "--head", p("b")},
      {"init", "--activation", "sigmoid"},
      {"train", "--batch", "0", "--weights", p("a"), "--head", p("b")},
      {"train", "--layer-lr", "NaN", "--weights", p("a"), "--head", p("b")},
      {"train", "--batch", "200", "--train-limit", "100", "--weights", p("a"), "--head", p("b")},
      {"train-dense", "--init-if-missing=false", "--weights", p("a"), "--head", p("b")},
      {"eval", "--weights", p("missing.bin"), "--head", p("b")},
      {"inspect", p("missing.bin")},
      {"train", "--steps", "abc"},
      {"train-dense", "--memory-budget", "lots", "--weights", p("a"), "--head", p("b")},
      {"train-dense", "--in-memory", "--streamed", "--weights", p("a"), "--head", p("b")},
      {"nonsense"},
    };
    for (String[] args : bad) {
      Out r = run(args);
      assertEquals(2, r.code(), String.join(" ", args) + "\n" + r.err());
      assertFalse(r.err().contains("Exception"), r.err());
      assertFalse(r.err().contains("\tat "), r.err());
      assertTrue(r.err().startsWith("abyss: "), r.err());
    }
    // 1e7 layers x 4 x 64 kept: 19 GiB, more than the test JVM's heap; refused up front
    Out heap = run("train-dense", "--layers", "10000000", "--width", "4", "--batch", "64",
        "--memory-budget", "100g", "--weights", p("a"), "--head", p("b"));
    assertEquals(2, heap.code(), heap.err());
    assertOneLine(heap.err());
    assertTrue(heap.err().contains("Java heap"), heap.err());
    assertFalse(Files.exists(dir.resolve("a")), "nothing written for refused commands");
    assertFalse(Files.exists(dir.resolve("b")));

    // mismatched flags against an existing file
    assertEquals(0, run("init-dense", "--layers", "10", "--width", "4", "--weights", p("d.bin"),
        "--head", p("dh.bin")).code());
    Out r = run("eval-dense", "--width", "8", "--weights", p("d.bin"), "--head", p("dh.bin"));
    assertEquals(2, r.code());
    assertOneLine(r.err());
    assertTrue(r.err().contains("has width 4 but --width 8"), r.err());
    r = run("eval-dense", "--weights", p("d.bin"), "--head", p("d.bin"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("it is a core file"), r.err());
    r = run("inspect", p("dh.bin"));
    assertEquals(0, r.code());
    // a file of neither kind is called that, not a bad head file
    Files.write(dir.resolve("notes.txt"), "just some text, long enough".getBytes());
    r = run("inspect", p("notes.txt"));
    assertEquals(2, r.code());
    assertOneLine(r.err());
    assertTrue(r.err().contains("is not an abyss core or head file"), r.err());
    // a refused train of an existing model leaves it and its directory as they were
    r = run("train-dense", "--dtype", "bf16", "--weights", p("d.bin"), "--head", p("dh.bin"),
        "--steps", "1");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("has dtype f32 but --dtype bf16"), r.err());
    r = run("train-dense", "--chunk-layers", "11", "--weights", p("d.bin"), "--head",
        p("dh.bin"), "--steps", "1");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("use at most 10"), r.err());
    try (var files = Files.list(dir)) {
      assertEquals(java.util.List.of("d.bin", "dh.bin"), files.map(f -> f.getFileName()
          .toString()).filter(f -> f.startsWith("d")).sorted().toList(), "no run file left");
    }
    // a core larger than the disk is refused before a byte is written (1e12 layers: 80 TB)
    String[] huge = {"--layers", "1000000000000", "--width", "4", "--weights", p("big.bin"),
      "--head", p("bigh.bin")};
    for (String cmd : new String[] {"train-dense", "init-dense"}) {
      String[] args = new String[huge.length + 1];
      args[0] = cmd;
      System.arraycopy(huge, 0, args, 1, huge.length);
      r = run(args);
      assertEquals(2, r.code(), r.err());
      assertOneLine(r.err());
      assertTrue(r.err().contains("not enough disk space"), r.err());
      assertFalse(Files.exists(dir.resolve("big.bin")));
      assertFalse(Files.exists(dir.resolve("bigh.bin")));
      assertFalse(Files.exists(dir.resolve("big.bin.run.json")));
    }
  }

  @Test
  void compareMeasuresHowFarTwoCoresAre() throws Exception {
    for (String dt : new String[] {"f32", "bf16"}) {
      assertEquals(0, run("init-dense", "--layers", "300", "--width", "4", "--scale", "0.5",
          "--dtype", dt, "--weights", p(dt + ".bin"), "--head", p(dt + "h.bin")).code());
    }
    Out r = run("compare", p("f32.bin"), p("f32.bin"));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("rms (B - A):      0.000000e+00"), r.out());
    assertTrue(r.out().contains("(100.00%)"), r.out());
    // bf16 init is the f32 init rounded to nearest: the differences are within half a bf16
    // step of values up to 0.5 (2^-9), and most values do differ
    r = run("compare", p("f32.bin"), p("bf16.bin"));
    assertEquals(0, r.code(), r.err());
    double max = Double.parseDouble(r.out().lines().filter(l -> l.startsWith("max"))
        .findFirst().orElseThrow().replaceAll(".*:\\s+", ""));
    assertTrue(max > 0 && max <= 0x1p-10, r.out());
    assertEquals(0, run("init-dense", "--layers", "301", "--width", "4", "--weights",
        p("o.bin"), "--head", p("oh.bin")).code());
    r = run("compare", p("f32.bin"), p("o.bin"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("differ in shape"), r.err());
  }

  @Test
  void missingInputsAreNamedForTheCommandThatWasRun() throws Exception {
    Out r = run("compare", p("nope.bin"), p("nope2.bin"));
    assertEquals(2, r.code());
    assertOneLine(r.err());
    assertTrue(r.err().contains("core file " + p("nope.bin") + " does not exist: compare takes"
        + " two core files"), r.err());
    r = run("report", p("norun"));
    assertEquals(2, r.code());
    assertOneLine(r.err());
    assertTrue(r.err().contains("run directory " + p("norun") + " does not exist"), r.err());
    Files.createDirectories(dir.resolve("emptyrun"));
    r = run("report", p("emptyrun"));
    assertEquals(2, r.code());
    assertOneLine(r.err());
    assertTrue(r.err().contains("is not a run directory: " + p("emptyrun/manifest.json")
        + " is missing"), r.err());
    for (String[] c : new String[][] {{"--steps", "0", "--steps must be at least 1, not 0"},
        {"--chunk-layers", "-3", "--chunk-layers must be at least 1, not -3"},
        {"--eval-images", "0", "--eval-images must be 1 to 10000 (MNIST's test set), not 0"},
        {"--threads", "65", "--threads 65 is more than a step can use: give at most 64"}}) {
      r = run("bench", c[0], c[1]);
      assertEquals(2, r.code());
      assertOneLine(r.err());
      assertTrue(r.err().contains(c[2]), r.err());
    }
    r = run("train-dense", "--threads", "65", "--weights", p("t_w.bin"), "--head",
        p("t_h.bin"), "--steps", "1");
    assertEquals(2, r.code());
    assertOneLine(r.err());
    assertTrue(r.err().contains("--threads 65 is more than a step can use"), r.err());
    assertFalse(Files.exists(dir.resolve("t_w.bin")), "nothing created");
  }

  /** More threads than cores train the same bits, with a hint that fewer would be faster. */
  @Test
  void moreThreadsThanCoresSayWhatTheyCost() throws Exception {
    int cores = Runtime.getRuntime().availableProcessors();
    String[] base = {"train-dense", "--layers", "3000", "--width", "4", "--batch", "16",
        "--steps", "2", "--chunk-layers", "1024", "--memory-budget", "0", "--in-memory"};
    Out one = run(concat(base, "--weights", p("a_w.bin"), "--head", p("a_h.bin"), "--threads",
        "1"));
    Out many = run(concat(base, "--weights", p("b_w.bin"), "--head", p("b_h.bin"), "--threads",
        String.valueOf(cores + 1)));
    assertEquals(0, one.code(), one.err());
    assertEquals(0, many.code(), many.err());
    assertFalse(one.out().contains("cores here"), one.out());
    assertTrue(many.out().contains("--threads " + (cores + 1) + " is more than the " + cores
        + " cores here"), many.out());
    assertTrue(java.util.Arrays.equals(Files.readAllBytes(dir.resolve("a_w.bin")),
        Files.readAllBytes(dir.resolve("b_w.bin"))), "the same bits");
  }

  /**
   * A core this small is held in memory unless --streamed is given: the one line says so, and
   * --json's summary records the storage.
   */
  @Test
  void aSmallCoreIsHeldInMemoryUnlessStreamed() throws Exception {
    String[] base = {"train-dense", "--layers", "2000", "--width", "4", "--batch", "16",
        "--steps", "1", "--chunk-layers", "1000"};
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    Out held = run(concat(base, "--weights", p("m_w.bin"), "--head", p("m_h.bin")));
    assertEquals(0, held.code(), held.err());
    assertTrue(held.out().contains("is held in memory and saved at least every 60 s;"
        + " --streamed streams it instead"), held.out());
    Out streamed = run(concat(base, "--weights", p("s_w.bin"), "--head", p("s_h.bin"),
        "--streamed"));
    assertEquals(0, streamed.code(), streamed.err());
    assertFalse(streamed.out().contains("held in memory"), streamed.out());
    for (String[] v : new String[][] {{"m", "true"}, {"s", "false"}}) {
      String[] more = v[0].equals("s") ? new String[] {"--streamed"} : new String[0];
      Out j = run(concat(concat(base, "--json", "--weights", p(v[0] + "_w.bin"), "--head",
          p(v[0] + "_h.bin")), more));
      assertEquals(0, j.code(), j.err());
      assertEquals(Boolean.parseBoolean(v[1]),
          json.readTree(j.out().strip()).path("inMemory").asBoolean(), j.out());
    }
  }

  /**
   * The summary line splits a run's time into its steps (their sum and median) and the rest,
   * and --json gives the same figures: a short run's average per step would count its
   * warm-up and saves as steps.
   */
  @Test
  void theSummarySplitsTheStepsFromTheRest() throws Exception {
    String[] base = {"train-dense", "--layers", "2000", "--width", "4", "--batch", "16",
        "--steps", "3", "--chunk-layers", "1000", "--weights", p("t_w.bin"), "--head",
        p("t_h.bin")};
    Out text = run(base);
    assertEquals(0, text.code(), text.err());
    assertTrue(java.util.regex.Pattern.compile("trained 3 steps in [0-9.]+ s \\(steps [0-9.]+ s, "
        + "median [0-9.]+ s; opening, warm-up and saves [0-9.]+ s\\); model at step 3: ")
        .matcher(text.out()).find(), text.out());
    Out j = run(concat(base, "--json"));
    assertEquals(0, j.code(), j.err());
    var t = new com.fasterxml.jackson.databind.ObjectMapper().readTree(j.out().strip());
    double all = t.path("seconds").asDouble();
    double steps = t.path("stepSeconds").asDouble();
    double median = t.path("medianStepSeconds").asDouble();
    assertTrue(steps > 0 && steps <= all, j.out());
    assertTrue(median > 0 && median <= steps, j.out());
    // the split as printed, from a summary of known figures
    var phases = new dev.abyss.train.Phases(new double[][] {{0.5, 0, 0.6, 0, 0}}, 1.2);
    var s = new dev.abyss.train.ResidualRun.Summary(null, 7, 3, 4.0, false, false, phases, true,
        0.3);
    assertEquals(" (steps 1.2 s, median 0.3000 s; opening, warm-up and saves 2.8 s)",
        TrainCommand.timeSplit(s));
    assertEquals("", TrainCommand.timeSplit(new dev.abyss.train.ResidualRun.Summary(null, 7, 0,
        1.0, false, true, null, true, Double.NaN)));
  }

  private static String[] concat(String[] a, String... b) {
    String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  @Test
  void fileSystemErrorsWithoutAReasonStillSayWhatIsWrong() {
    assertEquals("does not exist (nor does a folder on its path, perhaps): check the path",
        Main.reason(new java.nio.file.NoSuchFileException("x")));
    assertEquals("already exists: choose another path or remove it",
        Main.reason(new java.nio.file.FileAlreadyExistsException("x")));
    assertEquals("the file system refused to create or change it: choose another path",
        Main.reason(new java.nio.file.FileSystemException("x")));
    assertEquals("Not a directory",
        Main.reason(new java.nio.file.FileSystemException("x", null, "Not a directory")));
  }

  @Test
  void longStepsReportProgressInsideTheStep() {
    var buf = new java.io.StringWriter();
    Reporter r = new Reporter(new java.io.PrintWriter(buf), 10, 1);
    r.progressSeconds = 0;
    r.onProgress(0, "backward", 250, 1000);
    assertTrue(buf.toString().contains("step 1: backward 25% (250 of 1000 layers)"),
        buf.toString());
    Reporter q = new Reporter(new java.io.PrintWriter(buf), 10, 1, true,
        dev.abyss.train.TrainListener.NONE);
    q.progressSeconds = 0;
    q.onProgress(0, "forward", 1, 2);
    assertFalse(buf.toString().contains("forward"), "--quiet prints no progress lines");
  }

  static void assertOneLine(String err) {
    assertEquals(1, err.strip().lines().filter(l -> !l.startsWith("WARNING")).count(), err);
  }
}
