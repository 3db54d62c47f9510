package dev.abyss.store;

import dev.abyss.AbyssException;

/** A file that is not what it should be: wrong magic, damaged, truncated, mismatched. */
public final class FormatException extends AbyssException {
  private static final long serialVersionUID = 1L;

  public FormatException(String message) {
    super(message);
  }
}
