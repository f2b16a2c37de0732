/**
 * Model benchmark (npm run bench:models).
 * (1) Inference throughput of a BERT-base-sized random encoder: sentences/s at batch 32, seq 128.
 * (2) Load time of a BERT-base-sized model.safetensors (written once to a temp dir) in a fresh
 *     process, with that process's peak RSS against the size of the weights: loading should hold
 *     at most about one extra copy of the weights at peak.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session, i64 } from '../src/engine/index.js';
import { buildEncoderGraph } from '../src/models/build.js';
import { writeSafetensors } from '../src/models/weights/index.js';
import { BERT_BASE_CONFIG, machine, median, peakRssMiB, randomBertBase, syntheticBatch } from './common.js';

const B = 32;
const T = 128;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

async function throughput(): Promise<{ ms: number; perSec: number }> {
  const base = randomBertBase();
  const eg = buildEncoderGraph(base.encoder, base.weights);
  const s = await Session.create(eg.graph, { outputs: [eg.outputs.pooled] });
  const b = syntheticBatch(B, T, 30522);
  const feeds = {
    input_ids: i64([B, T], BigInt64Array.from(b.inputIds, (x) => BigInt(x))),
    attention_mask: i64([B, T], BigInt64Array.from(b.attentionMask, (x) => BigInt(x))),
    token_type_ids: i64([B, T], new BigInt64Array(B * T)),
  };
  await s.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await s.run(feeds);
    times.push(performance.now() - t);
  }
  await s.dispose();
  const ms = median(times);
  return { ms, perSec: (B * 1000) / ms };
}

async function writeModel(dir: string): Promise<number> {
  const file = join(dir, 'model.safetensors');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const base = randomBertBase();
    const tensors = new Map();
    for (const s of base.encoder.weightSpecs) {
      const t = base.weights.get(s.name)!;
      const linear = (s.role === 'linear' || s.role === 'pooler') && s.shape.length === 2;
      tensors.set(`bert.${s.name}`, { dtype: 'float32', shape: linear ? [s.shape[1], s.shape[0]] : [...s.shape], data: t.data });
    }
    await writeSafetensors(file, tensors);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(BERT_BASE_CONFIG));
  }
  return statSync(file).size;
}

async function main(): Promise<void> {
  console.log(`models benchmark — ${machine()}`);
  const dir = join(tmpdir(), 'adapterkit-bench-bert-base');
  const bytes = await writeModel(dir);
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/load-child.ts', dir], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`load child failed: ${child.stderr}`);
  const load = JSON.parse(child.stdout.trim().split('\n').pop() as string) as { seconds: number; peakRssMiB: number; baselineRssMiB: number };
  const tp = await throughput();
  const weightsMiB = bytes / 2 ** 20;
  console.log(`inference, batch ${B} x seq ${T}: ${tp.ms.toFixed(0)} ms/batch, ${tp.perSec.toFixed(1)} sentences/s (median of ${ROUNDS})`);
  console.log(`load model.safetensors (${weightsMiB.toFixed(0)} MiB) in a fresh process: ${load.seconds.toFixed(2)} s`);
  console.log(`peak RSS of that process: ${load.peakRssMiB.toFixed(0)} MiB; before loading: ${load.baselineRssMiB.toFixed(0)} MiB; growth ${(load.peakRssMiB - load.baselineRssMiB).toFixed(0)} MiB = ${((load.peakRssMiB - load.baselineRssMiB) / weightsMiB).toFixed(2)} x the weights (target <= ~2: the weights + at most one extra copy)`);
  console.log(`this process's peak RSS: ${peakRssMiB().toFixed(0)} MiB`);
}

await main();
