import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterkitError } from '../../src/errors.js';
import { readSafetensors, readSafetensorsHeader, readWeights } from '../../src/models/weights/index.js';
import { assertTensor, expected, fixture, tempDir } from './helpers.js';

/** Writes a safetensors file from a header object and a data region (no validation at all). */
function craft(path: string, header: unknown, data: Uint8Array = new Uint8Array(0), rawHeader?: string): void {
  const json = Buffer.from(rawHeader ?? JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, data]));
}

test('reads every dtype of a Python-written safetensors file exactly', async () => {
  const weights = await readSafetensors(fixture('mixed.safetensors'));
  const want = expected.mixed_safetensors;
  assert.deepEqual([...weights.keys()], Object.keys(want).sort());
  for (const [name, w] of Object.entries(want)) assertTensor(weights.get(name), w, name);
  assert.ok(weights.get('a.f32')!.data instanceof Float32Array);
  assert.ok(weights.get('e.i64')!.data instanceof BigInt64Array);
  assert.ok(weights.get('f.i32')!.data instanceof Int32Array);
  assert.ok(weights.get('h.i8')!.data instanceof Int8Array);
});

test('each tensor owns its buffer (no shared whole-file buffer)', async () => {
  const weights = await readSafetensors(fixture('mixed.safetensors'));
  const f32 = weights.get('a.f32')!.data;
  assert.equal(f32.byteOffset, 0);
  assert.equal(f32.buffer.byteLength, f32.byteLength);
});

test('select reads only the chosen tensors', async () => {
  const weights = await readSafetensors(fixture('mixed.safetensors'), { select: (n) => n.endsWith('16') });
  assert.deepEqual([...weights.keys()], ['b.f16', 'c.bf16']);
});

test('readSafetensorsHeader returns names, dtypes, shapes and metadata without data', async () => {
  const h = await readSafetensorsHeader(fixture('mixed.safetensors'));
  assert.deepEqual(h.metadata, { format: 'pt', note: 'adapterkit fixture' });
  assert.equal(h.tensors.length, 11);
  const c = h.tensors.find((t) => t.name === 'c.bf16')!;
  assert.equal(c.sourceDtype, 'BF16');
  assert.equal(c.dtype, 'float32');
  assert.deepEqual(c.shape, [3]);
  assert.equal(h.dataStart % 8, 0);
});

test('readWeights detects safetensors by its bytes', async () => {
  const weights = await readWeights(fixture('plain.safetensors'));
  assertTensor(weights.get('layer.weight'), expected.plain_safetensors['layer.weight']!, 'layer.weight');
});

test('a truncated file names the file and the tensor that is cut', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const bytes = readFileSync(fixture('mixed.safetensors'));
    const path = join(dir, 'cut.safetensors');
    writeFileSync(path, bytes.subarray(0, bytes.length - 3));
    await assert.rejects(readSafetensors(path), (e: unknown) => {
      assert.ok(e instanceof AdapterkitError);
      assert.equal(e.code, 'BAD_FILE');
      assert.match(e.message, /cut\.safetensors: tensor j\.scalar: .*reach past the end of the data region \(101 bytes\).*truncated/);
      return true;
    });
    writeFileSync(path, bytes.subarray(0, 100));
    await assert.rejects(readSafetensorsHeader(path), /cut\.safetensors: header length 728 is larger than the rest of the file \(92 bytes\)/);
    writeFileSync(path, bytes.subarray(0, 5));
    await assert.rejects(readSafetensors(path), /cut\.safetensors: too short for a safetensors file \(5 bytes\)/);
  } finally {
    cleanup();
  }
});

test('malformed headers are refused with the file and tensor named', async () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'bad.safetensors');
  const cases: Array<[unknown, Uint8Array, RegExp, string?]> = [
    [null, new Uint8Array(0), /bad\.safetensors: header is not valid JSON/, '{"a": '],
    [[1, 2], new Uint8Array(0), /bad\.safetensors: header JSON is not an object/],
    [{ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8), /tensor w: data_offsets \[0, 8\] span 8 bytes but F32 x \[3\] needs 12/],
    [{ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1), /tensor w: unsupported dtype "F8_E4M3"/],
    [{ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4), /tensor w: shape \[-1\] is not a list/],
    [{ w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, new Uint8Array(8), /tensor w: data_offsets \[8,4\] is not a \[begin, end\] pair/],
    [{ w: 5 }, new Uint8Array(0), /tensor w: header entry is not an object/],
    [
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
      new Uint8Array(12),
      /bad\.safetensors: tensors a \[0, 8\] and b \[4, 12\] overlap/,
    ],
    [{ __metadata__: { n: 1 } }, new Uint8Array(0), /__metadata__ value for "n" is not a string/],
  ];
  try {
    for (const [header, data, pattern, raw] of cases) {
      craft(path, header, data, raw);
      await assert.rejects(readSafetensors(path), pattern);
    }
    await assert.rejects(readSafetensors(join(dir, 'missing.safetensors')), /missing\.safetensors: cannot open/);
  } finally {
    cleanup();
  }
});

test('gaps between tensors and unaligned offsets are read correctly', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'gap.safetensors');
    const data = Buffer.alloc(3 + 8 + 5);
    data.writeDoubleLE(-1.5, 3);
    data.writeFloatLE(0.25, 12);
    craft(path, { d: { dtype: 'F64', shape: [], data_offsets: [3, 11] }, f: { dtype: 'F32', shape: [1], data_offsets: [12, 16] } }, data);
    const w = await readSafetensors(path);
    assert.deepEqual(Array.from(w.get('d')!.data as Float32Array), [-1.5]);
    assert.deepEqual(Array.from(w.get('f')!.data as Float32Array), [0.25]);
  } finally {
    cleanup();
  }
});
