/**
 * bench:serve rows of the issue-15 methods (prefix and prompt tuning, Compacter, MAM, UniPELT), each
 * against the serve bench's Houlsby adapter (the paper preset, m = 64) on the same base and inputs, in pairs whose order alternates,
 * medians (BENCH_ROW_ROUNDS pairs, default 20):
 *  - alone: TaskModel.predict of 32 inputs, sentences/s and the ratio to Houlsby's;
 *  - mixed: one MultiTaskModel.predict of 32 inputs, half for a Houlsby task and half for the
 *    method's task, against the same batch over two Houlsby tasks (what a prefix or prompt task
 *    costs the rows it shares a batch with: a prompt lengthens every row); a preset that cannot
 *    share a batch is marked so.
 * Each method's task is in the form the server loads (a prefix's MLP ejected, see
 * train/inference-form.ts); its trained parameters are printed.
 * BENCH_ROW_METHODS changes the presets; BENCH_METHOD_ROWS=0 skips the part, =only runs just it.
 */
import { methodConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import type { BaseModel } from '../../src/models/base.js';
import { inferenceForm } from '../../src/train/inference-form.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { TaskModel } from '../../src/train/task-model.js';
import { alternating, median } from '../common.js';
import { rowPresets } from '../method-rows-presets.js';

/** The serve bench's Houlsby tasks: the paper's bottleneck adapter, m = 64 (its other sections' adapters). */
const REFERENCE = (): MethodConfig => methodConfig('paper', { size: 64 });
const REF = 'houlsby';

/** Whether bench:serve runs the rows (`BENCH_METHOD_ROWS`: 0 skips them, `only` runs nothing else). */
export const METHOD_ROWS = process.env.BENCH_METHOD_ROWS ?? '1';

const ROUNDS = Number(process.env.BENCH_ROW_ROUNDS ?? 20);
const WARMUP = 3;

/** The task as the server loads it (loadSavedTask's inference form: a prefix's MLP ejected into the flat prefix), or `m` itself when that is the same. */
function served(base: BaseModel, m: TaskModel): TaskModel {
  const f = inferenceForm(m.mode, base.encoder, m.owned, m.adapterName);
  if (f.tensors === m.owned) return m;
  return TaskModel.create(base, { mode: f.mode, head: m.head, seed: 0, weights: f.tensors });
}

/** Times `f` once and returns its ms. */
async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

/** Medians of `a` and `b` over {@link ROUNDS} alternating pairs, after warm-up calls of each. */
async function pair(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  for (let i = 0; i < WARMUP; i++) {
    await a();
    await b();
  }
  const r = await alternating(() => timed(a), () => timed(b), ROUNDS);
  return [median(r.a), median(r.b)];
}

/**
 * Times the rows on `base` over the first 32 `texts` (at most `maxLength` tokens); `task(adapter, seed)`
 * makes a task with perturbed tensors (the serve bench's random tasks). Returns summary rows.
 */
export async function serveMethodRows(base: BaseModel, texts: readonly string[], maxLength: number, task: (adapter: MethodConfig, seed: number) => TaskModel): Promise<[string, string][]> {
  const presets = rowPresets();
  const rows = texts.slice(0, 32);
  const batch = base.tokenizer.encode(rows, maxLength);
  const sps = (ms: number) => ((1000 * rows.length) / ms).toFixed(0);
  console.log(`\nmethod rows (issue 15) — batch ${rows.length} (seq ${batch.seqLen}): each method against ${REF} (the paper preset, m = 64), ${ROUNDS} alternating pairs after ${WARMUP} warm-ups, medians; one ONNX Runtime thread per session (no spinning between them)`);
  const made: TaskModel[] = [];
  const make = (c: MethodConfig, seed: number) => {
    const m = task(c, seed);
    made.push(m);
    return m;
  };
  const ref = make(REFERENCE(), 1);
  const refMixed = new MultiTaskModel(base, { threads: 1 });
  refMixed.add('h1', ref);
  refMixed.add('h2', make(REFERENCE(), 2));
  const half = rows.map((_, r) => (r % 2 ? 'h2' : 'h1'));
  const mixedBatch = refMixed.encode(rows, maxLength);
  const summary: [string, string][] = [];
  const w = Math.max(...presets.map((p) => p.length), REF.length);
  console.log(`  ${'method'.padEnd(w)}  ${'alone sent/s'.padStart(12)}  ${`/ ${REF}`.padStart(10)}  ${'mixed sent/s'.padStart(12)}  ${`/ ${REF} x2`.padStart(13)}  adapter params`);
  for (const [i, preset] of presets.entries()) {
    const trained = make(methodConfig(preset), 10 + i);
    const m = served(base, trained);
    if (m !== trained) made.push(m);
    const [refMs, ms] = await pair(() => ref.predict(batch), () => m.predict(batch));
    const multi = new MultiTaskModel(base, { threads: 1 });
    multi.add('h1', make(REFERENCE(), 3));
    const issue = multi.mixIssue(m);
    let mixed = 'own sessions';
    let mixedRatio = '-';
    if (!issue) {
      multi.add('m', m);
      const tasks = rows.map((_, r) => (r % 2 ? 'm' : 'h1'));
      const [refMixMs, mixMs] = await pair(() => refMixed.predict(mixedBatch, half), () => multi.predict(mixedBatch, tasks));
      mixed = sps(mixMs);
      mixedRatio = (refMixMs / mixMs).toFixed(2);
      summary.push([`${preset} mixed with ${REF} (batch 32) / two ${REF} tasks, throughput`, `${mixedRatio} (${mixed} vs ${sps(refMixMs)} sentences/s)`]);
    }
    const ratio = (refMs / ms).toFixed(2);
    console.log(`  ${preset.padEnd(w)}  ${sps(ms).padStart(12)}  ${ratio.padStart(10)}  ${mixed.padStart(12)}  ${mixedRatio.padStart(13)}  ${trained.adapterParams().toLocaleString('en-US')}`);
    summary.push([`${preset} alone (batch 32) / ${REF}, throughput`, `${ratio} (${sps(ms)} vs ${sps(refMs)} sentences/s)`]);
    await multi.dispose();
  }
  await refMixed.dispose();
  for (const m of made) await m.dispose();
  return summary;
}
