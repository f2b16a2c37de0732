import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type TensorToWrite } from '../../src/models/weights/index.js';
import { fixture, tempDir } from './helpers.js';

const sample = (): Record<string, TensorToWrite> => ({
  'z.weight': { dtype: 'float32', shape: [2, 3], data: Float32Array.of(1, -2.5, 3e-8, 4, 5, 6) },
  'a.ids': { dtype: 'int64', shape: [3], data: BigInt64Array.of(-1n, 0n, 1n << 60n) },
  'm.mask': { dtype: 'int32', shape: [2], data: Int32Array.of(7, -8) },
  'b.bytes': { dtype: 'uint8', shape: [2], data: Uint8Array.of(0, 255) },
  'c.signed': { dtype: 'int8', shape: [1], data: Int8Array.of(-5) },
  'd.flags': { dtype: 'bool', shape: [2, 1], data: Uint8Array.of(1, 0) },
  scalar: { dtype: 'float32', shape: [], data: Float32Array.of(0.5) },
  empty: { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) },
});

test('write -> read round trip keeps every dtype, shape, value and the metadata', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'rt.safetensors');
    await writeSafetensors(path, sample(), { format: 'pt', 'adapterkit.version': '1' });
    const back = await readSafetensors(path);
    assert.deepEqual([...back.keys()], ['a.ids', 'b.bytes', 'c.signed', 'd.flags', 'empty', 'm.mask', 'scalar', 'z.weight']);
    for (const [name, t] of Object.entries(sample())) {
      const got = back.get(name)!;
      assert.equal(got.dtype, t.dtype, name);
      assert.deepEqual(got.shape, [...t.shape], name);
      assert.deepEqual(got.data, t.data, name);
    }
    assert.deepEqual((await readSafetensorsHeader(path)).metadata, { format: 'pt', 'adapterkit.version': '1' });
  } finally {
    cleanup();
  }
});

test('output is byte-identical across writes and insertion orders, header padded with spaces', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = join(dir, 'a.safetensors');
    const b = join(dir, 'b.safetensors');
    await writeSafetensors(a, sample(), { format: 'pt' });
    await writeSafetensors(b, new Map(Object.entries(sample()).reverse()), { format: 'pt' });
    const bytes = readFileSync(a);
    assert.ok(bytes.equals(readFileSync(b)));
    await writeSafetensors(b, sample(), { format: 'pt' });
    assert.ok(bytes.equals(readFileSync(b)));
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const json = bytes.subarray(8, 8 + n).toString('utf8');
    assert.match(json, /^\{"__metadata__":\{"format":"pt"\},"a\.ids":\{"dtype":"I64","shape":\[3\],"data_offsets":\[0,24\]\}/);
    assert.match(json, /\} *$/);
    assert.equal(json.trimEnd().length + (json.length - json.trimEnd().length), n);
  } finally {
    cleanup();
  }
});

test('rewriting a Python-written file reproduces it byte for byte', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const source = fixture('plain.safetensors');
    const weights = await readSafetensors(source);
    const { metadata } = await readSafetensorsHeader(source);
    const path = join(dir, 'again.safetensors');
    await writeSafetensors(path, weights, metadata);
    assert.ok(readFileSync(path).equals(readFileSync(source)));
  } finally {
    cleanup();
  }
});

test('names sort by bytes, integer-like names included', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'names.safetensors');
    const t = (v: number): TensorToWrite => ({ dtype: 'float32', shape: [1], data: Float32Array.of(v) });
    await writeSafetensors(path, { b: t(1), '2': t(2), '10': t(3), A: t(4) });
    assert.deepEqual((await readSafetensorsHeader(path)).tensors.map((e) => e.name), ['10', '2', 'A', 'b']);
  } finally {
    cleanup();
  }
});

test('the write is atomic: bad input leaves the old file and no temp file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'keep.safetensors');
    writeFileSync(path, 'old');
    const bad = { w: { dtype: 'float32', shape: [2, 2], data: new Float32Array(3) } } as const;
    await assert.rejects(writeSafetensors(path, bad), /keep\.safetensors: tensor w: shape \[2, 2\] holds 4 elements but the data has 3/);
    await assert.rejects(writeSafetensors(path, { w: { dtype: 'int64', shape: [1], data: new Float32Array(1) } }), /tensor w: dtype int64 does not match its Float32Array data/);
    await assert.rejects(writeSafetensors(path, { __metadata__: { dtype: 'float32', shape: [1], data: new Float32Array(1) } }), /"__metadata__" is reserved/);
    assert.equal(readFileSync(path, 'utf8'), 'old');
    await writeSafetensors(path, { w: { dtype: 'float32', shape: [1], data: Float32Array.of(9) } });
    assert.deepEqual(readdirSync(dir), ['keep.safetensors']);
    assert.deepEqual(Array.from((await readSafetensors(path)).get('w')!.data as Float32Array), [9]);
    await assert.rejects(writeSafetensors(join(dir, 'no', 'such', 'dir.safetensors'), {}), /dir\.safetensors: cannot write/);
    assert.equal(existsSync(join(dir, 'no')), false);
  } finally {
    cleanup();
  }
});
