package dev.abyss.cli;

import java.util.Locale;
import picocli.CommandLine;

/** Parses a byte count: a whole number with an optional k, m, g or t suffix (powers of 1024). */
final class SizeConverter implements CommandLine.ITypeConverter<Long> {
  @Override
  public Long convert(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    if (t.endsWith("b")) {
      t = t.substring(0, t.length() - 1);
    }
    int shift = 0;
    if (!t.isEmpty()) {
      switch (t.charAt(t.length() - 1)) {
        case 'k' -> shift = 10;
        case 'm' -> shift = 20;
        case 'g' -> shift = 30;
        case 't' -> shift = 40;
        default -> shift = -1;
      }
      if (shift >= 0) {
        t = t.substring(0, t.length() - 1);
      } else {
        shift = 0;
      }
    }
    try {
      long v = Long.parseLong(t.trim());
      if (v < 0 || v > (Long.MAX_VALUE >> shift)) {
        throw new NumberFormatException();
      }
      return v << shift;
    } catch (NumberFormatException e) {
      throw new CommandLine.TypeConversionException("'" + s + "' is not a size: use a whole"
          + " number of bytes with an optional k, m, g or t suffix, e.g. 512m or 4g");
    }
  }
}
