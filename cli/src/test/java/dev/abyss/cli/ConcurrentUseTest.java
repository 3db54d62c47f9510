package dev.abyss.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.store.CoreFile;
import dev.abyss.store.HeadFile;
import dev.abyss.store.ModelLock;
import dev.abyss.store.RawFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Two processes on one model: while a streamed training runs in a child JVM (its shadow core
 * holding the steps since its last commit), an eval and an export-raw of the same files read
 * the last commit and leave the shadow alone, a second training and an init over it are
 * refused with one line, and once the child is killed (kill -9: the operating system drops its
 * lock) the model trains again from its last commit.
 */
class ConcurrentUseTest {
  @TempDir Path dir;

  @Test
  void anEvalOfAModelBeingCreatedSaysSo() throws Exception {
    Path w = dir.resolve("w.bin");
    try (ModelLock creating = ModelLock.forWriting(w, "create")) {
      CliTest.Out e = CliTest.run("eval-dense", "--samples", "16", "--weights", w.toString(),
          "--head", dir.resolve("h.bin").toString());
      assertEquals(2, e.code(), e.out() + e.err());
      assertEquals("abyss: cannot evaluate " + w + ": another abyss process is creating it;"
          + " wait for it to finish and run this again", e.err().strip());
    }
  }

  /**
   * A training that commits after every step (tens a second here) renames a new core and head
   * into place while the readers run: each eval and export must still find a matching pair.
   * Before 2026-11-28 (afternoon) an eval kept the core it had opened and waited up to a second
   * for a head of that step, which by then had been replaced many times: 21 of 40 evals (each
   * in a JVM of its own) failed with "head file ... is at step s but core file ... at step
   * s - 70". Streamed, and held in memory (the default for a core this small since the same
   * day, evening), where each commit writes a whole new core and renames it into place.
   */
  @ParameterizedTest(name = "streamed: {0}")
  @ValueSource(booleans = {true, false})
  void readersBesideATrainingThatCommitsEveryStep(boolean streamed) throws Exception {
    Path w = dir.resolve("w.bin");
    Path h = dir.resolve("h.bin");
    Path log = dir.resolve("child.log");
    Process p = training(0, streamed);
    try {
      awaitStep(p, log, 3);
      for (int i = 0; i < 5; i++) {
        // in a JVM of its own, as a user runs it: loading the test set there takes long enough
        // for the training to commit between the eval's first look at the files and its open
        Path elog = dir.resolve("eval.log");
        Process e = java(elog, "eval-dense", "--samples", "16", "--weights", w.toString(),
            "--head", h.toString());
        assertTrue(e.waitFor(2, TimeUnit.MINUTES), "the eval did not end");
        assertEquals(0, e.exitValue(), Files.readString(elog));
        CliTest.Out x = CliTest.run("export-raw", "--force", "--weights", w.toString(),
            "--head", h.toString(), "--raw-weights", dir.resolve("rw.bin").toString(),
            "--raw-head", dir.resolve("rh.bin").toString());
        assertEquals(0, x.code(), x.err());
      }
      assertTrue(p.isAlive(), "the training child ended early:\n" + Files.readString(log));
    } finally {
      p.destroyForcibly();
      p.waitFor();
    }
  }

  /**
   * A training of w.bin and h.bin (20,000 layers, w4 b16) in a child JVM, for ever, reporting
   * every step to child.log and committing every {@code checkpointSeconds}: streamed, or else
   * held in memory as a core this small is by default.
   */
  private Process training(int checkpointSeconds, boolean streamed) throws Exception {
    List<String> a = new ArrayList<>(List.of("train-dense", "--layers", "20000", "--width",
        "4", "--batch", "16", "--steps", "100000", "--chunk-layers", "5000", "--report-every",
        "1", "--checkpoint-seconds", Integer.toString(checkpointSeconds), "--weights",
        dir.resolve("w.bin").toString(), "--head", dir.resolve("h.bin").toString()));
    if (streamed) {
      a.add("--streamed");
    }
    return java(dir.resolve("child.log"), a.toArray(String[]::new));
  }

  /** abyss with {@code args} in a child JVM, its output to {@code log}. */
  private static Process java(Path log, String... args) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
        "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), "dev.abyss.cli.Main"));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
        .start();
  }

  /** Waits (two minutes at most) until the child has reported step {@code n}. */
  private static void awaitStep(Process p, Path log, int n) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (p.isAlive() && System.nanoTime() < deadline
        && !(Files.exists(log) && Files.readString(log).contains("step " + n + "/"))) {
      Thread.sleep(10);
    }
    assertTrue(p.isAlive(), "the training child ended early:\n" + Files.readString(log));
  }

  @Test
  void aSecondProcessNeitherRecoversNorTrainsARunningModel() throws Exception {
    Path w = dir.resolve("w.bin");
    Path h = dir.resolve("h.bin");
    Path log = dir.resolve("child.log");
    Path shadow = dir.resolve(".w.bin.tmp");
    Process p = training(3600, true);
    try {
      awaitStep(p, log, 2);
      assertTrue(Files.exists(shadow), "no shadow core after two steps:\n"
          + Files.readString(log));
      assertEquals(0, CoreFile.readHeader(w).step(), "no commit is due for an hour");

      CliTest.Out e = CliTest.run("eval-dense", "--samples", "32", "--weights", w.toString(),
          "--head", h.toString());
      assertEquals(0, e.code(), e.err());
      assertTrue(e.out().contains("test loss"), e.out());
      assertTrue(Files.exists(shadow), "the eval removed the running training's shadow core");
      // export-raw too takes the last commit and leaves the shadow alone
      Path rw = dir.resolve("rw.bin");
      Path rh = dir.resolve("rh.bin");
      CliTest.Out x = CliTest.run("export-raw", "--weights", w.toString(), "--head",
          h.toString(), "--raw-weights", rw.toString(), "--raw-head", rh.toString());
      assertEquals(0, x.code(), x.err());
      assertTrue(Files.exists(shadow), "export-raw removed the running training's shadow core");
      assertEquals(20000L * 20 * 4, Files.size(rw));
      assertArrayEquals(RawFormat.readHead(rh, 4), HeadFile.read(h).payload());
      CliTest.Out in = CliTest.run("inspect", w.toString());
      assertEquals(0, in.code(), in.err());
      assertTrue(in.out().contains("in use:      another abyss process is training"), in.out());
      assertTrue(in.out().contains("unsaved:     .w.bin.tmp holds that training's steps since"
          + " step 0"), in.out());

      CliTest.Out t = CliTest.run("train-dense", "--steps", "1", "--weights", w.toString(),
          "--head", h.toString());
      assertEquals(2, t.code(), t.out() + t.err());
      assertTrue(t.err().contains("cannot train " + w + ": another abyss process is using it"),
          t.err());
      assertEquals(1, t.err().strip().lines().count(), t.err());
      CliTest.Out i = CliTest.run("init-dense", "--force", "--layers", "100", "--width", "4",
          "--weights", w.toString(), "--head", h.toString());
      assertEquals(2, i.code(), i.out() + i.err());
      assertTrue(i.err().contains("cannot create " + w), i.err());
      assertTrue(Files.exists(shadow));
      assertEquals(20000, CoreFile.readHeader(w).layers());
    } finally {
      p.destroyForcibly();
      p.waitFor();
    }
    // kill -9 released the lock: the next training recovers the last commit and goes on
    CliTest.Out t = CliTest.run("train-dense", "--steps", "1", "--weights", w.toString(),
        "--head", h.toString());
    assertEquals(0, t.code(), t.out() + t.err());
    assertEquals(1, CoreFile.readHeader(w).step());
    assertEquals(1, HeadFile.read(h).header().step());
    assertTrue(!Files.exists(shadow), "the shadow core of the killed run is still there");
    CliTest.Out in = CliTest.run("inspect", w.toString());
    assertTrue(!in.out().contains("in use:"), in.out());
  }
}
