package dev.abyss.train;

import dev.abyss.AbyssException;
import dev.abyss.kernel.Activation;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.Dtype;
import java.nio.file.Path;

/**
 * What the user said about a core: each field null when the flag was not given. For a new
 * core the command's defaults fill the gaps; for an existing file every given flag must
 * match its header.
 */
public record CoreSpec(Long layers, Integer width, Activation activation, Float alpha,
    Float scale, Long seed, Dtype dtype) {

  /** Without a dtype (f32 for a new core; any for an existing one). */
  public CoreSpec(Long layers, Integer width, Activation activation, Float alpha, Float scale,
      Long seed) {
    this(layers, width, activation, alpha, scale, seed, null);
  }

  /** A command's defaults for a new core. */
  public record Defaults(long layers, int width, Activation activation, float scale, long seed) {}

  /** The header of a new core, with alpha = 1/sqrt(L) unless given. */
  public CoreHeader newHeader(Defaults d) {
    long l = layers != null ? layers : d.layers();
    int wd = width != null ? width : d.width();
    Activation a = activation != null ? activation : d.activation();
    float al = alpha != null ? alpha : (float) (1.0 / Math.sqrt(l));
    float sc = scale != null ? scale : d.scale();
    long sd = seed != null ? seed : d.seed();
    Validate.coreShape(wd, l);
    if (!Float.isFinite(al) || !Float.isFinite(sc) || sc < 0) {
      throw new dev.abyss.AbyssException("--alpha and --scale must be finite (and --scale >= 0)");
    }
    return CoreHeader.create(wd, l, a, al, sc, sd, sd ^ 0xD00DL,
        dtype != null ? dtype : Dtype.F32);
  }

  /** Refuses a file whose header contradicts a flag that was given. */
  public void check(Path file, CoreHeader h) {
    if (layers != null && layers != h.layers()) {
      throw mismatch(file, "layers", String.valueOf(h.layers()), String.valueOf(layers));
    }
    if (width != null && width != h.width()) {
      throw mismatch(file, "width", String.valueOf(h.width()), String.valueOf(width));
    }
    if (activation != null && activation != h.activation()) {
      throw mismatch(file, "activation", h.activation().cliName(), activation.cliName());
    }
    if (dtype != null && dtype != h.dtype()) {
      throw mismatch(file, "dtype", h.dtype().cliName(), dtype.cliName());
    }
    if (alpha != null && Float.compare(alpha, h.alpha()) != 0) {
      throw mismatch(file, "alpha", String.valueOf(h.alpha()), String.valueOf(alpha));
    }
  }

  private static AbyssException mismatch(Path f, String flag, String has, String given) {
    return new AbyssException("core file " + f + " has " + flag + " " + has + " but --" + flag
        + " " + given + " was given: pass --" + flag + " " + has + " (or leave it out), or"
        + " choose another --weights file");
  }
}
