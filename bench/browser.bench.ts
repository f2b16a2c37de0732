/**
 * `npm run bench:browser`: the training step and inference of the same small model (a Houlsby
 * adapter, m = 64, on the embedded USE-lite base; one fixed batch of SpamAssassin texts) on
 * onnxruntime-web in headless Chromium (wasm, 1 and 2 threads, in a worker of a cross-origin
 * isolated page served by the ui server) and on onnxruntime-node (1 and 2 threads), each with an
 * fp32 and an int8 frozen base, as times and ratios. The losses of the first steps are printed: equal across thread counts of one
 * runtime, not across runtimes, since ONNX Runtime's Dropout draws its masks with the C++
 * library's generator, which differs between the native and the wasm build (inference, without
 * dropout, agrees to 1e-4: test/browser/ui.test.ts).
 *
 * BENCH_BATCH (16), BENCH_SEQ (64), BENCH_STEPS (timed training steps, 6), BENCH_INFER (timed
 * inference batches, 6). Runs in about 1-2 minutes on 2 cores.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForBrowser } from '../src/browser/build.js';
import { startUiServer } from '../src/browser/ui-server.js';
import { loadBase } from '../src/models/base.js';
import { loadBuiltinDataset } from '../src/train/data/builtin/index.js';
import { launchChromium, openPage, skipWithoutChromium } from '../test/browser/chromium.js';
import { machine, median } from './common.js';
import { timeSteps, type StepBenchConfig, type StepBenchResult } from './browser/steps.js';

const B = Number(process.env.BENCH_BATCH ?? 16);
const T = Number(process.env.BENCH_SEQ ?? 64);
const STEPS = Number(process.env.BENCH_STEPS ?? 6);
const INFER = Number(process.env.BENCH_INFER ?? 6);

type Precision = 'fp32' | 'int8';
interface Row { readonly runtime: string; readonly threads: number; readonly precision: Precision; readonly r: StepBenchResult }
const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

async function main(): Promise<void> {
  const t0 = performance.now();
  if (skipWithoutChromium) throw new Error(skipWithoutChromium);
  console.log(`browser benchmark — ${machine()}; Houlsby adapter m=64 on use-lite, batch ${B}, seq ${T}, ${STEPS} training steps and ${INFER} inference batches after 2 warm-up runs each; frozen base fp32 and int8 (the guard runs in the first warm-up step)`);
  const spam = await loadBuiltinDataset('spam');
  const train = spam.splits.train ?? [];
  const picked = Array.from({ length: B }, (_, i) => train[Math.floor((i * train.length) / B)] as (typeof train)[number]);
  const config: StepBenchConfig = { texts: picked.map((e) => e.textA), labels: picked.map((e) => e.label as number), batch: B, seq: T, adapterSize: 64, steps: STEPS, inferBatches: INFER, warmup: 2 };

  const rows: Row[] = [];
  const base = await loadBase();
  for (const threads of [1, 2]) for (const precision of PRECISIONS) rows.push({ runtime: 'onnxruntime-node', threads, precision, r: await timeSteps(base, { ...config, threads, frozenPrecision: precision }) });

  const here = dirname(fileURLToPath(import.meta.url));
  const scripts = await bundleForBrowser({ 'bench-worker': join(here, 'browser', 'bench-worker.ts') });
  const server = await startUiServer({ port: 0, extraScripts: scripts });
  const chromium = await launchChromium();
  try {
    const page = await openPage(chromium, `${server.url}/`);
    for (const threads of [1, 2]) {
      for (const precision of PRECISIONS) {
        const c: StepBenchConfig = { ...config, frozenPrecision: precision };
        const r = await page.evaluate<{ ok: boolean; message?: string; threads: number } & StepBenchResult>(`new Promise((resolve) => {
          const w = new Worker('/app/bench-worker.js', { type: 'module' });
          w.onmessage = (e) => { resolve(e.data); w.terminate(); };
          w.onerror = (e) => resolve({ ok: false, message: e.message });
          setTimeout(() => resolve({ ok: false, message: 'no answer from the worker in 170 s' }), 170000);
          w.postMessage({ threads: ${threads}, origin: location.origin, config: ${JSON.stringify(c)} });
        })`);
        if (!r.ok) throw new Error(`the browser run failed: ${r.message}`);
        rows.push({ runtime: 'onnxruntime-web (wasm)', threads: r.threads, precision, r });
      }
    }
  } finally {
    await chromium.close();
    await server.close();
  }

  const find = (runtime: string, threads: number, precision: Precision) => rows.find((x) => x.runtime.startsWith(runtime) && x.threads === threads && x.precision === precision) as Row;
  const node1 = find('onnxruntime-node', 1, 'fp32');
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`\n${pad('runtime', 24)}${pad('threads', 9)}${pad('frozen', 8)}${pad('train step', 13)}${pad('examples/s', 12)}${pad('inference', 12)}${pad('sentences/s', 13)}train / node 1t fp32  infer / node 1t fp32`);
  for (const { runtime, threads, precision, r } of rows) {
    const tr = median(r.trainMs);
    const inf = median(r.inferMs);
    console.log(`${pad(runtime, 24)}${pad(String(threads), 9)}${pad(precision, 8)}${pad(`${tr.toFixed(0)} ms`, 13)}${pad((B / (tr / 1000)).toFixed(1), 12)}${pad(`${inf.toFixed(0)} ms`, 12)}${pad((B / (inf / 1000)).toFixed(1), 13)}${pad(`${(tr / median(node1.r.trainMs)).toFixed(2)} x`, 22)}${(inf / median(node1.r.inferMs)).toFixed(2)} x`);
  }
  const ratio = (a: Row, b: Row, k: 'trainMs' | 'inferMs') => (median(a.r[k]) / median(b.r[k])).toFixed(2);
  const [web1, web2, node2] = [find('onnxruntime-web', 1, 'fp32'), find('onnxruntime-web', 2, 'fp32'), find('onnxruntime-node', 2, 'fp32')];
  console.log(`\nwasm 2 threads vs node 2 threads (fp32): training step ${ratio(web2, node2, 'trainMs')} x the time, inference ${ratio(web2, node2, 'inferMs')} x`);
  console.log(`wasm 2 threads vs wasm 1 thread (fp32): training step ${(median(web1.r.trainMs) / median(web2.r.trainMs)).toFixed(2)} x faster`);
  for (const runtime of ['onnxruntime-node', 'onnxruntime-web']) {
    for (const threads of [1, 2]) {
      const [f, q] = [find(runtime, threads, 'fp32'), find(runtime, threads, 'int8')];
      console.log(`int8 / fp32 frozen base, ${runtime} ${threads}t: training step ${ratio(q, f, 'trainMs')}, inference ${ratio(q, f, 'inferMs')}`);
    }
  }
  for (const row of rows) console.log(`losses, ${row.runtime} ${row.threads}t ${row.precision}: ${row.r.losses.slice(0, 4).map((l) => l.toFixed(6)).join(', ')}`);
  console.log(`total time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

await main();
