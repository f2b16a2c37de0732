/**
 * The frozen-layer cache: when nothing trains below layer k (AdapterDrop's static n, `leave_out`
 * of the lowest layers, top-k), the input of layer k is the same in every epoch, provided dropout
 * is off below k. A pre-pass computes it once per training row (batches in length order, the
 * frozen layers only, no dropout) and keeps each row at its own length; every training step then
 * runs layers k.. and the head on the rows of its batch, padded with zeros to the batch's length
 * (padding keys are masked out, so what they hold does not reach any real position).
 *
 * This changes the training: dropout below layer k is off (as in the layer-recycling work), so it
 * is opt-in (`cacheFrozenLayers`, CLI `--cache-frozen-layers`). With dropout off, the losses equal
 * those of the same run without the cache.
 *
 * Storage: in memory (one Float32Array per row) when the rows fit under the memory budget, else
 * appended to a file in the run directory (`frozen-cache/layer-<k>.f32`) and read back by offset
 * with `fs.readSync` for each batch (Node has no mmap; the operating system's page cache does the
 * rest). The file is written from its start by every pre-pass, so a run interrupted while it is
 * being written leaves nothing that a later run would read; a resumed run computes the cache again.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { DEFAULT_CACHE_MEMORY_BYTES, checkCacheMemory } from './frozen-cache-options.js';
import { collate, epochBatches, evalBatches, type TokenizedRow } from './batching.js';
import type { TaskModel } from './task-model.js';


/** Where the file store lives inside a run directory. */
export const CACHE_DIR = 'frozen-cache';

/** Options of {@link FrozenLayerCache.build}. */
export interface FrozenCacheOptions {
  /** Bytes the rows may take in memory (default {@link DEFAULT_CACHE_MEMORY_BYTES}); beyond it they go to a file in `dir`. */
  readonly memoryBytes?: number;
  /** Directory for the file store (the run directory; the file goes to `<dir>/frozen-cache/`). */
  readonly dir: string;
  /** Rows per pre-pass batch (default 32). */
  readonly batchSize?: number;
  /** Called after each pre-pass batch with the rows done. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Stops the pre-pass (INTERRUPTED is the trainer's to throw; the pre-pass just ends early and closes). */
  readonly signal?: AbortSignal;
}

/** Where the rows are kept. */
interface RowStore {
  write(row: number, data: Float32Array): void;
  /** Copies row `row` (`n` floats) into `out` at `at`. */
  read(row: number, out: Float32Array, at: number, n: number): void;
  close(): void;
}

class MemoryStore implements RowStore {
  private readonly rows: Float32Array[] = [];
  write(row: number, data: Float32Array): void {
    this.rows[row] = data.slice();
  }
  read(row: number, out: Float32Array, at: number): void {
    out.set(this.rows[row] as Float32Array, at);
  }
  close(): void {
    this.rows.length = 0;
  }
}

class FileStore implements RowStore {
  private readonly fd: number;
  private end = 0;
  private readonly offsets: number[] = [];
  constructor(readonly path: string) {
    this.fd = openSync(path, 'w+'); // truncates whatever an interrupted run left
  }
  write(row: number, data: Float32Array): void {
    this.offsets[row] = this.end;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    for (let done = 0; done < bytes.length;) done += writeSync(this.fd, bytes, done, bytes.length - done, this.end + done);
    this.end += bytes.length;
  }
  read(row: number, out: Float32Array, at: number, n: number): void {
    const start = this.offsets[row] as number;
    const bytes = new Uint8Array(out.buffer, out.byteOffset + at * 4, n * 4);
    for (let done = 0; done < bytes.length;) {
      const got = readSync(this.fd, bytes, done, bytes.length - done, start + done);
      if (got === 0) fail('BAD_FILE', `${this.path} ends before row ${row}'s cached layer input: was it changed while training ran?`);
      done += got;
    }
  }
  close(): void {
    closeSync(this.fd);
    rmSync(this.path, { force: true });
  }
}

/** The input of one layer for every training row, kept for the run (see the module comment). */
export class FrozenLayerCache {
  private constructor(
    /** The layer whose input is kept: training steps run this layer and those above. */
    readonly layer: number,
    /** Width of a position's hidden state. */
    readonly width: number,
    private readonly lengths: readonly number[],
    private readonly store: RowStore,
    /** Where the rows are: `memory`, or the path of the file. */
    readonly storage: 'memory' | 'file',
    /** Bytes the rows take. */
    readonly bytes: number,
    /** The file (storage `file`). */
    readonly path: string | undefined,
    /** Whether the pre-pass ran to its end (false when stopped by the signal). */
    readonly complete: boolean,
  ) {}

  /**
   * Runs the pre-pass: the input of `layer` for every row of `rows`, through
   * {@link TaskModel.layerInputs} (the model's frozen layers without dropout).
   */
  static async build(model: TaskModel, rows: readonly TokenizedRow[], layer: number, o: FrozenCacheOptions): Promise<FrozenLayerCache> {
    const budget = checkCacheMemory(o.memoryBytes ?? DEFAULT_CACHE_MEMORY_BYTES);
    const lengths = rows.map((r) => Math.max(1, r.ids.length));
    const tokens = lengths.reduce((a, b) => a + b, 0);
    let store: RowStore | undefined; // chosen once the first batch gives the width
    let width = 0;
    let path: string | undefined;
    let done = 0;
    try {
      for (const idx of evalBatches(rows, o.batchSize ?? 32)) {
        if (o.signal?.aborted) break;
        const batch = collate(idx.map((i) => rows[i] as TokenizedRow), model.base.tokenizer.padId);
        const out = await model.layerInputs(batch, layer);
        if (!store) {
          width = out.width;
          if (tokens * width * 4 > budget) {
            mkdirSync(join(o.dir, CACHE_DIR), { recursive: true });
            path = join(o.dir, CACHE_DIR, `layer-${layer}.f32`);
          }
          store = path ? new FileStore(path) : new MemoryStore();
        }
        const T = batch.seqLen;
        for (const [r, row] of idx.entries()) store.write(row, out.data.subarray(r * T * width, (r * T + (lengths[row] as number)) * width));
        done += idx.length;
        o.onProgress?.(done, rows.length);
      }
    } catch (e) {
      store?.close();
      throw e;
    } finally {
      await model.disposeLayerInputs(); // its weights are not needed again
    }
    return new FrozenLayerCache(layer, width, lengths, store ?? new MemoryStore(), path ? 'file' : 'memory', tokens * width * 4, path, done === rows.length);
  }

  /**
   * The layer input of a batch of rows `idx` padded to `seqLen` positions [idx.length, seqLen,
   * width], as `trainStep(…, { layerInput })` takes it.
   */
  batch(idx: readonly number[], seqLen: number): { layer: number; data: Float32Array } {
    const D = this.width;
    const out = new Float32Array(idx.length * seqLen * D);
    idx.forEach((row, r) => {
      const len = this.lengths[row];
      if (len === undefined) fail('BAD_DATA', `row ${row} is not in the frozen-layer cache (it holds ${this.lengths.length} rows)`);
      if (len > seqLen) fail('BAD_DATA', `row ${row} has ${len} tokens, more than the batch's ${seqLen}`);
      this.store.read(row, out, r * seqLen * D, len * D);
    });
    return { layer: this.layer, data: out };
  }

  /** One line for the run's log: what is cached and where. */
  describe(budget = DEFAULT_CACHE_MEMORY_BYTES): string {
    const mb = (b: number) => `${(b / 1024 ** 2).toFixed(1)} MiB`;
    const where = this.storage === 'memory' ? `in memory (budget ${mb(budget)})` : `in ${this.path} (over the memory budget of ${mb(budget)}; read back by offset each batch)`;
    const below = this.layer === 1 ? 'layer 0' : `layers 0-${this.layer - 1}`;
    return `frozen-layer cache: the input of layer ${this.layer} for ${this.lengths.length} rows, ${mb(this.bytes)} ${where}; ${below} and the embeddings run once, without dropout`;
  }

  /** Frees the rows (and deletes the file). */
  close(): void {
    this.store.close();
  }
}

/**
 * The layer a run with `cacheFrozenLayers` trains from: {@link TaskModel.frozenLayers}, or
 * BAD_CONFIG naming the trainable tensor that leaves nothing to cache.
 */
export function frozenCacheLayer(model: TaskModel): number {
  const f = model.frozenLayers();
  if (f.layers === 0) fail('BAD_CONFIG', `cacheFrozenLayers: no layer's input can be cached, since ${f.why}; it needs the lowest layers frozen (AdapterDrop's n, leave_out of layers 0.., top-k; trained layer norms count as training) and nothing trained in the embeddings`, { options: { cacheFrozenLayers: 'cacheFrozenLayers' } });
  return f.layers;
}

/**
 * The cache of a run (see {@link FrozenLayerCache.build}), reported through `o.note`. With an
 * int8 frozen base the outlier guard first measures the batch the run starts at, the one it
 * measures without the cache, so that both runs choose the same kernels.
 */
export async function openFrozenCache(
  model: TaskModel, rows: readonly TokenizedRow[], layer: number,
  o: { outDir: string; batchSize: number; seed: number; cacheMemoryBytes: number | undefined; signal: AbortSignal | undefined; st: { epoch: number; batch: number }; note: (message: string) => void },
): Promise<FrozenLayerCache> {
  const first = epochBatches(rows, o.batchSize, o.seed, o.st.epoch)[o.st.batch];
  if (first) await model.guardFrozen(collate(first.map((i) => rows[i] as TokenizedRow), model.base.tokenizer.padId));
  o.note(`frozen-layer cache: computing the input of layer ${layer} for ${rows.length} rows (the layers below run once, here)`);
  const t0 = performance.now();
  const cache = await FrozenLayerCache.build(model, rows, layer, { dir: o.outDir, batchSize: o.batchSize, ...(o.cacheMemoryBytes !== undefined ? { memoryBytes: o.cacheMemoryBytes } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  o.note(`${cache.describe(o.cacheMemoryBytes)} (computed in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return cache;
}
