/**
 * Child process of bench:models: ModernBERT-base's inference alone on long inputs (LONG.batch x
 * LONG.seq, default 4 x 2048), ROUNDS timed batches after one warm-up. BERT-base (512 positions)
 * has no row at this length. Prints memory checkpoints to stderr and one {@link LongResult} JSON line.
 */
import { peakRssMiB, randomBase, syntheticBatch } from '../common.js';
import { LONG, ROUNDS, familyNamed } from './families.js';
import { MemoryLog, inference } from './measure.js';
import type { LongResult } from './protocol.js';

const family = familyNamed('modernbert-base');
const mem = new MemoryLog(`${family.name} ${LONG.batch} x ${LONG.seq}`);
const base = randomBase(family.config, family.name);
mem.mark('random weights');
const inf = await inference(base, syntheticBatch(LONG.batch, LONG.seq, family.config.vocab_size as number));
mem.mark('inference session (warmed up)');
const times: number[] = [];
for (let r = 0; r < ROUNDS; r++) times.push(await inf.run());
mem.mark(`inference timed (${ROUNDS} batches)`);
await inf.dispose();
const result: LongResult = { kind: 'long', family: family.name, batch: LONG.batch, seq: LONG.seq, infer: times, peakRssMiB: Math.round(peakRssMiB()), memory: mem.points };
console.log(JSON.stringify(result));
