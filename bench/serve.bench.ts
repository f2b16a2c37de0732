/**
 * Serving benchmark (npm run bench:serve). The embedded USE-lite base with N randomly initialised,
 * perturbed Houlsby adapter tasks (m = 64), saved with saveTask and loaded through
 * ModelBackend.load in a separate server process (so load generator and server do not share an
 * event loop, and the server's memory is its own):
 *  (1) HTTP throughput (sentences/s) and p50/p99 latency with 1, 8 and 32 adapters loaded,
 *      requests spread over them, 1 and 8 inputs per request (autocannon, loopback, fixed
 *      connections and duration);
 *  (2) resident memory after loading 0, 1, 8, 32 adapters; the per-adapter increase against the
 *      adapter directory's size on disk (target: an adapter costs about its file size);
 *  (3) inference overhead per adapter method versus the bare base: direct forward (no HTTP) of a
 *      head-only TaskModel vs a TaskModel of every method preset, and of LoRA and IA³ folded into
 *      the frozen weights with merge() (expected: the bare base's cost), and the paper preset's task
 *      predict-only (`predictOnly`: its tensors constants of the graph), at batch 1 and 32, all
 *      variants interleaved, medians;
 *  (4) mixed-task batching: one MultiTaskModel.predict over 32 inputs of 8 tasks vs 8 per-task
 *      TaskModel.predict calls of 4 inputs each, interleaved, medians;
 *  (5) mixed-method batching: a MultiTaskModel holding one task per method preset, one batch of 32
 *      inputs mixing them, vs the bare base on the same 32 inputs, interleaved, medians.
 *  (6) int8 frozen base (issue 13): a MultiTaskModel of 8 Houlsby tasks (what serve runs) with
 *      `frozenPrecision: 'int8'` vs fp32, one mixed batch of 32, and the adapter overhead in int8
 *      (a Houlsby TaskModel vs a head-only one, both int8) at batch 32, interleaved, medians;
 *      also the same Houlsby task predict-only (`predictOnly`, as eval, predict and export load a
 *      saved task, and serve a task it runs on its own session: its adapters' matmuls int8 where
 *      the guard allows; a mixed batch gathers each row's adapter and keeps them fp32); targets: int8 throughput >= 1.8x fp32,
 *      adapter overhead <= 4 %. BENCH_INT8=only runs just
 *      (6), BENCH_INT8=0 skips it.
 *  (7) one input for N tasks (bench/serve-parallel.ts): the fan-out vs N one-task calls, with and
 *      without AdapterDrop; BENCH_ONLY=parallel runs just (7) (BENCH_ONLY=overhead just (3)); BENCH_PARALLEL_TAGGING=1 makes one
 *      of the N tasks a tagging task.
 * Method rows (issue 15, bench/serve/method-rows.ts): prefix, prompt, Compacter, MAM, UniPELT
 * throughput against the Houlsby tasks, alone and mixed; BENCH_METHOD_ROWS=0 skips, =only runs just them.
 * BENCH_DURATION (s per HTTP case, default 10), BENCH_CONNECTIONS (default 16) and BENCH_ROUNDS
 * (direct-forward rounds, default 40; 5x that at batch 1) change the sizes; BENCH_METHODS
 * (comma-separated presets, e.g. `compacter,compacter++`) limits (3) and (5) to those presets.
 */
import { AdapterkitError } from '../src/errors.js';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon, { type AutocannonRequest, type AutocannonResult } from 'autocannon';
import { adapterConfig, methodConfig, methodOf, type MethodConfig } from '../src/adapters/methods/index.js';
import { headConfig } from '../src/heads/head.js';
import { baseParamCount, loadBase, type BaseModel } from '../src/models/base.js';
import type { EncodedBatch } from '../src/models/tokenizers/index.js';
import { loadBuiltinDataset } from '../src/train/data/index.js';
import { summarizeFrozenPlan } from '../src/train/frozen-precision.js';
import { MultiTaskModel } from '../src/train/multi-task-model.js';
import { loadSavedTask, saveTask } from '../src/train/task-io.js';
import { TaskModel, type TaskModelOptions } from '../src/train/task-model.js';
import { benchPresets, machine, median, randomData } from './common.js';
import type { ChildCommand, ChildReply, MemoryReport } from './serve-child.js';
import { parallelTasks } from './serve-parallel.js';
import { METHOD_ROWS, serveMethodRows } from './serve/method-rows.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const INT8 = process.env.BENCH_INT8 ?? '1';
const TASK_COUNTS = [1, 8, 32] as const;
const INPUTS_PER_REQUEST = [1, 8] as const;
const MAX_LENGTH = 128;
const HERE = dirname(fileURLToPath(import.meta.url));
const MiB = 2 ** 20;
/**
 * The method presets whose overhead (3) measures and that the mixed-method batch (5) mixes: every
 * preset of the registry (or BENCH_METHODS) that the base takes; set by {@link choosePresets}.
 */
let PRESETS: string[] = [];
/** The presets whose adapters merge() folds into the frozen weights (their method has a merge). */
let MERGEABLE: string[] = [];

/** Sets {@link PRESETS} and {@link MERGEABLE} for `base`, printing each preset the base refuses and why (e.g. PEFT's prompt placement on USE-lite). */
function choosePresets(base: BaseModel): void {
  PRESETS = benchPresets().filter((p) => {
    const c = methodConfig(p);
    try {
      methodOf(c).validateFor(c as never, base.encoder);
      return true;
    } catch (e) {
      if (!(e instanceof AdapterkitError) || e.code !== 'BAD_CONFIG') throw e;
      console.log(`  preset ${p} left out on ${base.id}: ${e.message}`);
      return false;
    }
  });
  MERGEABLE = PRESETS.filter((p) => methodOf(methodConfig(p)).merge !== undefined);
}
/** The presets (5) mixes: each that can join the batch of the ones before it (a second prompt layout or gates beside a prompt cannot). */
function mixablePresets(base: BaseModel): string[] {
  const probe = new MultiTaskModel(base);
  const out: string[] = [];
  PRESETS.forEach((p, i) => {
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig(p) }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: i });
    if (probe.mixIssue(m) === undefined) {
      probe.add(p, m);
      out.push(p);
    }
  });
  return out;
}

/** Summary rows printed at the end. */
const summary: [string, string][] = [];

// ---------------------------------------------------------------------------------------------
// setup: texts and saved tasks
// ---------------------------------------------------------------------------------------------

/** Short real sentences: State of the Union test sentences of at most 300 characters. */
async function sentences(): Promise<string[]> {
  const sotu = await loadBuiltinDataset('sotu');
  return (sotu.splits.test ?? []).map((e) => e.textA).filter((t) => t.length <= 300);
}

/**
 * A task on `base` (default: Houlsby as published, m = 64) whose every tensor is perturbed, so tasks
 * differ and no adapter is the identity (fresh LoRA and IA³ adapters are exactly the base).
 */
function randomTask(base: BaseModel, seed: number, adapter: MethodConfig = adapterConfig({ size: 64 }), o: Partial<TaskModelOptions> = {}): TaskModel {
  const m = TaskModel.create(base, {
    mode: { kind: 'adapters', adapter },
    head: headConfig({ kind: 'classification', labels: ['ham', 'spam'] }),
    seed,
    ...o,
  });
  let k = seed * 1000;
  for (const t of m.trainable) {
    const noise = randomData(t.data.length, k++, t.origin === 'adapter' ? 0.02 : 0.1);
    for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + (noise[i] as number);
  }
  return m;
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dir)) n += (await stat(join(dir, f))).size;
  return n;
}

/** Saves `count` random tasks under `root`; returns their names, directories and sizes. */
async function saveTasks(base: BaseModel, root: string, count: number): Promise<{ name: string; dir: string; bytes: number }[]> {
  const out = [];
  for (let i = 0; i < count; i++) {
    const name = `task${i}`;
    const dir = join(root, name);
    const m = randomTask(base, 100 + i);
    await saveTask(m, dir, { name, maxLength: MAX_LENGTH });
    out.push({ name, dir, bytes: await dirBytes(dir) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// (3), (4) and (5): direct forward passes, no HTTP
// ---------------------------------------------------------------------------------------------

/**
 * Times `variants` interleaved, in the same cyclic order every round, so that no variant ever runs
 * twice in a row: a session that has just run finds its weights in the caches, and alternating the
 * order hands that to the variants at both ends (on 2026-12-01, at batch 1, merged LoRA and IA³,
 * which run the bare graph, measured 12-25 % "overhead" that way, -9 to +3 % cyclically). Returns
 * each one's median ms.
 */
async function interleaved(variants: (() => Promise<unknown>)[], rounds: number, warmup = 3): Promise<number[]> {
  for (let i = 0; i < warmup; i++) for (const v of variants) await v();
  const times: number[][] = variants.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < variants.length; i++) {
      const t = performance.now();
      await (variants[i] as () => Promise<unknown>)();
      (times[i] as number[]).push(performance.now() - t);
    }
  }
  return times.map(median);
}

/** One line naming the base, for the report. */
function describeBase(base: BaseModel): string {
  const e = base.encoder;
  return `${base.id} (${e.family}, ${e.numLayers} layers, hidden ${e.hiddenSize}, ${(baseParamCount(base) / 1e6).toFixed(1)}M parameters)`;
}

const pct = (ms: number, bareMs: number) => `${((100 * (ms - bareMs)) / bareMs).toFixed(1)} %`;

async function methodOverhead(base: BaseModel, texts: string[]): Promise<void> {
  console.log('\n(3) inference overhead per method vs the bare base — TaskModel.predict (encoder + head), no HTTP, all variants interleaved (one cyclic order, no variant twice in a row), medians');
  console.log(`  base: ${describeBase(base)}; bare = a head-only TaskModel on the same base; sessions do not spin (${1 + PRESETS.length + MERGEABLE.length} sessions take turns)`);
  const head = headConfig({ kind: 'classification', labels: ['ham', 'spam'] });
  const o = { spinning: false };
  const bare = TaskModel.create(base, { mode: { kind: 'head-only' }, head, seed: 1, ...o });
  const variants: { label: string; model: TaskModel }[] = PRESETS.map((p) => ({ label: p, model: randomTask(base, 1, methodConfig(p), o) }));
  for (const p of MERGEABLE) {
    const model = randomTask(base, 1, methodConfig(p), o);
    model.merge();
    variants.push({ label: `${p} merged`, model });
  }
  // the paper preset's task predict-only, as eval and predict load a saved task: its tensors constants of the graph
  const paper = variants.find((v) => v.label === 'paper')?.model;
  if (paper) variants.push({ label: 'paper predict-only', model: TaskModel.create(base, { mode: paper.mode, head, seed: 1, weights: paper.owned, predictOnly: true, ...o }) });
  const batches = [1, 32].map((b) => base.tokenizer.encode(texts.slice(0, b), MAX_LENGTH));
  // a merged adapter must compute what the unmerged one computes
  const check = batches[1] as EncodedBatch;
  const model = (label: string) => (variants.find((v) => v.label === label) as (typeof variants)[number]).model;
  for (const p of MERGEABLE) {
    const u = await model(p).predict(check);
    const m = await model(`${p} merged`).predict(check);
    const d = u.reduce((acc, x, i) => Math.max(acc, Math.abs(x - (m[i] as number))), 0);
    console.log(`  ${p} merged vs unmerged, batch 32: max |logit difference| ${d.toExponential(1)}`);
  }
  const results = [];
  for (const batch of batches) {
    const rounds = batch.batchSize === 1 ? ROUNDS * 5 : ROUNDS;
    const ms = await interleaved([bare, ...variants.map((v) => v.model)].map((m) => () => m.predict(batch)), rounds);
    results.push({ batch, rounds, bareMs: ms[0] as number, ms: ms.slice(1) });
  }
  const [r1, r32] = results as [(typeof results)[number], (typeof results)[number]];
  const w = Math.max(...variants.map((v) => v.label.length), 'bare base (head only)'.length);
  console.log(`  ${'variant'.padEnd(w)}  ${`batch 1 (seq ${r1.batch.seqLen})`.padStart(20)}  overhead  ${`batch 32 (seq ${r32.batch.seqLen})`.padStart(20)}  overhead  adapter params`);
  console.log(`  ${'bare base (head only)'.padEnd(w)}  ${`${r1.bareMs.toFixed(2)} ms`.padStart(20)}  ${'-'.padStart(8)}  ${`${r32.bareMs.toFixed(2)} ms`.padStart(20)}  ${'-'.padStart(8)}  ${'0'.padStart(14)}`);
  variants.forEach((v, i) => {
    const a = r1.ms[i] as number;
    const b = r32.ms[i] as number;
    const params = v.model.adapterParams().toLocaleString('en-US');
    console.log(`  ${v.label.padEnd(w)}  ${`${a.toFixed(2)} ms`.padStart(20)}  ${pct(a, r1.bareMs).padStart(8)}  ${`${b.toFixed(2)} ms`.padStart(20)}  ${pct(b, r32.bareMs).padStart(8)}  ${params.padStart(14)}`);
    summary.push([`overhead ${v.label}, batch 1 / batch 32 (direct forward)`, `${pct(a, r1.bareMs)} / ${pct(b, r32.bareMs)} (${a.toFixed(2)} / ${b.toFixed(2)} ms vs bare ${r1.bareMs.toFixed(2)} / ${r32.bareMs.toFixed(2)} ms)`]);
  });
  console.log(`  rounds: ${r1.rounds} at batch 1, ${r32.rounds} at batch 32 (after 3 warm-up rounds); adapter params of the merged rows: the tensors folded in`);
  for (const v of variants) await v.model.dispose();
  await bare.dispose();
}

async function mixedBatching(base: BaseModel, texts: string[], tasks: { name: string; dir: string }[]): Promise<void> {
  console.log('\n(4) mixed-task batching — 32 inputs over 8 tasks: one MultiTaskModel.predict vs 8 per-task TaskModel.predict (4 inputs each), medians');
  const eight = tasks.slice(0, 8);
  const multi = new MultiTaskModel(base);
  const models: TaskModel[] = [];
  for (const t of eight) {
    const saved = await loadSavedTask(base, t.dir);
    models.push(saved.model);
    multi.add(t.name, saved.model);
  }
  const rows = texts.slice(0, 32);
  const rowTask = rows.map((_, r) => (eight[r % 8] as { name: string }).name);
  const mixed = multi.encode(rows, MAX_LENGTH);
  const perTask = models.map((_, k) => base.tokenizer.encode(rows.filter((_, r) => r % 8 === k), MAX_LENGTH));
  const [mixedMs, splitMs] = (await interleaved([
    () => multi.predict(mixed, rowTask),
    async () => {
      for (let k = 0; k < models.length; k++) await (models[k] as TaskModel).predict(perTask[k] as (typeof perTask)[number]);
    },
  ], ROUNDS)) as [number, number];
  console.log(`  one mixed batch: ${mixedMs.toFixed(2)} ms; 8 per-task batches: ${splitMs.toFixed(2)} ms; per-task / mixed = ${(splitMs / mixedMs).toFixed(2)}x`);
  summary.push(['mixed batch (32 inputs, 8 tasks) vs 8 per-task calls', `${mixedMs.toFixed(1)} ms vs ${splitMs.toFixed(1)} ms = ${(splitMs / mixedMs).toFixed(2)}x faster mixed`]);
  await multi.dispose();
  for (const m of models) await m.dispose();
}

/** (6): the served mixed-batch model and the adapter overhead with an int8 frozen base. */
async function int8Serving(base: BaseModel, texts: string[]): Promise<void> {
  console.log('\n(6) int8 frozen base — MultiTaskModel of 8 Houlsby tasks, one mixed batch of 32: fp32 vs int8; adapter overhead in int8 (Houlsby vs head-only TaskModel, batch 32); interleaved, medians; no session spins');
  const plans: string[] = [];
  const multis = (['fp32', 'int8'] as const).map((frozenPrecision) => {
    const m = new MultiTaskModel(base, { frozenPrecision, spinning: false, onFrozenPlan: (p) => plans.push(summarizeFrozenPlan(p)) });
    for (let k = 0; k < 8; k++) m.add(`t${k}`, randomTask(base, 100 + k));
    return m;
  });
  const rows = texts.slice(0, 32);
  const rowTask = rows.map((_, r) => `t${r % 8}`);
  const batch = (multis[0] as MultiTaskModel).encode(rows, MAX_LENGTH);
  const head = headConfig({ kind: 'classification', labels: ['ham', 'spam'] });
  // four sessions take turns: none may spin (a spinning session slows the next one several-fold)
  const bare = TaskModel.create(base, { mode: { kind: 'head-only' }, head, seed: 1, frozenPrecision: 'int8', spinning: false });
  const houlsby = randomTask(base, 7, adapterConfig({ size: 64 }), { frozenPrecision: 'int8', spinning: false });
  // the same task predict-only, as eval, predict and export load a saved task (inference: true): its adapters' matmuls int8 under the guard
  const served = TaskModel.create(base, { mode: houlsby.mode, head, seed: 7, weights: houlsby.owned, frozenPrecision: 'int8', spinning: false, predictOnly: true, onFrozenPlan: (p) => plans.push(`predict-only Houlsby: ${summarizeFrozenPlan(p)}`) });
  const [fp32Ms, int8Ms, bareMs, adapterMs, servedMs] = (await interleaved([
    () => (multis[0] as MultiTaskModel).predict(batch, rowTask),
    () => (multis[1] as MultiTaskModel).predict(batch, rowTask),
    () => bare.predict(batch),
    () => houlsby.predict(batch),
    () => served.predict(batch),
  ], ROUNDS)) as [number, number, number, number, number];
  for (const p of plans) console.log(`  ${p}`);
  const speed = fp32Ms / int8Ms;
  const overhead = adapterMs / bareMs - 1;
  console.log(`  mixed batch of 32: fp32 ${fp32Ms.toFixed(1)} ms, int8 ${int8Ms.toFixed(1)} ms: int8 throughput / fp32 = ${speed.toFixed(2)}x (target >= 1.8x)`);
  const servedOverhead = servedMs / bareMs - 1;
  console.log(`  int8, batch 32: bare ${bareMs.toFixed(1)} ms, Houlsby ${adapterMs.toFixed(1)} ms: adapter overhead ${(100 * overhead).toFixed(1)} % (target <= 4 %)`);
  console.log(`  int8, batch 32, the Houlsby task predict-only (as eval and predict load it): ${servedMs.toFixed(1)} ms: adapter overhead ${(100 * servedOverhead).toFixed(1)} %; predict-only / trainable = ${(servedMs / adapterMs).toFixed(2)}`);
  summary.push(['int8 / fp32 throughput, mixed batch of 32 (8 tasks)', `${speed.toFixed(2)}x (${fp32Ms.toFixed(1)} vs ${int8Ms.toFixed(1)} ms)`]);
  summary.push(['adapter overhead with int8, batch 32', `${(100 * overhead).toFixed(1)} % (${adapterMs.toFixed(1)} vs bare ${bareMs.toFixed(1)} ms)`]);
  summary.push(['adapter overhead with int8, batch 32, predict-only task', `${(100 * servedOverhead).toFixed(1)} % (${servedMs.toFixed(1)} vs bare ${bareMs.toFixed(1)} ms)`]);
  for (const m of multis) await m.dispose();
  await bare.dispose();
  await houlsby.dispose();
  await served.dispose();
}

async function mixedMethods(base: BaseModel, texts: string[]): Promise<void> {
  // presets whose adapters cannot share the mixed batch (PEFT's prompt placement; gates beside a prompt) are served on their own sessions
  const PRESETS = mixablePresets(base);
  console.log(`\n(5) mixed-method batching — a MultiTaskModel with one task per method (${PRESETS.join(', ')}), 32 inputs mixing them (round robin), vs the bare base on the same 32 inputs, interleaved, medians`);
  // The two sessions take turns on the same cores, so neither may spin: a spinning session slows
  // the next one on these 2 cores several-fold.
  console.log('  both sessions with the default threads, spinning off (they take turns)');
  const head = headConfig({ kind: 'classification', labels: ['ham', 'spam'] });
  const bare = TaskModel.create(base, { mode: { kind: 'head-only' }, head, seed: 1, spinning: false });
  const multi = new MultiTaskModel(base, { spinning: false });
  const models = PRESETS.map((p, i) => randomTask(base, 200 + i, methodConfig(p)));
  PRESETS.forEach((p, i) => multi.add(p, models[i] as TaskModel));
  const rows = texts.slice(0, 32);
  const rowTask = rows.map((_, r) => PRESETS[r % PRESETS.length] as string);
  const mixed = multi.encode(rows, MAX_LENGTH);
  const plain = base.tokenizer.encode(rows, MAX_LENGTH);
  const [bareMs, mixedMs] = (await interleaved([() => bare.predict(plain), () => multi.predict(mixed, rowTask)], ROUNDS)) as [number, number];
  console.log(`  batch 32 (seq ${mixed.seqLen}): bare ${bareMs.toFixed(2)} ms, mixed ${PRESETS.length} methods ${mixedMs.toFixed(2)} ms, overhead ${pct(mixedMs, bareMs)} (${ROUNDS} rounds)`);
  summary.push([`mixed batch of ${PRESETS.length} methods (32 inputs) vs bare base`, `${pct(mixedMs, bareMs)} (${bareMs.toFixed(1)} -> ${mixedMs.toFixed(1)} ms)`]);
  await multi.dispose();
  for (const m of models) await m.dispose();
  await bare.dispose();
}

// ---------------------------------------------------------------------------------------------
// (1) and (2): the server process
// ---------------------------------------------------------------------------------------------

/** The server child with a request/answer helper over IPC. */
class ServerProcess {
  private readonly waiting: ((m: ChildReply) => void)[] = [];
  private readonly early: ChildReply[] = [];
  private constructor(readonly child: ChildProcess) {
    child.on('message', (m) => {
      const reply = m as ChildReply;
      const w = this.waiting.shift();
      if (w) w(reply);
      else this.early.push(reply);
    });
  }

  static spawn(): ServerProcess {
    const child = fork(join(HERE, 'serve-child.ts'), [], {
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new ServerProcess(child);
  }

  /** The next reply (optionally after sending a command); rejects on an error reply or exit. */
  next(cmd?: ChildCommand): Promise<ChildReply> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`server process exited (code ${code}) before answering`));
      this.child.once('exit', onExit);
      const done = (m: ChildReply) => {
        this.child.off('exit', onExit);
        if (m.type === 'error') reject(new Error(`server process: ${m.message}`));
        else resolve(m);
      };
      const early = this.early.shift();
      if (early) done(early);
      else this.waiting.push(done);
      if (cmd) this.child.send(cmd);
    });
  }
}

/** One autocannon run: `inputs` sentences per request, tasks chosen pseudo-randomly per request. */
async function load(url: string, taskNames: string[], texts: string[], inputs: number, duration: number): Promise<AutocannonResult> {
  let k = 0;
  let rng = 12345;
  const request: AutocannonRequest = {
    method: 'POST',
    path: '/v1/classify',
    headers: { 'content-type': 'application/json' },
    setupRequest: (req) => {
      rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
      const task = taskNames[(rng >>> 8) % taskNames.length] as string;
      const batch = Array.from({ length: inputs }, () => texts[k++ % texts.length] as string);
      return { ...req, body: JSON.stringify({ task, inputs: batch }) };
    },
  };
  return autocannon({ url, connections: CONNECTIONS, duration, timeout: 30, requests: [request] });
}

interface HttpRow { tasks: number; inputs: number; sentencesPerS: number; requestsPerS: number; p50: number; p99: number; failed: number }

async function serverBench(tasks: { name: string; dir: string; bytes: number }[], texts: string[]): Promise<void> {
  console.log(`\n(1)+(2) HTTP server (separate process) on 127.0.0.1 — autocannon, ${CONNECTIONS} connections, ${DURATION} s per case after a 2 s warm-up`);
  const server = ServerProcess.spawn();
  const mem: { tasks: number; memory: MemoryReport }[] = [];
  const http: HttpRow[] = [];
  try {
    const ready = await server.next();
    if (ready.type !== 'ready') throw new Error(`server process sent ${ready.type} before ready`);
    mem.push({ tasks: 0, memory: ready.memory });
    const started = await server.next({ cmd: 'start' });
    if (started.type !== 'started') throw new Error(`server process answered ${started.type} to start`);
    const warmTexts = texts.slice(0, 32);
    let loaded = 0;
    for (const n of TASK_COUNTS) {
      const r = await server.next({ cmd: 'load', tasks: tasks.slice(loaded, n), warmTexts });
      if (r.type !== 'loaded') throw new Error(`server process answered ${r.type} to load`);
      loaded = n;
      mem.push({ tasks: n, memory: r.memory });
      console.log(`  loaded ${n} adapter(s) (${r.loadMs.toFixed(0)} ms for the new ones): RSS ${(r.memory.rss / MiB).toFixed(1)} MiB`);
      const names = tasks.slice(0, n).map((t) => t.name);
      for (const inputs of INPUTS_PER_REQUEST) {
        await load(started.url, names, texts, inputs, 2);
        const res = await load(started.url, names, texts, inputs, DURATION);
        const ok = res['2xx'];
        const row: HttpRow = {
          tasks: n, inputs, sentencesPerS: (ok * inputs) / res.duration, requestsPerS: ok / res.duration,
          p50: res.latency.p50, p99: res.latency.p99, failed: res.non2xx + res.errors + res.timeouts,
        };
        http.push(row);
        console.log(`  ${String(n).padStart(2)} adapters, ${inputs} input(s)/request: ${row.sentencesPerS.toFixed(0).padStart(5)} sentences/s, ${row.requestsPerS.toFixed(0).padStart(5)} req/s, p50 ${row.p50.toFixed(1)} ms, p99 ${row.p99.toFixed(1)} ms${row.failed ? `, ${row.failed} FAILED` : ''}`);
      }
    }
    await server.next({ cmd: 'stop' });
  } finally {
    server.child.kill();
  }

  console.log('\n  memory of the server process (after GC):');
  console.log('  adapters   RSS MiB   array buffers MiB');
  for (const m of mem) console.log(`  ${String(m.tasks).padStart(8)}  ${(m.memory.rss / MiB).toFixed(1).padStart(8)}  ${(m.memory.arrayBuffers / MiB).toFixed(1).padStart(10)}`);
  const fileKiB = median(tasks.map((t) => t.bytes)) / 1024;
  const at = (n: number) => mem.find((m) => m.tasks === n)?.memory as MemoryReport;
  const perAdapter = (a: number, b: number, key: keyof MemoryReport) => (at(b)[key] - at(a)[key]) / (b - a) / 1024;
  console.log(`  adapter directory on disk: ${fileKiB.toFixed(1)} KiB (sum of its files)`);
  for (const [a, b] of [[1, 8], [8, 32], [1, 32]] as const) {
    const rss = perAdapter(a, b, 'rss');
    console.log(`  per added adapter, ${a} -> ${b}: RSS +${rss.toFixed(1)} KiB (${(rss / fileKiB).toFixed(2)}x file size), array buffers +${perAdapter(a, b, 'arrayBuffers').toFixed(1)} KiB`);
  }
  console.log(`  0 -> 1 adapters: RSS +${((at(1).rss - at(0).rss) / MiB).toFixed(1)} MiB (includes building the inference session on the first batch)`);
  const slope = perAdapter(1, 32, 'rss');
  summary.push(['RSS: base only / 1 / 8 / 32 adapters', mem.map((m) => `${(m.memory.rss / MiB).toFixed(0)}`).join(' / ') + ' MiB']);
  summary.push(['RSS per added adapter (1 -> 32) vs file size', `${slope.toFixed(0)} KiB vs ${fileKiB.toFixed(0)} KiB = ${(slope / fileKiB).toFixed(2)}x (target ~1x)`]);
  for (const r of http) {
    summary.push([`HTTP ${r.tasks} adapter(s), ${r.inputs} input(s)/req`, `${r.sentencesPerS.toFixed(0)} sentences/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms${r.failed ? `, ${r.failed} failed` : ''}`]);
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  console.log(`serving benchmark — ${machine()}; embedded USE-lite base, Houlsby adapters m=64 (and every method preset in (3) and (5))`);
  const base = await loadBase('use-lite');
  choosePresets(base);
  const texts = await sentences();
  console.log(`texts: ${texts.length} State of the Union sentences (<= 300 characters), max ${MAX_LENGTH} tokens`);
  if (METHOD_ROWS === 'only') {
    for (const [k, v] of await serveMethodRows(base, texts, MAX_LENGTH, (c, seed) => randomTask(base, seed, c))) console.log(`| ${k} | ${v} |`);
    return void console.log(`total time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  if (process.env.BENCH_ONLY === 'parallel') await parallelTasks(base, texts, MAX_LENGTH, ROUNDS, interleaved, summary);
  if (process.env.BENCH_ONLY === 'overhead') await methodOverhead(base, texts);
  if (INT8 === 'only' || process.env.BENCH_ONLY === 'parallel' || process.env.BENCH_ONLY === 'overhead') {
    if (INT8 === 'only') await int8Serving(base, texts);
    for (const [k, v] of summary) console.log(`| ${k} | ${v} |`);
    console.log(`total time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    return;
  }
  const root = await mkdtemp(join(tmpdir(), 'adapterkit-serve-bench-'));
  try {
    const tasks = await saveTasks(base, root, Math.max(...TASK_COUNTS));
    console.log(`saved ${tasks.length} random tasks under ${root} (${(tasks[0]?.bytes ?? 0) / 1024 | 0} KiB each)`);
    await methodOverhead(base, texts);
    await mixedBatching(base, texts, tasks);
    await mixedMethods(base, texts);
    await parallelTasks(base, texts, MAX_LENGTH, ROUNDS, interleaved, summary);
    if (METHOD_ROWS !== '0') summary.push(...await serveMethodRows(base, texts, MAX_LENGTH, (c, seed) => randomTask(base, seed, c)));
    await serverBench(tasks, texts);
    if (INT8 !== '0') await int8Serving(base, texts);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  console.log(`\nsummary (${machine()}; ${CONNECTIONS} connections, ${DURATION} s per HTTP case)`);
  const w = Math.max(...summary.map(([k]) => k.length));
  console.log(`| ${'measure'.padEnd(w)} | result |`);
  console.log(`| ${'-'.repeat(w)} | --- |`);
  for (const [k, v] of summary) console.log(`| ${k.padEnd(w)} | ${v} |`);
  console.log(`total time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

await main();
