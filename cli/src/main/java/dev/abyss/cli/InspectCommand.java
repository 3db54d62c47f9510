package dev.abyss.cli;

import dev.abyss.AbyssException;
import dev.abyss.store.AtomicFiles;
import dev.abyss.store.CoreFile;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.HeadFile;
import dev.abyss.store.HeadHeader;
import dev.abyss.store.ModelLock;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** inspect: print a core or head file's header. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = "Print the header of a core or head file (and check its header checksums).")
final class InspectCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec cmd;

  @Parameters(paramLabel = "FILE", description = "A core or head file.")
  Path file;

  @Override
  public Integer call() throws IOException {
    var out = cmd.commandLine().getOut();
    byte[] magic = new byte[8];
    try (InputStream in = Files.newInputStream(file)) {
      int n = in.readNBytes(magic, 0, 8);
      if (n < 8) {
        throw new AbyssException(file + " is too short to be an abyss file");
      }
    } catch (NoSuchFileException e) {
      throw new AbyssException(file + " does not exist");
    }
    String m = new String(magic, java.nio.charset.StandardCharsets.US_ASCII);
    if (m.equals("ABYSCORE")) {
      CoreHeader h = CoreFile.readHeader(file);
      out.println("file:        " + file + " (abyss core, format " + CoreHeader.VERSION + ")");
      out.println("dtype:       " + h.dtype().cliName());
      out.println("width:       " + h.width());
      out.println("layers:      " + h.layers());
      out.println("activation:  " + h.activation().cliName());
      out.println("alpha:       " + h.alpha());
      out.println("init scale:  " + h.scale());
      out.println("seed:        " + hex(h.seed()));
      out.println("step:        " + h.step());
      out.println("data seed:   " + hex(h.dataSeed()));
      out.println("checksums:   CRC32C per block of " + h.blockLayers() + " layers ("
          + h.numBlocks() + " blocks)");
      out.println("size:        " + AtomicFiles.human(h.fileSize()) + " (" + h.fileSize()
          + " bytes)");
      if (Files.exists(dev.abyss.store.Journal.pathFor(file))) {
        out.println("journal:     present: a run was interrupted after step " + h.step()
            + "; the next train or eval of this model finishes or undoes it");
      }
      Path pending = AtomicFiles.tempFor(file);
      boolean inUse = ModelLock.heldElsewhere(file);
      if (inUse) {
        out.println("in use:      another abyss process is training (or creating) this model;"
            + " this file is its last save");
      }
      if (Files.exists(pending)) {
        out.println("unsaved:     " + pending.getFileName() + (inUse
            ? " holds that training's steps since step " + h.step()
            : " holds a run's changes after step " + h.step() + " that were never saved; the"
                + " next train or eval of this model removes it"));
      }
    } else if (!m.equals("ABYSHEAD")) {
      // neither kind: say so, rather than what is wrong with it as a head file
      throw new AbyssException(file + " is not an abyss core or head file (those begin with"
          + " ABYSCORE or ABYSHEAD); a raw file from the reference program must first be"
          + " converted with 'abyss import-raw'");
    } else {
      HeadFile.Contents c = HeadFile.read(file);
      HeadHeader h = c.header();
      boolean mlp = h.kind() == HeadHeader.KIND_MLP;
      out.println("file:        " + file + " (abyss head, format " + HeadHeader.VERSION + ")");
      out.println("kind:        " + (mlp ? "MLP 784 -> " + h.mid() + " -> 10"
          : "residual head 784 -> " + h.mid() + " ... " + h.mid() + " -> 10"));
      out.println((mlp ? "hidden:      " : "width:       ") + h.mid());
      if (!mlp) {
        out.println("activation:  " + dev.abyss.kernel.Activation.fromCode(h.activationCode())
            .cliName());
      }
      out.println("step:        " + h.step());
      out.println("seed:        " + hex(h.seed()));
      out.println("parameters:  " + h.payloadFloats() + " (checksum ok)");
    }
    return 0;
  }

  private static String hex(long v) {
    return "0x" + Long.toHexString(v).toUpperCase(java.util.Locale.ROOT);
  }
}
