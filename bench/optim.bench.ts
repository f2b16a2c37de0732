// AdamW step time over BERT-base-sized parameters (~110M float32 values in the checkpoint's tensor
// shapes). Prints the median milliseconds per AdamW step and per global-norm clipping pass.
// Run: node --import tsx bench/optim.bench.ts [steps]
import { AdamW, clipByGlobalNorm, globalNorm, type NamedParameter } from '../src/train/optim/index.js';

/** BERT-base (uncased) tensor sizes by name. */
function bertBaseSizes(): Array<[string, number]> {
  const H = 768, I = 3072;
  const out: Array<[string, number]> = [
    ['bert.embeddings.word_embeddings.weight', 30522 * H],
    ['bert.embeddings.position_embeddings.weight', 512 * H],
    ['bert.embeddings.token_type_embeddings.weight', 2 * H],
    ['bert.embeddings.LayerNorm.weight', H],
    ['bert.embeddings.LayerNorm.bias', H],
  ];
  for (let l = 0; l < 12; l++) {
    const p = `bert.encoder.layer.${l}`;
    for (const s of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) {
      out.push([`${p}.${s}.weight`, H * H], [`${p}.${s}.bias`, H]);
    }
    out.push([`${p}.attention.output.LayerNorm.weight`, H], [`${p}.attention.output.LayerNorm.bias`, H]);
    out.push([`${p}.intermediate.dense.weight`, I * H], [`${p}.intermediate.dense.bias`, I]);
    out.push([`${p}.output.dense.weight`, H * I], [`${p}.output.dense.bias`, H]);
    out.push([`${p}.output.LayerNorm.weight`, H], [`${p}.output.LayerNorm.bias`, H]);
  }
  out.push(['bert.pooler.dense.weight', H * H], ['bert.pooler.dense.bias', H]);
  out.push(['classifier.weight', 2 * H], ['classifier.bias', 2]);
  return out;
}

function fill(a: Float32Array, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 4294967296 - 0.5) * scale;
  }
  return a;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const steps = Number(process.argv[2] ?? 7);
const sizes = bertBaseSizes();
const total = sizes.reduce((n, [, k]) => n + k, 0);
const params: NamedParameter[] = sizes.map(([name, n], i) => ({ name, data: fill(new Float32Array(n), i + 1, 0.04) }));
const grads = sizes.map(([, n], i) => fill(new Float32Array(n), 1000 + i, 1));
const opt = new AdamW(params, { lr: 2e-5 });

const stepMs: number[] = [];
const clipMs: number[] = [];
for (let s = 0; s < steps; s++) {
  const half = globalNorm(grads) / 2; // clipping to half the norm: every timed pass also scales
  const t0 = performance.now();
  clipByGlobalNorm(grads, half);
  const t1 = performance.now();
  opt.step(grads);
  const t2 = performance.now();
  clipMs.push(t1 - t0);
  stepMs.push(t2 - t1);
}
console.log(`parameters: ${(total / 1e6).toFixed(1)}M in ${sizes.length} tensors, ${steps} steps`);
console.log(`AdamW step: median ${median(stepMs).toFixed(1)} ms  (all: ${stepMs.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`clipByGlobalNorm (norm + scale): median ${median(clipMs).toFixed(1)} ms`);
