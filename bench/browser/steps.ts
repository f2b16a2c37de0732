/**
 * What bench/browser.bench.ts times, written once and run on both runtimes: in Node
 * (onnxruntime-node) and in Chromium's worker (bench-worker.ts, onnxruntime-web). A Houlsby
 * adapter on the embedded base; one fixed batch of real texts; training steps (forward, backward,
 * clipping, AdamW) and inference batches, each after warm-up. No Node imports.
 */
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import type { BaseModel } from '../../src/models/base-model.js';
import { AdamW } from '../../src/train/optim/adamw.js';
import { clipByGlobalNorm } from '../../src/train/optim/clip.js';
import { TaskModel } from '../../src/train/task-model.js';

/** The sizes and counts of one measurement. */
export interface StepBenchConfig {
  readonly texts: readonly string[];
  readonly labels: readonly number[];
  readonly batch: number;
  readonly seq: number;
  readonly adapterSize: number;
  readonly steps: number;
  readonly inferBatches: number;
  readonly warmup: number;
  /** ONNX Runtime threads (Node; in the browser the runtime's setting applies). */
  readonly threads?: number;
  /** The frozen base's matmuls (default fp32; int8 runs the outlier guard in the first warm-up step). */
  readonly frozenPrecision?: 'fp32' | 'int8';
}

/** Per-run times (ms) after warm-up. */
export interface StepBenchResult {
  readonly trainMs: number[];
  readonly inferMs: number[];
  /** The loss of each training step (a check that both runtimes computed the same thing). */
  readonly losses: number[];
}

/** Times training steps and inference batches of a fresh adapter model on `base`. */
export async function timeSteps(base: BaseModel, c: StepBenchConfig): Promise<StepBenchResult> {
  const model = TaskModel.create(base, {
    mode: { kind: 'adapters', adapter: adapterConfig({ size: c.adapterSize }) }, head: headConfig({ kind: 'classification', labels: ['ham', 'spam'] }),
    seed: 7, dropout: 0, ...(c.threads !== undefined ? { threads: c.threads } : {}),
    ...(c.frozenPrecision ? { frozenPrecision: c.frozenPrecision } : {}),
  });
  const batch = base.tokenizer.encode(c.texts.slice(0, c.batch), c.seq);
  const labels = c.labels.slice(0, c.batch);
  const opt = new AdamW(model.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: 1e-4 });
  const trainMs: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < c.warmup + c.steps; i++) {
    const t = performance.now();
    const out = await model.trainStep(batch, labels);
    clipByGlobalNorm(out.grads, 1);
    opt.step(out.grads);
    if (i >= c.warmup) trainMs.push(performance.now() - t);
    losses.push(out.loss);
  }
  const inferMs: number[] = [];
  for (let i = 0; i < c.warmup + c.inferBatches; i++) {
    const t = performance.now();
    await model.predict(batch);
    if (i >= c.warmup) inferMs.push(performance.now() - t);
  }
  await model.dispose();
  return { trainMs, inferMs, losses };
}
