/**
 * The method comparison's tables (docs/results/methods.md) from sweep results files:
 *   node --import tsx scripts/experiments/methods-table.ts docs/results/methods-spam.results.jsonl [...]
 * Per task, each method's best run on dev (all learning rates), its test score and gap to full
 * fine-tuning, how many runs it was chosen from, trained parameters and share of the base, grouped
 * by budget. Prints Markdown.
 */
import { readSweepResults, summarizeSweep, type SweepSummaryRow } from '../../src/train/experiments/sweep-results.js';

/** The parameter budget a method id belongs to (~0.1 %, ~0.5 %, ~4 % of the base, or more), by its size. */
function budget(r: SweepSummaryRow): string {
  if (r.kind === 'full') return 'all';
  if (r.preset === 'ia3') return 'natural';
  if (r.share < 0.002) return '~0.1 %';
  if (r.share < 0.01) return '~0.5 %';
  return r.share < 0.08 ? '~4 %' : 'over 8 %';
}

const label = (r: SweepSummaryRow) => (r.kind === 'full' ? 'full fine-tuning' : r.preset === undefined && r.size !== undefined ? `paper-m${r.size}` : r.method);
const pct = (x: number) => `${(x * 100).toPrecision(3)} %`;
const f4 = (x: number | null) => (x === null ? '–' : x.toFixed(4));

async function main(): Promise<void> {
  const files = process.argv.slice(2);
  if (files.length === 0) throw new Error('give one or more results.jsonl files');
  for (const file of files) {
    const rows = summarizeSweep(await readSweepResults(file));
    const task = rows[0]?.task ?? file;
    const metric = rows[0]?.metric ?? '';
    const full = rows.find((r) => r.kind === 'full');
    const order = ['~0.1 %', '~0.5 %', '~4 %', 'over 8 %', 'natural', 'all'];
    rows.sort((a, b) => order.indexOf(budget(a)) - order.indexOf(budget(b)) || a.trainableParams - b.trainableParams);
    process.stdout.write(`### ${task} (${metric})\n\n| budget | method | dev | test | gap to full (test) | lr | runs | trained params | % of base |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n`);
    for (const r of rows) {
      const gap = full && r !== full && r.testScore !== null && full.testScore !== null ? `${((r.testScore - full.testScore) * 100).toFixed(2)}` : '';
      process.stdout.write(`| ${budget(r)} | ${label(r)} | ${f4(r.devScore)} | ${f4(r.testScore)} | ${gap} | ${r.lr.toExponential()} | ${r.runs} | ${r.trainableParams.toLocaleString('en-US')} | ${pct(r.share)} |\n`);
    }
    const hours = (await readSweepResults(file)).reduce((s, r) => s + r.seconds, 0) / 3600;
    process.stdout.write(`\n${rows.reduce((n, r) => n + r.runs, 0)} runs, ${hours.toFixed(1)} hours of training and testing in all.\n\n`);
  }
}

await main();
