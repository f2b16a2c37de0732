/**
 * The adapterkit side of bench/pytorch.bench.ts as a child process (so that each side's peak RSS
 * is its own): the training step of bench/train.bench.ts on a BERT-base-sized random model, for
 * one variant and frozen precision, speaking train_step.py's `--serve` protocol: one
 * `{"ready": true, ...}` line once the model is built, then one `{"ms", "peakRssMiB"}` line per
 * `step` line on stdin; `quit` ends.
 *
 * Usage: node --import tsx bench/pytorch/adapterkit-step.ts --variant adapters|full --precision fp32|int8 --batch 32 --seq 128
 */
import { createInterface } from 'node:readline';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { AdamW, clipByGlobalNorm } from '../../src/train/optim/index.js';
import { summarizeFrozenPlan, type FrozenPrecision } from '../../src/train/frozen-precision.js';
import { TaskModel } from '../../src/train/task-model.js';
import { currentRssMiB, peakRssMiB, randomBertBase, syntheticBatch } from '../common.js';

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

const variant = arg('variant');
const precision = arg('precision', 'fp32') as FrozenPrecision;
const B = Number(arg('batch', '32'));
const T = Number(arg('seq', '128'));
const modes: Record<string, TrainingMode> = {
  adapters: { kind: 'adapters', adapter: adapterConfig({ size: 64 }) },
  full: { kind: 'full' },
};
const mode = modes[variant];
if (!mode) throw new Error(`--variant must be one of ${Object.keys(modes).join(', ')}, got ${variant}`);
if (precision !== 'fp32' && precision !== 'int8') throw new Error(`--precision must be fp32 or int8, got ${precision}`);

const base = randomBertBase();
const head = headConfig({ kind: 'classification', labels: ['a', 'b'], dropout: 0.1 });
const batch = syntheticBatch(B, T, 30522);
const labels = Array.from({ length: B }, (_, i) => i % 2);
let plan = '';
const model = TaskModel.create(base, { mode, head, seed: 1, spinning: false, frozenPrecision: precision, onFrozenPlan: (p) => (plan = summarizeFrozenPlan(p)) });
const opt = new AdamW(model.trainable.map((t) => ({ name: t.name, data: t.data })), { lr: 1e-5 });
const rssBuilt = currentRssMiB();
// The outlier guard runs before the first step anyway; run it here to see its share of the peak.
const guardStart = performance.now();
await model.guardFrozen(batch, labels);
const guard = precision === 'int8' ? { guardSeconds: (performance.now() - guardStart) / 1000, peakAfterGuardMiB: peakRssMiB(), rssAfterGuardMiB: currentRssMiB() } : {};

async function step(): Promise<number> {
  const t = performance.now();
  const out = await model.trainStep(batch, labels);
  clipByGlobalNorm(out.grads, 1);
  opt.step(out.grads);
  return performance.now() - t;
}

const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
say({ ready: true, variant, precision, trainable: model.stats().trainableParams, rssBuiltMiB: rssBuilt, ...guard });
for await (const line of createInterface({ input: process.stdin })) {
  const cmd = line.trim();
  if (cmd === 'quit') break;
  if (cmd !== 'step') {
    say({ error: `unknown command ${JSON.stringify(cmd)} (step, quit)` });
    continue;
  }
  try {
    const ms = await step();
    say({ ms, peakRssMiB: peakRssMiB(), rssMiB: currentRssMiB(), ...(plan ? { plan } : {}) });
  } catch (e) {
    say({ error: (e as Error).stack ?? String(e) });
  }
}
await model.dispose();
