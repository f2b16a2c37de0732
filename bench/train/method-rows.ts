/**
 * bench:train rows of the issue-15 methods (prefix and prompt tuning, Compacter, MAM, UniPELT):
 * each method's training step interleaved with a Houlsby adapter's on the same base and batch (the
 * order alternating from pair to pair), medians, and the ratio to Houlsby. One Houlsby model lives
 * for the whole part; each method's model is built, warmed up, timed and disposed before the next.
 * BENCH_ROW_ROUNDS (timed pairs per method, default 2) and BENCH_ROW_METHODS change it;
 * BENCH_METHOD_ROWS=0 skips the part, =only runs just it.
 */
import { methodConfig } from '../../src/adapters/methods/index.js';
import type { HeadConfig } from '../../src/heads/head.js';
import type { BaseModel } from '../../src/models/base.js';
import type { EncodedBatch } from '../../src/models/tokenizers/index.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { TaskModel, type BatchLabels } from '../../src/train/task-model.js';
import { alternating, median, peakRssMiB, stepRunner } from '../common.js';
import { REFERENCE_PRESET, rowPresets } from '../method-rows-presets.js';

/** Whether bench:train runs the rows (`BENCH_METHOD_ROWS`: 0 skips them, `only` runs nothing else). */
export const METHOD_ROWS = process.env.BENCH_METHOD_ROWS ?? '1';

const ROUNDS = Number(process.env.BENCH_ROW_ROUNDS ?? 2);

const secs = (ms: number) => (ms / 1000).toFixed(2);

/** Times the rows on `base` with one fixed batch and prints their table. */
export async function trainMethodRows(base: BaseModel, head: HeadConfig, batch: EncodedBatch, labels: BatchLabels): Promise<void> {
  const presets = rowPresets();
  console.log(`\nmethod rows (issue 15): each method's step interleaved with a ${REFERENCE_PRESET} adapter's, ${ROUNDS} timed pair(s) after 1 warm-up step each, medians`);
  const create = (mode: TrainingMode) => TaskModel.create(base, { mode, head, seed: 1, spinning: false });
  const ref = stepRunner(create({ kind: 'adapters', adapter: methodConfig(REFERENCE_PRESET) }), batch, labels);
  await ref.step();
  const refStats = ref.model.stats();
  const rows: { name: string; ms: number; refMs: number; trainable: number; share: number }[] = [];
  const all: number[] = [];
  let round = 0;
  for (const preset of presets) {
    const m = stepRunner(create({ kind: 'adapters', adapter: methodConfig(preset) }), batch, labels);
    await m.step();
    const { a: refTimes, b: times } = await alternating(() => ref.step(), () => m.step(), ROUNDS, round);
    round += ROUNDS;
    all.push(...refTimes);
    const s = m.model.stats();
    await m.model.dispose();
    rows.push({ name: preset, ms: median(times), refMs: median(refTimes), trainable: s.trainableParams, share: s.share });
    console.log(`  ${preset.padEnd(12)} steps [${times.map(secs).join(', ')}] s, ${REFERENCE_PRESET} [${refTimes.map(secs).join(', ')}] s; peak RSS ${peakRssMiB().toFixed(0)} MiB`);
  }
  await ref.model.dispose();
  const header = `${'method'.padEnd(12)} ${'s/step'.padStart(7)}  ${`/ ${REFERENCE_PRESET}`.padStart(10)}  ${`${REFERENCE_PRESET} s/step (pair)`.padStart(22)}  ${'trainable params'.padStart(16)}  ${'share'.padStart(8)}`;
  console.log(header);
  console.log('-'.repeat(header.length));
  const line = (name: string, ms: number, ratio: string, pair: string, trainable: number, share: number) =>
    console.log(`${name.padEnd(12)} ${secs(ms).padStart(7)}  ${ratio.padStart(10)}  ${pair.padStart(22)}  ${trainable.toLocaleString('en-US').padStart(16)}  ${`${(100 * share).toFixed(2)} %`.padStart(8)}`);
  for (const r of rows) line(r.name, r.ms, (r.ms / r.refMs).toFixed(2), secs(r.refMs), r.trainable, r.share);
  line(REFERENCE_PRESET, median(all), '1.00', `${all.length} steps`, refStats.trainableParams, refStats.share);
}
