/**
 * Token-level losses: values against a direct computation (ignored positions, all ignored ->
 * 0) and gradients against finite differences (test/engine/gradcheck.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, Session, f32, i64, type HostTensor } from '../../src/engine/index.js';
import { maskedTokenCrossEntropy, spanCrossEntropy } from '../../src/heads/token-losses.js';
import { gradcheck, randn } from '../engine/gradcheck.js';

const B = 2;
const T = 4;
const C = 3;
const LABELS = [-100, 2, -100, 0, -100, 1, 1, -100];

function reference(logits: Float32Array, labels: readonly number[]): number {
  let sum = 0;
  let n = 0;
  labels.forEach((y, i) => {
    if (y < 0) return;
    const row = Array.from(logits.subarray(i * C, (i + 1) * C));
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, z) => a + Math.exp(z - m), 0));
    sum += lse - (row[y] as number);
    n++;
  });
  return n === 0 ? 0 : sum / n;
}

async function lossValue(build: (g: Graph) => ReturnType<typeof maskedTokenCrossEntropy>, feeds: Record<string, HostTensor>): Promise<number> {
  const g = new Graph('loss');
  const y = build(g);
  const s = await Session.create(g, { outputs: [y] });
  const out = (await s.run(feeds))[y.name]?.data as Float32Array;
  await s.dispose();
  return out[0] as number;
}

test('masked token cross-entropy: mean over kept positions only; 0 when every position is ignored', async () => {
  const logits = randn([B, T, C], 11, -2, 2);
  for (const labels of [LABELS, new Array<number>(B * T).fill(-100)]) {
    const got = await lossValue((g) => maskedTokenCrossEntropy(g.input('logits', 'float32', ['batch', 'seq', C]), g.input('labels', 'int64', ['batch', 'seq'])), {
      logits, labels: i64([B, T], labels),
    });
    assert.ok(Math.abs(got - reference(logits.data, labels)) < 1e-5, `loss ${got} vs ${reference(logits.data, labels)}`);
  }
});

test('masked token cross-entropy: gradient matches finite differences (ignored positions get none)', async () => {
  await gradcheck({
    params: { logits: randn([B, T, C], 5, -2, 2) },
    feeds: { labels: i64([B, T], LABELS) },
    shapes: { labels: ['batch', 'seq'] },
    build: (p, x) => maskedTokenCrossEntropy(p.logits!, x.labels!),
  });
});

test('span cross-entropy: value is the mean of start and end cross-entropies; gradient matches finite differences', async () => {
  const logits = randn([B, T, 2], 3, -2, 2);
  const targets = new Float32Array(B * T * 2);
  const spans = [[1, 2], [0, 0]] as const;
  spans.forEach(([s, e], b) => {
    targets[(b * T + s) * 2] = 1;
    targets[(b * T + e) * 2 + 1] = 1;
  });
  const got = await lossValue((g) => spanCrossEntropy(g.input('logits', 'float32', ['batch', 'seq', 2]), g.input('targets', 'float32', ['batch', 'seq', 2])), {
    logits, targets: f32([B, T, 2], targets),
  });
  let want = 0;
  spans.forEach(([s, e], b) => {
    for (const [k, pos] of [[0, s], [1, e]] as const) {
      const col = Array.from({ length: T }, (_, t) => logits.data[(b * T + t) * 2 + k] as number);
      const m = Math.max(...col);
      want += (m + Math.log(col.reduce((a, z) => a + Math.exp(z - m), 0)) - (col[pos] as number)) / 2;
    }
  });
  want /= B;
  assert.ok(Math.abs(got - want) < 1e-5, `loss ${got} vs ${want}`);
  await gradcheck({
    params: { logits: randn([B, T, 2], 4, -2, 2) },
    feeds: { targets: f32([B, T, 2], targets) },
    build: (p, x) => spanCrossEntropy(p.logits!, x.targets!),
  });
});
