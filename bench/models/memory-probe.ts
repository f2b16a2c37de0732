/**
 * Memory probe for bench:models (a diagnostic, not part of the benchmark run): builds ONE session of
 * one family in a fresh process and prints RSS after each stage, so that the peak of a base-size
 * family can be attributed to its inference or training session and extrapolated per layer.
 * Usage: `node --import tsx bench/models/memory-probe.ts <family|bert-base> <infer|train> [layers]`,
 * with BENCH_BATCH / BENCH_SEQ (default 32 x 128), BENCH_TINY; `layers` overrides num_hidden_layers
 * (so that two runs at 1 and 2 layers give the per-layer cost at full width). Runs 3 inference
 * batches or 3 training steps (ONNX Runtime plans its memory pattern on the first run and allocates
 * it on the second, so the peak can move after the first). PROBE_CONFIG (a JSON object) is merged
 * into the family's config.json, e.g. `PROBE_CONFIG='{"pos_att_type":["c2p"]}'` to price one of
 * DeBERTa's position terms. Prints one JSON line at the end.
 */
import { peakRssMiB, randomBase, syntheticBatch } from '../common.js';
import { B, REFERENCE, T, familyNamed } from './families.js';
import { MemoryLog, inference, training } from './measure.js';

const [name = '', kind = '', layersArg] = process.argv.slice(2);
if (kind !== 'infer' && kind !== 'train') throw new Error(`memory-probe: kind must be infer or train, got '${kind}'`);
const f = name === REFERENCE.name ? REFERENCE : familyNamed(name, 'memory-probe');
const layers = layersArg === undefined ? undefined : Number(layersArg);
if (layers !== undefined && (!Number.isInteger(layers) || layers < 1)) throw new Error(`memory-probe: layers must be a positive integer, got '${layersArg}'`);
const extra = process.env.PROBE_CONFIG ? (JSON.parse(process.env.PROBE_CONFIG) as Record<string, unknown>) : {};
const config: Record<string, unknown> = { ...f.config, ...extra, ...(layers === undefined ? {} : { num_hidden_layers: layers }) };
const mem = new MemoryLog(`${f.name}${process.env.PROBE_CONFIG ? ` ${process.env.PROBE_CONFIG}` : ''} ${kind} ${String(config.num_hidden_layers)} layers ${B} x ${T}`);
const base = randomBase(config, f.name);
mem.mark('random weights');
const batch = syntheticBatch(B, T, config.vocab_size as number);
const times: number[] = []; // ms of the timed runs after the first
if (kind === 'infer') {
  const inf = await inference(base, batch);
  mem.mark('session built, run 1');
  for (let r = 2; r <= 3; r++) {
    times.push(await inf.run());
    mem.mark(`run ${r}`);
  }
  await inf.dispose();
} else {
  const train = await training(base, batch);
  mem.mark('session built, step 1');
  for (let r = 2; r <= 3; r++) {
    times.push(await train.step());
    mem.mark(`step ${r}`);
  }
  await train.model.dispose();
}
mem.mark('disposed');
console.log(JSON.stringify({ family: f.name, kind, layers: config.num_hidden_layers, batch: B, seq: T, ms: times, peakRssMiB: Math.round(peakRssMiB()), memory: mem.points }));
