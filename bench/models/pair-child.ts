/**
 * Child process of bench:models: one family against BERT-base, in this process only (ONNX Runtime
 * does not hand a disposed session's memory back to the OS, so each family gets a fresh process).
 * Usage: `node --import tsx bench/models/pair-child.ts <family>`, with the BENCH_* knobs of the parent.
 * First both inference sessions, timed in ROUNDS pairs (order alternating), then both are disposed
 * and both training models built and timed in TRAIN_ROUNDS pairs. Prints memory checkpoints to
 * stderr and one {@link PairResult} JSON line to stdout.
 */
import type { BaseModel } from '../../src/models/base.js';
import { alternating, peakRssMiB, randomBase, syntheticBatch } from '../common.js';
import { REFERENCE, ROUNDS, T, TRAIN_ROUNDS, batchFor, familyNamed, type Family } from './families.js';
import { MemoryLog, inference, training } from './measure.js';
import type { PairResult } from './protocol.js';

const family = familyNamed(process.argv[2] ?? '', 'pair-child');
const B = batchFor(family.name); // BERT-base runs at this family's batch too
const mem = new MemoryLog(`${family.name} ${B} x ${T}`);
const batchOf = (f: Family) => syntheticBatch(B, T, f.config.vocab_size as number);

mem.mark('started');
const ref: BaseModel = randomBase(REFERENCE.config, REFERENCE.name);
const base: BaseModel = randomBase(family.config, family.name);
mem.mark('random weights of both');

const refInf = await inference(ref, batchOf(REFERENCE));
mem.mark(`${REFERENCE.name} inference session (warmed up)`);
const inf = await inference(base, batchOf(family));
mem.mark(`${family.name} inference session (warmed up)`);
const i = await alternating(() => refInf.run(), () => inf.run(), ROUNDS);
mem.mark(`inference timed (${ROUNDS} pairs)`);
await Promise.all([refInf.dispose(), inf.dispose()]);
mem.mark('inference sessions disposed');

const refTrain = await training(ref, batchOf(REFERENCE));
mem.mark(`${REFERENCE.name} training model (one warm-up step)`);
const train = await training(base, batchOf(family));
mem.mark(`${family.name} training model (one warm-up step)`);
const st = await alternating(() => refTrain.step(), () => train.step(), TRAIN_ROUNDS);
mem.mark(`training timed (${TRAIN_ROUNDS} pairs)`);
const [stats, refStats] = [train.model.stats(), refTrain.model.stats()];
await Promise.all([refTrain.model.dispose(), train.model.dispose()]);

const result: PairResult = {
  kind: 'pair', family: family.name, batch: B, seq: T,
  params: stats.baseParams, trainable: stats.trainableParams, refParams: refStats.baseParams, refTrainable: refStats.trainableParams,
  infer: i.b, refInfer: i.a, step: st.b, refStep: st.a, peakRssMiB: Math.round(peakRssMiB()), memory: mem.points,
};
console.log(JSON.stringify(result));
