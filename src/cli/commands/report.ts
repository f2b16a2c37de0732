/**
 * `adapterkit report <dir...>`: a self-contained HTML report from sweep output directories and/or
 * training run directories: score vs trained parameters per task, the results table (score, % of
 * parameters per task, total parameters for N tasks), ablation heat maps, and training curves.
 */
import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildSweepReport, readExperimentDir } from '../../train/experiments/sweep-report.js';
import { tradeoffChart, writeReport } from '../../train/report/index.js';
import { intArg } from '../options.js';

interface ReportFlags {
  out: string;
  title?: string;
  tasks?: number;
  charts?: string;
}

/** A task name as a file name: letters, digits, '-', '_' and '.' kept, the rest '_'. */
const fileSafe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

const EXAMPLES = `
Examples:
  $ adapterkit report runs/sweep-spam --out report.html
  $ adapterkit report runs/sweep-spam runs/sweep-sotu runs/spam-adapters --tasks 9 --title "Adapters vs baselines"
  $ adapterkit report runs/sweep-spam runs/sweep-sotu --charts docs/charts   # also docs/charts/spam-tradeoff.svg, sotu-tradeoff.svg`;

/** Registers `adapterkit report`. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('Write a self-contained HTML report from sweep output directories and/or training run directories.')
    .argument('<dirs...>', 'sweep output directories (results.jsonl) and/or run directories (metrics.jsonl)')
    .option('--out <file>', 'HTML file to write', 'report.html')
    .option('--title <text>', 'report title (default: from the tasks)')
    .option('--tasks <n>', 'N in "total parameters for N tasks" (default: the number of tasks in the input)', intArg(1))
    .option('--charts <dir>', 'also write each task\'s score-vs-parameters chart as a standalone SVG file, <dir>/<task>-tradeoff.svg (for Markdown pages)')
    .addHelpText('after', EXAMPLES)
    .action(async (dirs: string[], f: ReportFlags) => {
      const read = await Promise.all(dirs.map((d) => readExperimentDir(d)));
      const input = await buildSweepReport(read, {
        generatedAt: new Date().toISOString(),
        ...(f.title !== undefined ? { title: f.title } : {}),
        ...(f.tasks !== undefined ? { tasks: f.tasks } : {}),
      });
      await writeReport(f.out, input);
      const charts: string[] = [];
      if (f.charts !== undefined && input.tradeoff?.length) {
        await mkdir(f.charts, { recursive: true });
        for (const t of input.tradeoff) {
          const file = join(f.charts, `${fileSafe(t.task)}-tradeoff.svg`);
          await writeFile(file, `${tradeoffChart(t)}\n`);
          charts.push(file);
        }
      }
      const parts = [
        input.summary ? `${input.summary.rows.length} result row(s)` : '',
        input.tradeoff ? `${input.tradeoff.length} trade-off chart(s)` : '',
        input.ablation ? `${input.ablation.length} ablation heat map(s)` : '',
        input.runs ? `${input.runs.length} training curve(s)` : '',
        input.initScale ? `${input.initScale.length} init-scale chart(s)` : '',
      ].filter(Boolean);
      process.stdout.write(`wrote ${resolve(f.out)}: ${parts.join(', ') || 'no results found'}\n`);
      for (const c of charts) process.stdout.write(`wrote ${resolve(c)}\n`);
    });
}
