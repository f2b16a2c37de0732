/**
 * Diagnostic for ModernBERT's local attention (not part of the bench:models run): what the full
 * T x T banded mask costs at long inputs, where a banded kernel would compute only the window.
 * Three ModernBERT-base-width inference sessions (PROBE_LAYERS layers, default 3: one global, two
 * local), timed in rounds in this one process, order rotating:
 *   window  — ModernBERT's layers as configured (local layers: full T x T scores + the window mask)
 *   global  — every layer global (global_attn_every_n_layers 1): the same T x T work without the window mask
 *   short   — the configured layers on the same number of tokens in sequences of 2 x local_attention
 *             (batch x 2048 / 256): attention over the T x T scores at T = 256, about what a banded
 *             kernel would pay for the local layers (window 128) and a lower bound for all layers.
 * Usage: `node --import tsx bench/models/window-probe.ts`, BENCH_LONG_BATCH / BENCH_LONG_SEQ
 * (default 4 x 2048), BENCH_ROUNDS (default 3), PROBE_LAYERS. Prints each one's times, medians and
 * ratios, and RSS after each session's warm-up.
 */
import { alternating, median, randomBase, syntheticBatch } from '../common.js';
import { LONG, ROUNDS, TINY, familyNamed } from './families.js';
import { MemoryLog, inference, type Inference } from './measure.js';

const layers = Number(process.env.PROBE_LAYERS ?? 3);
const f = familyNamed('modernbert-base');
const vocab = f.config.vocab_size as number;
const window = f.config.local_attention as number;
const shortSeq = 2 * window;
const mem = new MemoryLog(`window-probe ${layers} layers`);
const build = async (name: string, config: Record<string, unknown>, batch: number, seq: number): Promise<Inference> => {
  const inf = await inference(randomBase({ ...config, num_hidden_layers: layers }, name), syntheticBatch(batch, seq, vocab));
  mem.mark(`${name} (${batch} x ${seq}) built and warmed up`);
  return inf;
};
const windowed = await build('window', f.config, LONG.batch, LONG.seq);
const global = await build('global', { ...f.config, global_attn_every_n_layers: 1 }, LONG.batch, LONG.seq);
const shortRows = (LONG.batch * LONG.seq) / shortSeq;
const short = await build('short', f.config, shortRows, shortSeq);
const t = { window: [] as number[], global: [] as number[], short: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  const ab = await alternating(() => windowed.run(), () => global.run(), 1, r);
  t.window.push(...ab.a);
  t.global.push(...ab.b);
  t.short.push(await short.run());
}
await Promise.all([windowed.dispose(), global.dispose(), short.dispose()]);
const ms = (xs: number[]) => `[${xs.map((x) => x.toFixed(0)).join(', ')}] ms, median ${median(xs).toFixed(0)}`;
console.log(`${TINY ? "BENCH_TINY (width 64)" : "modernbert-base width"}, ${layers} layers (global every 3rd, window ${window}), ${LONG.batch} x ${LONG.seq} tokens, ${ROUNDS} rounds:`);
console.log(`  window (as configured): ${ms(t.window)}`);
console.log(`  all global:             ${ms(t.global)}`);
console.log(`  ${shortRows} x ${shortSeq}, as configured:  ${ms(t.short)}`);
console.log(`  window / global = ${(median(t.window) / median(t.global)).toFixed(2)}; ${shortRows} x ${shortSeq} / window = ${(median(t.short) / median(t.window)).toFixed(2)}`);
