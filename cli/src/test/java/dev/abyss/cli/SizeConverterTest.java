package dev.abyss.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class SizeConverterTest {
  private final SizeConverter c = new SizeConverter();

  @Test
  void acceptsBytesAndBinarySuffixes() {
    assertEquals(0L, c.convert("0"));
    assertEquals(1000L, c.convert("1000"));
    assertEquals(2048L, c.convert("2k"));
    assertEquals(512L << 20, c.convert("512m"));
    assertEquals(512L << 20, c.convert("512MB"));
    assertEquals(4L << 30, c.convert(" 4G "));
    assertEquals(3L << 40, c.convert("3t"));
  }

  @Test
  void refusesWhatIsNotASize() {
    for (String bad : new String[] {"", "m", "lots", "-1", "1.5g", "9999999999t", "4x"}) {
      CommandLine.TypeConversionException e = assertThrows(
          CommandLine.TypeConversionException.class, () -> c.convert(bad), bad);
      assertEquals(true, e.getMessage().contains("is not a size"), e.getMessage());
    }
  }
}
