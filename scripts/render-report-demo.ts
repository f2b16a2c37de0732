/**
 * Renders a demo report from synthetic data to `scratch/report-demo.html`, to look at the report's
 * layout without training anything:
 *
 *     node --import tsx scripts/render-report-demo.ts [out.html]
 *
 * The numbers are made up (seeded, so the page is the same every time).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReport, type ReportInput } from '../src/train/report/html.js';
import type { RunData } from '../src/train/report/runs.js';
import { Rng } from '../src/util/random.js';

/** A synthetic run: loss decaying towards `floor` with noise, dev accuracy rising towards `top`. */
function syntheticRun(rng: Rng, name: string, mode: string, steps: number, floor: number, top: number): RunData {
  const train = Array.from({ length: steps }, (_, i) => ({
    step: i + 1,
    loss: floor + (0.69 - floor) * Math.exp(-(i + 1) / (steps / 5)) + 0.08 * rng.normal() * Math.exp(-(i + 1) / steps),
  }));
  const evals = Array.from({ length: 6 }, (_, k) => {
    const step = Math.round(((k + 1) * steps) / 6);
    const acc = top - (top - 0.55) * Math.exp(-step / (steps / 4)) + 0.005 * rng.normal();
    return { step, split: 'dev', metrics: { accuracy: acc, f1: acc - 0.02 } };
  });
  return { name, mode, train, evals };
}

/** Trained parameters of the methods on a 12-layer, 768-wide encoder (approximate, for the demo). */
function tradeoffPoints(rng: Rng, best: number): { method: string; params: number; score: number; label?: string }[] {
  const adapters = [8, 16, 64, 256].map((m) => ({ method: 'adapters', params: 12 * 2 * (2 * 768 * m + 768 + m), score: best - 0.6 / m - 0.002 * Math.abs(rng.normal()), label: `m=${m}` }));
  const topK = [1, 3, 6, 12].map((k) => ({ method: 'top-k', params: k * 7.1e6, score: best - 0.05 / k - 0.003 * Math.abs(rng.normal()), label: `k=${k}` }));
  return [
    ...adapters, ...topK,
    { method: 'full fine-tuning', params: 110e6, score: best + 0.002 },
    { method: 'layer norms', params: 12 * 2 * 2 * 768, score: best - 0.04 },
  ];
}

/** A 12-layer ablation grid: removing more and lower layers costs more. */
function ablationGrid(base: number, layers: number): (number | null)[][] {
  return Array.from({ length: layers }, (_, i) => Array.from({ length: layers }, (_, j) => {
    if (j < i) return null;
    const span = j - i + 1;
    const depth = 1 - i / layers;
    return Math.max(0.5, base - 0.012 * span * (0.3 + depth) ** 2);
  }));
}

/** The demo report input (deterministic). */
export function demoReportInput(): ReportInput {
  const rng = new Rng(7);
  const runs = [
    syntheticRun(rng, 'spam', 'adapters (m=64)', 600, 0.08, 0.975),
    syntheticRun(rng, 'spam', 'full', 600, 0.04, 0.98),
    syntheticRun(rng, 'spam', 'top-2 layers', 600, 0.15, 0.95),
  ];
  return {
    title: 'adapterkit demo report',
    subtitle: 'Synthetic numbers, to show the layout: adapters against fine-tuning baselines.',
    generatedAt: '2025-01-01T00:00:00.000Z',
    summary: {
      columns: ['task', 'method', 'trained parameters', 'accuracy', 'f1'],
      rows: [
        ['spam', 'adapters (m=64)', 2_396_160, 0.9751, 0.9551],
        ['spam', 'full fine-tuning', 110_000_000, 0.9803, 0.9612],
        ['spam', 'top-2 layers', 14_200_000, 0.9507, 0.9302],
        ['sotu-party', 'adapters (m=64)', 2_396_160, 0.8123, 0.7988],
      ],
    },
    runs,
    tradeoff: [
      { task: 'spam', metric: 'accuracy', points: tradeoffPoints(rng, 0.975) },
      { task: 'sotu-party', metric: 'accuracy', points: tradeoffPoints(rng, 0.81) },
    ],
    ablation: [{ task: 'spam', metric: 'accuracy', layers: 12, values: ablationGrid(0.975, 12), baseline: 0.975 }],
    notes: [
      'Every number on this page is synthetic. Real reports are built from run directories with readRun().',
      'Trained parameters exclude the task head, which every method trains.',
    ],
  };
}

/** Writes the demo report to `out` (default `scratch/report-demo.html`). */
export async function main(out = 'scratch/report-demo.html'): Promise<string> {
  const path = resolve(out);
  await writeReport(path, demoReportInput());
  return path;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv[2]).then((p) => console.log(`wrote ${p}`), (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
