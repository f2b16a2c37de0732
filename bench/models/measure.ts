/**
 * What the child processes of bench:models time: an inference session over one fixed batch, an
 * adapter training step, and memory checkpoints (RSS now and the process's peak so far) that they
 * print to stderr as they go and report to the parent in their result line.
 */
import { methodConfig } from '../../src/adapters/methods/index.js';
import { Session, i64 } from '../../src/engine/index.js';
import { headConfig } from '../../src/heads/head.js';
import type { BaseModel } from '../../src/models/base.js';
import { buildEncoderGraph } from '../../src/models/build.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';
import { TaskModel } from '../../src/train/task-model.js';
import { currentRssMiB, peakRssMiB, stepRunner, type StepRunner } from '../common.js';
import { PRESET } from './families.js';

/** An inference session over one fixed batch; `run` times one batch (encoder to the pooled output). */
export interface Inference {
  run(): Promise<number>;
  dispose(): Promise<void>;
}

/** `base`'s inference session, warmed up once. */
export async function inference(base: BaseModel, batch: EncodedBatch): Promise<Inference> {
  const eg = buildEncoderGraph(base.encoder, base.weights);
  const s = await Session.create(eg.graph, { outputs: [eg.outputs.pooled], spinning: false });
  const [b, t] = [batch.batchSize, batch.seqLen];
  const feeds = {
    input_ids: i64([b, t], BigInt64Array.from(batch.inputIds, (x) => BigInt(x))),
    attention_mask: i64([b, t], BigInt64Array.from(batch.attentionMask, (x) => BigInt(x))),
    ...(base.encoder.usesTokenTypes ? { token_type_ids: i64([b, t], new BigInt64Array(b * t)) } : {}),
  };
  const run = async (): Promise<number> => {
    const t0 = performance.now();
    await s.run(feeds);
    return performance.now() - t0;
  };
  await run(); // warm-up
  return { run, dispose: () => s.dispose() };
}

/** `base`'s `paper`-adapter training model with its optimizer, warmed up once (the first step builds the session). */
export async function training(base: BaseModel, batch: EncodedBatch): Promise<StepRunner> {
  const head = headConfig({ kind: 'classification', labels: ['a', 'b'], dropout: 0.1 });
  const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig(PRESET) }, head, seed: 1, spinning: false });
  const r = stepRunner(model, batch, Array.from({ length: batch.batchSize }, (_, i) => i % 2));
  await r.step();
  return r;
}

/** Memory at one point of a child's run, in MiB. */
export interface MemoryCheckpoint { at: string; rssMiB: number; peakMiB: number }

/** Records memory checkpoints and prints each one to stderr (so that a child the kernel kills still shows how far it got). */
export class MemoryLog {
  readonly points: MemoryCheckpoint[] = [];
  constructor(private readonly label: string) {}

  /** Records RSS now and the peak so far, after `at`. */
  mark(at: string): void {
    const p = { at, rssMiB: Math.round(currentRssMiB()), peakMiB: Math.round(peakRssMiB()) };
    this.points.push(p);
    process.stderr.write(`  [${this.label}] ${at}: RSS ${p.rssMiB} MiB, peak ${p.peakMiB} MiB\n`);
  }
}
