/**
 * bench:train's cached-frozen-layers part (issue 13 item 4): AdapterDrop n = 5 (Pfeiffer adapters,
 * layer norms frozen) trained from the cached input of layer 5 (train/frozen-cache.ts) against the
 * same adapter with n = 0, and, for reference, n = 5 without the cache. Each model takes one
 * warm-up step, then BENCH_CACHED_ROUNDS (default 3) interleaved rounds of one step each (the
 * order rotating every round); medians. The cached step includes assembling its batch from the
 * cache (each row copied into the padded [B, T, D] input), as the trainer does every step after
 * the pre-pass; the pre-pass itself (the first epoch's extra cost) is timed per batch and printed.
 *
 * Storage: the batch's rows are kept in memory and in a file (a budget of 0 forces the file);
 * the time to assemble one batch from each is printed, and the steps use the memory copy.
 * Target: cached n = 5 step <= 0.5x the n = 0 step (12 layers). BENCH_CACHED_INT8=1 adds the
 * cached step with an int8 frozen base.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { methodConfig } from '../../src/adapters/methods/index.js';
import type { HeadConfig } from '../../src/heads/head.js';
import type { BaseModel } from '../../src/models/base-model.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';
import type { TokenizedRow } from '../../src/train/batching.js';
import { FrozenLayerCache } from '../../src/train/frozen-cache.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { AdamW } from '../../src/train/optim/index.js';
import { clipByGlobalNorm } from '../../src/train/optim/clip.js';
import { TaskModel, type BatchLabels } from '../../src/train/task-model.js';
import { median, peakRssMiB } from '../common.js';

const ROUNDS = Number(process.env.BENCH_CACHED_ROUNDS ?? 3);
/** AdapterDrop's n: the cache holds the input of this layer. */
const DROP = Number(process.env.BENCH_CACHED_DROP ?? 5);
/** BENCH_CACHED_INT8=1 adds a fourth model: the cached n = 5 step with an int8 frozen base. */
const WITH_INT8 = process.env.BENCH_CACHED_INT8 === '1';

const secs = (ms: number) => (ms / 1000).toFixed(2);

/** The rows of a synthetic batch, as the trainer holds them. */
function rowsOf(b: EncodedBatch): TokenizedRow[] {
  return Array.from({ length: b.batchSize }, (_, r) => {
    const len = b.lengths[r] ?? b.seqLen;
    return { ids: b.inputIds.slice(r * b.seqLen, r * b.seqLen + len), types: new Int32Array(len), truncated: false };
  });
}

/** A step function (ms) for a model: forward/backward, clipping, AdamW; `layerInput` gives the cached input. */
function stepper(model: TaskModel, batch: EncodedBatch, labels: BatchLabels, layerInput?: () => { layer: number; data: Float32Array }): () => Promise<number> {
  const opt = new AdamW(model.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: 1e-5 });
  return async () => {
    const t = performance.now();
    const li = layerInput?.();
    const out = await model.trainStep(batch, labels, li ? { layerInput: li } : {});
    clipByGlobalNorm(out.grads, 1);
    opt.step(out.grads);
    return performance.now() - t;
  };
}

/** Times the cached AdapterDrop step against n = 0 (see the module comment) and prints the rows. */
export async function cachedLayersPart(base: BaseModel, head: HeadConfig, batch: EncodedBatch, labels: BatchLabels): Promise<void> {
  const L = base.encoder.numLayers;
  const n = Math.min(DROP, L - 1);
  const adapter = methodConfig('pfeiffer');
  const setup = (layers: number): TrainingMode => ({ kind: 'adapters', adapters: [{ name: 'a', config: adapter }], active: 'a', ...(layers ? { adapterDrop: { kind: 'static', layers } } : {}) });
  console.log(`\ncached frozen layers: Pfeiffer adapter, AdapterDrop n = ${n} of ${L} layers, trained from the cached input of layer ${n}, against n = 0; ${ROUNDS} interleaved round(s) after 1 warm-up step each`);
  const none = TaskModel.create(base, { mode: setup(0), head, seed: 1, spinning: false });
  const drop = TaskModel.create(base, { mode: setup(n), head, seed: 1, spinning: false });
  const cachedModel = TaskModel.create(base, { mode: setup(n), head, seed: 1, spinning: false });
  const int8 = WITH_INT8 ? TaskModel.create(base, { mode: setup(n), head, seed: 1, spinning: false, frozenPrecision: 'int8' }) : undefined;
  const layer = cachedModel.frozenLayers().layers;
  if (layer !== n) throw new Error(`expected the cache at layer ${n}, the model allows ${layer}`);
  const rows = rowsOf(batch);
  const idx = rows.map((_, i) => i);
  const dir = mkdtempSync(join(tmpdir(), 'ak-bench-cache-'));
  try {
    let t = performance.now();
    const cache = await FrozenLayerCache.build(cachedModel, rows, n, { dir, batchSize: batch.batchSize });
    const prepass = performance.now() - t; // one batch, its session built (and released) inside
    await cachedModel.layerInputs(batch, n); // the same pre-pass batch with its session built
    t = performance.now();
    await cachedModel.layerInputs(batch, n);
    const prepassRun = performance.now() - t;
    await cachedModel.disposeLayerInputs();
    const file = await FrozenLayerCache.build(cachedModel, rows, n, { dir, batchSize: batch.batchSize, memoryBytes: 0 });
    const assemble = (c: FrozenLayerCache) => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const s = performance.now();
        c.batch(idx, batch.seqLen);
        times.push(performance.now() - s);
      }
      return median(times);
    };
    console.log(`  pre-pass (layers 0-${n - 1}, no dropout; the first epoch's extra cost): ${secs(prepassRun)} s per batch of ${batch.batchSize} (${secs(prepass)} s for the first, building its session); ${(cache.bytes / batch.batchSize / 1024).toFixed(0)} KiB per example`);
    console.log(`  assembling a ${batch.batchSize} x ${batch.seqLen} batch from the cache: memory ${assemble(cache).toFixed(1)} ms, file ${assemble(file).toFixed(1)} ms (median of 5)`);
    file.close();
    const names = ['n = 0', `n = ${n}`, `n = ${n} cached`];
    const steps = [stepper(none, batch, labels), stepper(drop, batch, labels), stepper(cachedModel, batch, labels, () => cache.batch(idx, batch.seqLen))];
    let int8Cache: FrozenLayerCache | undefined;
    if (int8) {
      int8Cache = await FrozenLayerCache.build(int8, rows, n, { dir, batchSize: batch.batchSize }); // runs the outlier guard on the batch
      const c = int8Cache;
      names.push(`n = ${n} cached int8`);
      steps.push(stepper(int8, batch, labels, () => c.batch(idx, batch.seqLen)));
    }
    const warm: number[] = [];
    for (const s of steps) warm.push(await s());
    console.log(`  warm-up steps: ${names.map((x, i) => `${x} ${secs(warm[i] as number)} s`).join(', ')}`);
    const times: number[][] = steps.map(() => []);
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < steps.length; k++) {
        const i = (r + k) % steps.length;
        t = await (steps[i] as () => Promise<number>)();
        (times[i] as number[]).push(t);
      }
    }
    const m = times.map(median);
    const m0 = m[0] as number;
    console.log(`  steps ${names.map((x, i) => `${x} [${(times[i] as number[]).map(secs).join(', ')}] s`).join(', ')}; peak RSS ${peakRssMiB().toFixed(0)} MiB`);
    console.log(`  AdapterDrop n = ${n} / n = 0 step = ${((m[1] as number) / m0).toFixed(2)} without the cache, ${((m[2] as number) / m0).toFixed(2)} with it (medians of ${ROUNDS}; target with the cache <= 0.5)${int8 ? `; with the cache and an int8 frozen base ${((m[3] as number) / m0).toFixed(2)}` : ''}`);
    console.log(`  bound if a layer's backward costs its forward: (${L - n} forward + ${L - n} backward) / (${L} + ${L}) = ${((L - n) / L).toFixed(2)}`);
    cache.close();
    int8Cache?.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await none.dispose();
    await drop.dispose();
    await cachedModel.dispose();
    await int8?.dispose();
  }
}
