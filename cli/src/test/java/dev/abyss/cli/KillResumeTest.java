package dev.abyss.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.store.CoreFile;
import dev.abyss.store.CoreWeights;
import dev.abyss.store.HeadFile;
import dev.abyss.store.Journal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * kill -9 at random instants: a training run in a child JVM is killed (seeded delays; half
 * from its start, which falls in the init and the warm-up, half after its first step, which
 * falls between the steps' write-backs), the files are checked to be one consistent model, the
 * same command with --resume finishes the run, and the weights equal an uninterrupted run's,
 * bit for bit. Streamed and in memory.
 */
class KillResumeTest {
  static final int TRIALS = 8;

  @TempDir Path dir;

  static String[] command(Path w, Path h, boolean inMemory, String... extra) {
    List<String> a = new ArrayList<>(List.of("train-dense", "--layers", "60000", "--width", "4",
        "--activation", "softsign", "--batch", "16", "--steps", "50", "--chunk-layers", "7000",
        "--checkpoint-seconds", "0", "--report-every", "1", "--weights", w.toString(), "--head",
        h.toString()));
    a.add(inMemory ? "--in-memory" : "--streamed");
    a.addAll(List.of(extra));
    return a.toArray(String[]::new);
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void killedRunsResumeToIdenticalBits(boolean inMemory) throws Exception {
    Path refW = dir.resolve("ref_w.bin");
    Path refH = dir.resolve("ref_h.bin");
    CliTest.Out ref = CliTest.run(command(refW, refH, inMemory));
    assertEquals(0, ref.code(), ref.err());
    byte[] wantW = Files.readAllBytes(refW);
    byte[] wantH = Files.readAllBytes(refH);

    String java = ProcessHandle.current().info().command().orElse("java");
    SplittableRandom rnd = new SplittableRandom(inMemory ? 11 : 7);
    List<String> killedAt = new ArrayList<>();
    int midTraining = 0;
    for (int t = 0; t < TRIALS; t++) {
      Path w = dir.resolve("t" + t + "_w.bin");
      Path h = dir.resolve("t" + t + "_h.bin");
      Path log = dir.resolve("t" + t + ".log");
      List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
          "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
          "dev.abyss.cli.Main"));
      cmd.addAll(List.of(command(w, h, inMemory)));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(log.toFile()).start();
      long delayMs;
      if (t % 2 == 0) {
        // from the start: the JVM start, the init (the model's files being created), the data
        // and the JIT warm-up take seconds, so these kills land before the first step
        delayMs = 700 + rnd.nextInt(2600);
      } else {
        // inside the training: after the first step is reported, while steps write back
        waitForFirstStep(p, log);
        delayMs = rnd.nextInt(400);
      }
      boolean finished = p.waitFor(delayMs, TimeUnit.MILLISECONDS);
      if (!finished) {
        p.destroyForcibly(); // SIGKILL
        p.waitFor();
      }
      String out = Files.exists(log) ? Files.readString(log) : "";
      long stepsSeen = out.lines().filter(l -> l.startsWith("step ")).count();
      if (!finished && stepsSeen > 0) {
        midTraining++;
      }
      killedAt.add(finished ? "finished" : delayMs + " ms/after " + stepsSeen + " steps");
      if (Files.exists(w)) {
        // one consistent model on disk once recovered: every block verifies, head matches
        Journal.Outcome o = Journal.recover(w, h);
        killedAt.set(t, killedAt.get(t) + ", recovery " + o);
        if (Files.exists(h)) {
          long coreStep = CoreFile.readHeader(w).step();
          assertEquals(coreStep, HeadFile.read(h).header().step(), "trial " + t);
          try (CoreWeights cw = CoreFile.openInMemory(w)) {
            assertTrue(cw.header().layers() == 60000);
          }
        }
      }
      if (!Files.exists(w) || !Files.exists(h)) {
        // killed while the model was being created (its two files are written one after the
        // other): start again from scratch, as the message for a half-created pair says
        Files.deleteIfExists(w);
        Files.deleteIfExists(h);
        CliTest.Out r = CliTest.run(command(w, h, inMemory));
        assertEquals(0, r.code(), r.err());
      } else {
        CliTest.Out r = CliTest.run(command(w, h, inMemory, "--resume"));
        assertEquals(0, r.code(), "trial " + t + ": " + r.err() + r.out());
      }
      assertArrayEquals(wantW, Files.readAllBytes(w), "trial " + t + " core differs ("
          + killedAt.get(t) + ")");
      assertArrayEquals(wantH, Files.readAllBytes(h), "trial " + t + " head differs");
    }
    System.out.println("kill -9 trials (" + (inMemory ? "in memory" : "streamed") + "): "
        + TRIALS + " bit-identical after resume; killed at " + killedAt);
    // the trials must include kills between steps, not only before training starts
    assertTrue(midTraining >= TRIALS / 4, "only " + midTraining + " kills during training: "
        + killedAt);
  }

  /** Waits until the child reports its first step (or exits), at most two minutes. */
  private static void waitForFirstStep(Process p, Path log) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (p.isAlive() && System.nanoTime() < deadline) {
      if (Files.exists(log)
          && Files.readString(log).lines().anyMatch(l -> l.startsWith("step "))) {
        return;
      }
      Thread.sleep(5);
    }
  }
}
