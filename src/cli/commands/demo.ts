/**
 * `adapterkit demo` (what `npm start` runs): on a built-in task and the embedded base, train a
 * Houlsby adapter and a full fine-tuning baseline, test both, print a comparison table, keep the
 * adapter, and write an HTML report with the loss and dev-metric curves.
 */
import type { Command } from 'commander';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { adapterConfig } from '../../adapters/methods/index.js';
import { loadBase, baseParamCount } from '../../models/base.js';
import { loadTask } from '../../train/data/index.js';
import { compareModes, type CompareMethod, type CompareResult } from '../../train/experiments/compare.js';
import { readRun, writeReport } from '../../train/report/index.js';
import { TrainProgress } from '../progress.js';
import { continueAdvice, withInterrupt } from '../interrupt.js';
import { formatBytes, formatDuration, formatInt, formatPercent, table } from '../format.js';
import { intArg } from '../options.js';
import { sentenceDatasetNames } from '../builtin-datasets.js';
import { checkOutDir } from '../../util/out-dir.js';

interface DemoFlags {
  dataset: string;
  epochs: number;
  out: string;
  fresh?: boolean;
  adapterSize: number;
}

/** The two methods the demo compares, with learning rates suited to the small embedded base. */
export function demoMethods(size: number): CompareMethod[] {
  return [
    { id: 'adapters', mode: { kind: 'adapters', adapter: adapterConfig({ size }) }, train: { lr: 1e-3 } },
    { id: 'full', mode: { kind: 'full' }, train: { lr: 1e-4 } },
  ];
}

/** The comparison table the demo prints (and the README shows). */
export function demoTable(results: readonly CompareResult[], metrics: readonly string[]): string {
  const head = ['method', ...metrics.map((m) => `test ${m}`), 'trainable params', '% of base', 'stored per task', 'training time'];
  const rows = results.map((r) => [
    r.method,
    ...metrics.map((m) => ((r.test as Record<string, number>)[m] ?? NaN).toFixed(4)),
    formatInt(r.trainableParams),
    formatPercent(r.share),
    formatBytes(r.bytesPerTask),
    formatDuration(r.trainSeconds),
  ]);
  return table(head, rows);
}

/** Registers `demo`. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Train a Houlsby adapter and a full fine-tuning baseline on a built-in task with the embedded base, test both, and write a report (npm start)')
    .option('--dataset <name>', `built-in dataset (${sentenceDatasetNames()})`, 'spam')
    .option('--epochs <n>', 'epochs per method', intArg(1, 100), 2)
    .option('--adapter-size <m>', 'adapter bottleneck size', intArg(1, 4096), 64)
    .option('--out <dir>', 'where runs, the adapter and the report go', 'runs/demo')
    .option('--fresh', 'train again even if an earlier demo finished in --out')
    .addHelpText('after', `
Finished methods are kept in --out and reused by the next run (an interrupted demo continues
where it stopped); pass --fresh to start over.

Examples:
  npm start
  adapterkit demo --dataset sotu --epochs 1 --out runs/demo-sotu`)
    .action(async (f: DemoFlags) => {
      const out = resolve(f.out);
      await checkOutDir(out, `--out ${f.out}`);
      if (f.fresh) await rm(out, { recursive: true, force: true });
      const say = (s: string) => process.stderr.write(`${s}\n`);
      say(`adapterkit demo: ${f.dataset} on the embedded USE-lite base — a Houlsby adapter (m=${f.adapterSize}) vs full fine-tuning, ${f.epochs} epoch(s) each`);
      const [base, task] = await Promise.all([loadBase('use-lite'), loadTask({ builtin: f.dataset })]);
      say(`base: ${base.id}, ${formatInt(baseParamCount(base))} parameters; task: ${task.name} (${task.labels.join(' / ')}), ` +
        `${Object.entries(task.splits).map(([k, v]) => `${k} ${formatInt(v.length)}`).join(', ')}`);
      let progress: TrainProgress | undefined;
      let current = '';
      let results: CompareResult[];
      try {
        results = await withInterrupt({
          message: 'interrupt: saving a checkpoint (Ctrl-C again to exit at once); run the demo again to continue', beforeExit: () => progress?.stop(),
        }, (signal) => compareModes({
          base, task, methods: demoMethods(f.adapterSize), outDir: out, seed: 42, signal,
          train: { epochs: f.epochs, batchSize: 32, maxLength: 128 },
          onEvent: (m, e) => {
            if (m.id !== current) {
              progress?.stop();
              current = m.id;
              say(`\n== ${m.id}: training`);
              progress = new TrainProgress({ epochs: f.epochs });
            }
            progress?.onEvent(e);
          },
          onResult: (r) => {
            progress?.stop();
            say(`== ${r.id}: test ${Object.entries(r.test).map(([k, v]) => `${k} ${(v as number).toFixed(4)}`).join(', ')} (${formatDuration(r.trainSeconds)} training)`);
          },
        }));
      } catch (e) {
        progress?.stop();
        throw continueAdvice(e, `run the demo again to continue from ${out}`);
      }
      const metrics = task.metrics;
      const report = join(out, 'report.html');
      const runs = await Promise.all(results.map((r) => readRun(r.runDir)));
      await writeReport(report, {
        title: `adapterkit demo: ${task.name}`,
        subtitle: `Houlsby adapter vs full fine-tuning on the embedded USE-lite base (${formatInt(baseParamCount(base))} parameters)`,
        generatedAt: new Date().toISOString(),
        summary: {
          columns: ['method', ...metrics.map((m) => `test ${m}`), 'trainable parameters', '% of base', 'bytes per task', 'training seconds'],
          rows: results.map((r) => [r.method, ...metrics.map((m) => (r.test as Record<string, number>)[m] ?? NaN), r.trainableParams, 100 * r.share, r.bytesPerTask, Math.round(r.trainSeconds)]),
        },
        runs,
        tradeoff: [{ task: task.name, metric: metrics[0] as string, points: results.map((r) => ({ method: r.method, params: r.trainableParams, score: (r.test as Record<string, number>)[metrics[0] as string] ?? NaN })) }],
        notes: [
          `Test split of ${task.name}: ${formatInt(task.splits.test?.length ?? 0)} examples. Model selection on the dev split by ${metrics[0]}.`,
          'Training times are wall-clock on this machine and include evaluation on the dev split after each epoch.',
        ],
      });
      process.stdout.write(`\n${demoTable(results, metrics)}\n\n`);
      const adapter = results.find((r) => r.id === 'adapters');
      if (adapter) process.stdout.write(`adapter saved in ${join(adapter.runDir, 'best')} (load it with: adapterkit predict ${join(adapter.runDir, 'best')})\n`);
      process.stdout.write(`report: ${report}\n`);
    });
}
