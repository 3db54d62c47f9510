package dev.abyss.cli;

import picocli.CommandLine;

/** Parses seeds in decimal or 0x-hex (as the reference prints them: 0x5EED). */
final class SeedConverter implements CommandLine.ITypeConverter<Long> {
  @Override
  public Long convert(String s) {
    try {
      return Long.decode(s.trim());
    } catch (NumberFormatException e) {
      throw new CommandLine.TypeConversionException("'" + s + "' is not a seed (decimal or 0x"
          + " hex)");
    }
  }
}
