/**
 * Trains adapters and the baselines on a built-in task with the embedded base and tests them:
 *   node --import tsx scripts/experiments/compare-methods.ts <dataset> [epochs] [outDir] [method ids, comma-separated]
 * Prints a Markdown table (for docs/results.md) and writes <outDir>/<dataset>-results.json.
 * Finished methods are reused when run again (compareModes resumes).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { loadBase, baseParamCount } from '../../src/models/base.js';
import { loadTask } from '../../src/train/data/index.js';
import { compareModes, type CompareMethod } from '../../src/train/experiments/compare.js';

const dataset = process.argv[2] ?? 'spam';
const epochs = Number(process.argv[3] ?? 2);
const out = process.argv[4] ?? 'runs/results';

const allMethods: CompareMethod[] = [
  { id: 'adapters', mode: { kind: 'adapters', adapter: adapterConfig({ size: 64 }) }, train: { lr: 1e-3 } },
  { id: 'full', mode: { kind: 'full' }, train: { lr: 1e-4 } },
  // extra variants, run on request (see docs/results.md)
  { id: 'adapters-256', mode: { kind: 'adapters', adapter: adapterConfig({ size: 256 }) }, train: { lr: 1e-3 } },
  { id: 'adapters-lr3e-3', mode: { kind: 'adapters', adapter: adapterConfig({ size: 64 }) }, train: { lr: 3e-3 } },
  { id: 'layer-norm', mode: { kind: 'layer-norm' }, train: { lr: 3e-3 } },
  { id: 'head-only', mode: { kind: 'head-only' }, train: { lr: 3e-3 } },
];
const only = process.argv[5]?.split(',');
const DEFAULT_IDS = ['adapters', 'full', 'layer-norm', 'head-only'];
const methods = allMethods.filter((m) => (only ?? DEFAULT_IDS).includes(m.id));

const base = await loadBase('use-lite');
const task = await loadTask({ builtin: dataset });
const t0 = Date.now();
const results = await compareModes({
  base, task, methods, outDir: out, seed: 42, train: { epochs, batchSize: 32, maxLength: 128 },
  onEvent: (m, e) => {
    if (e.type === 'eval') process.stderr.write(`${m.id}: eval step ${e.step}: ${JSON.stringify(e.metrics)}\n`);
    if (e.type === 'start') process.stderr.write(`${m.id}: training ${e.totalSteps} steps\n`);
  },
  onResult: (r) => process.stderr.write(`${r.id}: test ${JSON.stringify(r.test)} in ${r.trainSeconds.toFixed(0)} s\n`),
});
const metrics = task.metrics;
const lines = [
  `| method | ${metrics.map((m) => `test ${m}`).join(' | ')} | dev ${metrics[0]} | trainable params | % of base | stored per task | training time |`,
  `|---|${metrics.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|`,
  ...results.map((r) => `| ${r.method} | ${metrics.map((m) => ((r.test as Record<string, number>)[m] ?? NaN).toFixed(4)).join(' | ')} | ${((r.dev as Record<string, number> | undefined)?.[metrics[0] as string] ?? NaN).toFixed(4)} | ${r.trainableParams.toLocaleString('en-US')} | ${(100 * r.share).toFixed(2)} % | ${(r.bytesPerTask / 1024).toFixed(0)} KiB | ${Math.round(r.trainSeconds)} s |`),
];
console.log(`${task.name}: base ${base.id} (${baseParamCount(base).toLocaleString('en-US')} parameters), ${epochs} epochs, seed 42, test ${task.splits.test?.length} examples; wall ${(Date.now() - t0) / 1000} s`);
console.log(lines.join('\n'));
writeFileSync(join(out, `${dataset}-results.json`), `${JSON.stringify({ dataset, epochs, results }, null, 2)}\n`);
