/**
 * Brown POS tagging on the embedded base: adapters vs full fine-tuning vs layer norms only.
 *   node --import tsx scripts/experiments/compare-tagging.ts [maxSteps] [outDir]
 * Each method trains for at most `maxSteps` optimizer steps (one epoch is 1,409 steps), is
 * selected on dev token accuracy, and is tested once on the test split. Prints a Markdown table.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { describeMode, type TrainingMode } from '../../src/train/modes.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { evaluateTagging, loadTokenTask, taggingTrainingData } from '../../src/train/token-tasks/index.js';
import { trainOn } from '../../src/train/trainer.js';

const maxSteps = Number(process.argv[2] ?? 600);
const out = process.argv[3] ?? 'runs/results-pos';
mkdirSync(out, { recursive: true });
const base = await loadBase('use-lite');
const task = await loadTokenTask({ tokenTask: 'tagging', builtin: 'brown-pos' });
if (task.kind !== 'tagging') throw new Error('expected a tagging task');
const { data } = task;
const methods: { id: string; mode: TrainingMode; lr: number }[] = [
  { id: 'adapters', mode: { kind: 'adapters', adapter: adapterConfig({ size: 64 }) }, lr: 1e-3 },
  { id: 'full', mode: { kind: 'full' }, lr: 1e-4 },
  { id: 'layer-norm', mode: { kind: 'layer-norm' }, lr: 3e-3 },
];
const head = headConfig({ kind: 'tagging', labels: data.tagSet, scheme: data.scheme });
const rows: string[] = [];
const results = [];
for (const m of methods) {
  const model = TaskModel.create(base, { mode: m.mode, head, seed: 42 });
  const td = taggingTrainingData(model, data.splits.train ?? [], data.splits.dev, { maxLength: 128 });
  const r = await trainOn(model, td, {
    outDir: join(out, m.id), taskName: 'brown_pos', epochs: 1, maxSteps, batchSize: 32, maxLength: 128, lr: m.lr, seed: 42, resume: true,
    onEvent: (e) => {
      if (e.type === 'eval') process.stderr.write(`${m.id}: eval at step ${e.step}: ${JSON.stringify(e.metrics)}\n`);
    },
  });
  await model.dispose();
  const best = await loadSavedTask(base, r.bestDir);
  const test = await evaluateTagging(best.model, data.splits.test ?? [], { maxLength: 128 });
  const s = best.model.stats();
  await best.model.dispose();
  const dev = r.best?.metrics ?? {};
  results.push({ id: m.id, test, dev, stats: s, seconds: r.seconds, steps: r.steps });
  process.stderr.write(`${m.id}: test ${JSON.stringify(test)}\n`);
  rows.push(`| ${describeMode(m.mode)} | ${(test.token_accuracy ?? NaN).toFixed(4)} | ${(dev.token_accuracy ?? NaN).toFixed(4)} | ${s.trainableParams.toLocaleString('en-US')} | ${(100 * s.share).toFixed(2)} % | ${r.steps} | ${Math.round(r.seconds)} s |`);
}
console.log(`brown-pos: ${data.splits.train?.length} train sentences, ${data.splits.test?.length} test; at most ${maxSteps} steps of batch 32 per method; seed 42`);
console.log('| method | test token accuracy | dev token accuracy | trainable params | % of base | steps | training time |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
console.log(rows.join('\n'));
writeFileSync(join(out, 'brown-pos-results.json'), `${JSON.stringify(results, null, 2)}\n`);
