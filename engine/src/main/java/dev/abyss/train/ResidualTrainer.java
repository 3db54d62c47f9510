package dev.abyss.train;

import dev.abyss.AbyssException;
import dev.abyss.data.BatchOrder;
import dev.abyss.data.Dataset;
import dev.abyss.kernel.Activation;
import dev.abyss.kernel.Kernels;
import dev.abyss.nn.HeadParams;
import dev.abyss.nn.ResidualHead;
import dev.abyss.nn.SoftmaxCrossEntropy;
import dev.abyss.store.CoreHeader;
import dev.abyss.store.CoreWeights;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Exact chunk-checkpointed SGD over the residual net (DESIGN §2).
 *
 * <p>One step: (1) forward over the core chunk by chunk, keeping only h at each chunk
 * boundary; (2) classifier: logits, loss, dh_L with the classifier as it was, then update
 * it; (3) chunks in reverse: recompute the chunk's forward from its boundary saving each
 * layer's input and act'(z), then walk its layers in reverse computing gW, gb and dh with
 * the layer's weights as they were, update the layer, write the chunk back; (4) input
 * projection gradients from dh_0, then update it. Every parameter gets the true gradient of
 * the minibatch loss; the result does not depend on the chunk size or where the weights live.
 */
public final class ResidualTrainer {
  private final CoreWeights core;
  private final HeadParams head;
  private final Kernels k;
  private final Dataset train;
  private final BatchOrder order;
  private final int w;
  private final int batch;
  private final int chunk;
  private final long layers;
  private final float alpha;
  private final Activation act;
  private final float layerLr;
  private final float headLr;
  private final int nChunks;
  private GradientTap tap;

  private final int[] idx;
  private final float[] x;
  private final float[] h;
  private final float[] z;
  private final float[] dh;
  private final float[] bnd;
  private final float[] hSave;
  private final float[] dSave;
  private final float[] gW;
  private final float[] gb;
  private final float[] g;
  private final float[] h0;
  private final float[] acc;
  private final float[] logits;
  private final float[] dl;
  private final int[] labels;
  private final HeadParams grad;

  /**
   * @param chunkLayers layers per checkpoint chunk (C)
   * @param trainLimit minibatches are drawn from the first trainLimit training images
   */
  public ResidualTrainer(CoreWeights core, HeadParams head, Kernels kernels, Dataset train,
      int batch, int chunkLayers, float layerLr, float headLr, int trainLimit) {
    CoreHeader hd = core.header();
    this.core = core;
    this.head = head;
    this.k = kernels;
    this.train = train;
    this.w = hd.width();
    this.batch = batch;
    this.layers = hd.layers();
    this.chunk = (int) Math.min(chunkLayers, layers);
    this.alpha = hd.alpha();
    this.act = hd.activation();
    this.layerLr = layerLr;
    this.headLr = headLr;
    this.order = new BatchOrder(hd.dataSeed(), trainLimit);
    long nc = (layers + chunk - 1) / chunk;
    long wb = (long) w * batch;
    if (nc * wb > Integer.MAX_VALUE / 2 || (long) chunk * wb > Integer.MAX_VALUE / 2) {
      throw new AbyssException("--chunk-layers " + chunkLayers + " does not fit: " + nc
          + " chunk boundaries or " + chunk + " saved layers of " + wb + " floats exceed one"
          + " array; choose a chunk size near sqrt(layers)");
    }
    this.nChunks = (int) nc;
    int n = (int) wb;
    idx = new int[batch];
    labels = new int[batch];
    x = new float[batch * HeadParams.INPUTS];
    h = new float[n];
    z = new float[n];
    dh = new float[n];
    g = new float[n];
    h0 = new float[n];
    bnd = new float[nChunks * n];
    hSave = new float[chunk * n];
    dSave = new float[chunk * n];
    gW = new float[w * w];
    gb = new float[w];
    acc = new float[w];
    logits = new float[batch * HeadParams.CLASSES];
    dl = new float[batch * HeadParams.CLASSES];
    grad = head.zerosLike();
  }

  /** Installs a gradient tap (null for none). */
  public void setTap(GradientTap tap) {
    this.tap = tap;
  }

  /** Bytes of working memory this trainer holds (for the memory report). */
  public long workingBytes() {
    return 4L * (bnd.length + hSave.length + dSave.length + x.length + grad.p.length);
  }

  /** Runs training step {@code step} (the batch of that index) and applies its update. */
  public StepResult step(long step) throws IOException {
    long t0 = System.nanoTime();
    int n = w * batch;
    order.batch(step, batch, idx);
    train.fill(idx, batch, x);
    for (int b = 0; b < batch; b++) {
      labels[b] = train.label(idx[b]);
    }
    // (1) forward, keeping chunk boundaries
    ResidualHead.inputForward(head, x, batch, h0, acc);
    System.arraycopy(h0, 0, h, 0, n);
    for (int c = 0; c < nChunks; c++) {
      System.arraycopy(h, 0, bnd, c * n, n);
      long start = (long) c * chunk;
      int count = (int) Math.min(chunk, layers - start);
      MemorySegment seg = core.load(start, count);
      k.forwardChunk(w, batch, seg, core.offsetOf(start), count, alpha, act, h, z);
    }
    // (2) classifier
    ResidualHead.classifierForward(head, h, batch, logits);
    SoftmaxCrossEntropy.Result r = SoftmaxCrossEntropy.forwardBackward(logits, batch, labels, dl,
        null);
    if (!Double.isFinite(r.lossSum())) {
      throw new DivergedException(step, r.lossSum());
    }
    ResidualHead.classifierBackward(head, h, batch, dl, grad, dh);
    if (tap != null) {
      tap.head(grad, true);
    }
    head.sgdSecond(headLr, grad);
    // (3) chunks in reverse: recompute, backprop, update, write back
    for (int c = nChunks - 1; c >= 0; c--) {
      long start = (long) c * chunk;
      int count = (int) Math.min(chunk, layers - start);
      MemorySegment seg = core.load(start, count);
      System.arraycopy(bnd, c * n, h, 0, n);
      k.forwardSaveChunk(w, batch, seg, core.offsetOf(start), count, alpha, act, h, z, hSave,
          dSave);
      for (int l = count - 1; l >= 0; l--) {
        long off = core.offsetOf(start + l);
        k.residualBackward(w, batch, seg, off, alpha, hSave, dSave, l * n, dh, gW, gb, g);
        if (tap != null) {
          tap.core(start + l, gW, gb);
        }
        k.sgdUpdate(w, seg, off, layerLr, gW, gb);
      }
      core.writeBack(start, count);
    }
    // (4) input projection
    ResidualHead.inputBackward(head, x, batch, h0, dh, grad, g);
    if (tap != null) {
      tap.head(grad, false);
    }
    head.sgdFirst(headLr, grad);
    return new StepResult(step, r.lossSum(), r.correct(), batch,
        (System.nanoTime() - t0) / 1e9);
  }
}
