package dev.abyss.store;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.abyss.AbyssException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model lock within one process (ConcurrentUseTest in the cli module takes it across
 * two): one holder at a time, released by close, and no lock where there is no directory.
 */
class ModelLockTest {
  @TempDir Path dir;

  @Test
  void oneHolderAtATime() throws Exception {
    Path w = dir.resolve("w.bin");
    assertFalse(ModelLock.heldElsewhere(w));
    try (ModelLock a = ModelLock.forWriting(w, "train")) {
      assertTrue(Files.exists(dir.resolve(".w.bin.lock")));
      assertTrue(ModelLock.heldElsewhere(w));
      assertNull(ModelLock.tryLock(w));
      AbyssException e = assertThrows(AbyssException.class,
          () -> ModelLock.forWriting(w, "train"));
      assertTrue(e.getMessage().startsWith("cannot train " + w
          + ": another abyss process is using it"), e.getMessage());
      // another model in the same directory is not held
      try (ModelLock b = ModelLock.forWriting(dir.resolve("v.bin"), "train")) {
        assertNotNull(b);
      }
    }
    assertFalse(ModelLock.heldElsewhere(w));
    try (ModelLock c = ModelLock.tryLock(w)) {
      assertNotNull(c, "the lock was not released by close");
    }
  }

  @Test
  void noDirectoryNoLockAndNoError() throws Exception {
    try (ModelLock l = ModelLock.tryLock(dir.resolve("missing").resolve("w.bin"))) {
      assertNotNull(l);
    }
    assertTrue(Files.notExists(dir.resolve("missing")));
  }
}
