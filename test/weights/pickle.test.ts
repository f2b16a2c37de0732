import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unpickle, type PickleHooks } from '../../src/models/weights/pickle.js';
import { checkView, isContiguous, materialise } from '../../src/models/weights/strided.js';
import { expected } from './helpers.js';

const noHooks: PickleHooks = {
  findGlobal: (m, n) => {
    throw new Error(`global ${m}.${n}`);
  },
  persistentLoad: () => {
    throw new Error('pid');
  },
};

/** The same JSON form the fixture script writes for Python values. */
function normalise(v: unknown): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return { int: String(v) };
  if (typeof v === 'number') return Number.isInteger(v) ? { int: String(v) } : { float: v };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return v.map(normalise);
  if (v instanceof Map) return { dict: [...v].map(([k, x]) => [normalise(k), normalise(x)]) };
  if (v instanceof Set) return { set: [...v].map(normalise).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) };
  throw new Error(`unexpected ${String(v)}`);
}

test('decodes Python-written protocol 2 and 4 pickles of plain data', () => {
  for (const { protocol, hex, value } of expected.pickles) {
    const bytes = Buffer.from(hex, 'hex');
    const out = unpickle(bytes, 0, noHooks, 'fixture');
    assert.equal(out.end, bytes.length, `protocol ${protocol}`);
    assert.deepEqual(normalise(out.value), value, `protocol ${protocol}`);
  }
});

test('memoised objects stay shared', () => {
  const bytes = Buffer.from(expected.pickles[0]!.hex, 'hex');
  const root = unpickle(bytes, 0, noHooks, 'fixture').value as Map<string, unknown[]>;
  const shared = root.get('shared')!;
  assert.equal(shared[0], shared[1]);
});

test('REDUCE on a value that is not an allowed callable is refused', () => {
  const hooks: PickleHooks = { ...noHooks, findGlobal: () => 'not callable' };
  // GLOBAL 'a b', EMPTY_TUPLE, REDUCE, STOP
  const bytes = Buffer.concat([Buffer.from([0x80, 0x02, 0x63]), Buffer.from('a\nb\n'), Buffer.from([0x29, 0x52, 0x2e])]);
  assert.throws(() => unpickle(bytes, 0, hooks, 'x.pkl'), /x\.pkl: corrupt pickle at byte 8: REDUCE\/NEWOBJ applied to something that is not an allowed callable/);
  assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0x30, 0x2e]), 0, noHooks, 'y.pkl'), /y\.pkl: corrupt pickle at byte 2: stack underflow/);
  assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0x68, 0x05, 0x2e]), 0, noHooks, 'z.pkl'), /memo key 5 was never stored/);
});

test('strided views: contiguity rules and gathering a permuted 3-D view', () => {
  assert.equal(isContiguous({ offset: 0, shape: [2, 1, 3], stride: [3, 99, 1] }), true);
  assert.equal(isContiguous({ offset: 0, shape: [3, 2], stride: [1, 3] }), false);
  const storage = Float32Array.from({ length: 24 }, (_, i) => i);
  // A [2,3,4] tensor permuted to [4,2,3]: out[i][j][k] = in[j][k][i] = 12j + 4k + i.
  const view = checkView({ offset: 0, shape: [4, 2, 3], stride: [1, 12, 4] }, 24, 't');
  const out = materialise(storage, view);
  const want: number[] = [];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 3; k++) want.push(12 * j + 4 * k + i);
  assert.deepEqual(Array.from(out), want);
  const big = materialise(BigInt64Array.of(1n, 2n, 3n, 4n), checkView({ offset: 1, shape: [2], stride: [2] }, 4, 'b'));
  assert.deepEqual(Array.from(big), [2n, 4n]);
  assert.throws(() => checkView({ offset: 2, shape: [2, 2], stride: [2, 1] }, 5, 'f.pt: tensor w'), /f\.pt: tensor w: size \[2, 2\], stride \[2, 1\] and offset 2 reach element 5 of a storage with 5/);
  assert.throws(() => checkView({ offset: 0, shape: [2], stride: [1, 1] }, 5, 'w'), /w: stride \[1,1\] does not fit size \[2\]/);
});
