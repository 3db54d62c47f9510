package dev.abyss.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The git revision a run records is its code's, wherever the command runs. */
class ProvenanceTest {
  @TempDir Path dir;

  /** Prints {@link Provenance#gitRevision()}: run in a directory of the test's choosing. */
  public static void main(String[] args) {
    System.out.println(Provenance.gitRevision());
  }

  private static String git(Path where, String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("git", "-C", where.toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    return p.exitValue() == 0 ? out : null;
  }

  @Test
  void theRevisionIsTheCodesEvenFromADirectoryOutsideItsRepository() throws Exception {
    Path code = Provenance.codeDirectory();
    assertNotNull(code, "the classes' location is known");
    assertTrue(Files.isDirectory(code), code + " is a directory");
    String head = git(code, "rev-parse", "--short", "HEAD");
    String java = ProcessHandle.current().info().command().orElse("java");
    Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        ProvenanceTest.class.getName()).directory(dir.toFile()).redirectErrorStream(true)
        .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child ends");
    assertEquals(0, p.exitValue(), out);
    if (head == null) {
      // no git here, or the code is not in a repository: nothing to name
      assertEquals("unknown", out);
      return;
    }
    String changes = git(code, "status", "--porcelain", "--untracked-files=no");
    String expected = changes == null || changes.isEmpty() ? head : head + "-dirty";
    // from a directory that is no repository the revision is still the code's
    assertEquals(expected, out, "run in " + dir);
    assertTrue(out.matches("[0-9a-f]{7,40}(-dirty)?"), out);
  }
}
