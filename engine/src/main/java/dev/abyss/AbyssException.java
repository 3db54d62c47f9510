package dev.abyss;

/**
 * A problem the user can fix: a bad flag, a missing or damaged file, a full disk. Its
 * message is one line that says what is wrong and how to fix it; the command line prints
 * it without a stack trace and exits with {@link #exitCode()}.
 */
public class AbyssException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int exitCode;

  public AbyssException(String message) {
    this(message, 2, null);
  }

  public AbyssException(String message, Throwable cause) {
    this(message, 2, cause);
  }

  public AbyssException(String message, int exitCode, Throwable cause) {
    super(message, cause);
    this.exitCode = exitCode;
  }

  public int exitCode() {
    return exitCode;
  }
}
