// Shared helpers of the interoperability tests: where Python, torch, AdapterHub's and PEFT's files
// are (and why a test must skip without them), running Python, and task directories written by
// saveTask from adapters whose weights are perturbed away from their (often identity) start.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { MethodConfig } from '../../src/adapters/methods/index.js';
import { headConfig, type HeadConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';
import { saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';
import { disposableTempDir } from '../temp-dir.js';

/** Debian's Python with python3-torch (not the pyenv python3 on PATH). */
export const PYTHON = '/usr/bin/python3';
export const REPO = resolve(import.meta.dirname, '..', '..');
export const INTEROP_SCRIPTS = join(REPO, 'scripts', 'interop');
export const TINY_BERT = join(REPO, 'test', 'fixtures', 'models', 'tiny-bert');
export const METHOD_FIXTURES = join(REPO, 'test', 'fixtures', 'methods');

/** AdapterHub's files, as scripts/interop/adapterhub_env.py finds them. */
export function adapterHubDir(): string {
  return process.env.ADAPTERKIT_ADAPTERHUB_DIR ?? resolve(REPO, '..', 'shared', 'interop', 'adapterhub');
}

/** PEFT's source tree, as scripts/interop/peft_env.py finds it. */
export function peftDir(): string {
  return process.env.ADAPTERKIT_PEFT_DIR ?? '/tmp/ref/huggingface+peft';
}

export interface PythonResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs Debian's Python in the repository root; never throws on a non-zero exit. */
export function runPython(args: readonly string[], o: { input?: string; env?: Record<string, string> } = {}): Promise<PythonResult> {
  return new Promise((done, failed) => {
    const p = spawn(PYTHON, args, { cwd: REPO, env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    p.on('error', failed);
    p.on('close', (code) => done({ code, stdout, stderr }));
    p.stdin.end(o.input ?? '');
  });
}

let torchCheck: Promise<string | false> | undefined;
/** Why Python with torch cannot run here, or false when it can. */
export function torchMissing(): Promise<string | false> {
  torchCheck ??= (async () => {
    if (!existsSync(PYTHON)) return `${PYTHON} does not exist (CI installs Debian's python3-torch)`;
    const r = await runPython(['-c', 'import torch, numpy']);
    return r.code === 0 ? false : `${PYTHON} cannot import torch and numpy (apt-get install python3-torch): ${r.stderr.trim().split('\n').at(-1)}`;
  })();
  return torchCheck;
}

/** Why AdapterHub's real code cannot run here, or false when it can. */
export async function adapterHubMissing(): Promise<string | false> {
  const src = join(adapterHubDir(), 'src', 'adapters');
  const missing = ['configuration/adapter_config.py', 'methods/modeling.py', 'utils.py'].filter((f) => !existsSync(join(src, f)));
  if (missing.length) return `AdapterHub's files are not at ${src} (${missing.join(', ')}): ../shared/interop/adapterhub is absent on a fresh clone`;
  return torchMissing();
}

/** Why PEFT's real config classes cannot run here, or false when they can. */
export async function peftMissing(): Promise<string | false> {
  const src = join(peftDir(), 'src', 'peft');
  const missing = ['utils/peft_types.py', 'config.py', 'tuners/lora/config.py', 'tuners/ia3/config.py', '__init__.py'].filter((f) => !existsSync(join(src, f)));
  if (missing.length) return `no PEFT source tree at ${src} (set ADAPTERKIT_PEFT_DIR; CI has no PEFT source)`;
  return torchMissing();
}

/** Why Python's `re` cannot be asked, or false (no torch needed). */
export function pythonMissing(): string | false {
  return existsSync(PYTHON) ? false : `${PYTHON} does not exist`;
}

let tinyBert: Promise<BaseModel> | undefined;
export function tinyBase(): Promise<BaseModel> {
  tinyBert ??= loadBase(TINY_BERT);
  return tinyBert;
}

/** A temporary directory removed by `cleanup` (or when the test process exits). */
export function tempDir(prefix = 'adapterkit-interop-'): { dir: string; cleanup: () => void } {
  return disposableTempDir(prefix);
}

/** Three rows: a short text, a pair (token types 1), a longer one; padding in two rows. */
export const TEXTS: Array<string | [string, string]> = ['The cat sat.', ['Is it raining?', 'No, it is sunny.'], 'Adapters are cheap to train and to store!'];

export function tinyBatch(base: BaseModel): EncodedBatch {
  return base.tokenizer.encode(TEXTS, 24);
}

/** A batch as scripts/interop/adapterhub_forward.py reads its inputs: [B][T] lists. */
export function batchJson(b: EncodedBatch): string {
  const rows = (a: Int32Array) => Array.from({ length: b.batchSize }, (_, i) => Array.from(a.subarray(i * b.seqLen, (i + 1) * b.seqLen)));
  return JSON.stringify({ input_ids: rows(b.inputIds), attention_mask: rows(b.attentionMask), token_type_ids: rows(b.tokenTypeIds) });
}

/**
 * Adds `scale`·N(0, 1) to every adapter and head value (fresh LoRA, IA³ and parallel adapters are
 * exactly the base, which would prove nothing). Trained copies of base weights (the paper
 * preset's layer norms) stay as the base's: AdapterHub's and PEFT's files have no place for them.
 */
export function perturb(model: TaskModel, seed: number, scale = 0.1): void {
  const rng = new Rng(seed);
  for (const t of model.trainable) {
    if (t.origin === 'base') continue;
    for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + scale * rng.normal();
  }
}

export const LABELS = ['neg', 'neu', 'pos'];

export function classificationHead(layers: 1 | 2 = 1): HeadConfig {
  return headConfig({ kind: 'classification', labels: LABELS, layers });
}

/** A perturbed adapter of `c` on the tiny BERT, saved with saveTask as task `tiny_task` in `dir`. */
export async function savedAdapter(base: BaseModel, c: MethodConfig, dir: string, o: { seed: number; headLayers?: 1 | 2 }): Promise<{ model: TaskModel; notes: string[] }> {
  const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: c }, head: classificationHead(o.headLayers ?? 1), seed: o.seed });
  perturb(model, o.seed + 1000);
  const notes = await saveTask(model, dir, { name: 'tiny_task', maxLength: 24 });
  return { model, notes };
}

/** Largest |a_i - b_i|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}
