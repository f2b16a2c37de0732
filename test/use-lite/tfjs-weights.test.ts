import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync, appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { readTfjsWeights, useLitePackageDir } from '../../src/models/use-lite/package-files.js';
import { tempDir } from '../temp-dir.js';

const pkg = useLitePackageDir();

/** Copies the real model (model.json + shards) into a fresh temp folder. */
function copyModel(): string {
  const dir = tempDir('use-lite-');
  for (const f of readdirSync(pkg)) if (f === 'model.json' || f.startsWith('group1-shard')) copyFileSync(join(pkg, f), join(dir, f));
  return dir;
}

/** Writes a small synthetic model: model.json with the given weights entries + one shard. */
function synthetic(weights: unknown[], shard: Buffer): string {
  const dir = tempDir('tfjs-syn-');
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['s1'], weights }] }));
  writeFileSync(join(dir, 's1'), shard);
  return dir;
}

test('reads all 61 USE-lite tensors with manifest shapes and values', async () => {
  const w = await readTfjsWeights(join(pkg, 'model.json'));
  assert.equal(w.size, 61);
  const emb = w.get('module/Embeddings_en');
  assert.deepEqual(emb?.shape, [8002, 256]);
  assert.equal(emb?.data.length, 8002 * 256);
  // First float of shard 1 belongs to the first manifest entry.
  const first = readFileSync(join(pkg, 'group1-shard1of7')).readFloatLE(0);
  const firstName = (JSON.parse(readFileSync(join(pkg, 'model.json'), 'utf8')) as { weightsManifest: Array<{ weights: Array<{ name: string }> }> })
    .weightsManifest[0]!.weights[0]!.name;
  assert.equal(w.get(firstName)?.data[0], first);
  const eps = w.get('module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x');
  assert.ok(Math.abs((eps?.data[0] ?? 0) - 1e-6) < 1e-12);
  const perm = w.get('module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/split_heads/transpose/perm');
  assert.equal(perm?.dtype, 'int32');
  assert.deepEqual(Array.from(perm?.data ?? []), [0, 2, 1, 3]);
  let total = 0;
  for (const t of w.values()) total += t.data.length;
  assert.equal(total, 6975914);
});

test('missing shard is reported by name', async () => {
  const dir = copyModel();
  try {
    unlinkSync(join(dir, 'group1-shard3of7'));
    await assert.rejects(readTfjsWeights(join(dir, 'model.json')), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'BAD_FILE');
      assert.match(e.message, /shard file "group1-shard3of7" is missing/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('truncated or oversized shards are reported with byte counts', async () => {
  const dir = copyModel();
  try {
    truncateSync(join(dir, 'group1-shard7of7'), 1000);
    await assert.rejects(readTfjsWeights(join(dir, 'model.json')), /shards hold 25166824 bytes but the manifest's 61 tensors need 27903656 \(truncated.*group1-shard7of7=1000/);
    copyFileSync(join(pkg, 'group1-shard7of7'), join(dir, 'group1-shard7of7'));
    appendFileSync(join(dir, 'group1-shard7of7'), Buffer.alloc(8));
    await assert.rejects(readTfjsWeights(join(dir, 'model.json')), /need 27903656 \(unexpected extra data/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed model.json files are BAD_FILE with the path', async () => {
  const dir = tempDir('tfjs-bad-');
  try {
    await assert.rejects(readTfjsWeights(join(dir, 'model.json')), /model\.json: cannot read TF\.js model\.json/);
    writeFileSync(join(dir, 'model.json'), '{not json');
    await assert.rejects(readTfjsWeights(join(dir, 'model.json')), /model\.json: not valid JSON/);
    writeFileSync(join(dir, 'model.json'), '{"modelTopology":{}}');
    await assert.rejects(readTfjsWeights(join(dir, 'model.json')), /missing "weightsManifest" array/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unknown dtype, bad shape, duplicate names and unsupported quantization are rejected', async () => {
  const four = Buffer.alloc(4);
  const cases: Array<[unknown[], Buffer, RegExp]> = [
    [[{ name: 'a', shape: [1], dtype: 'complex64' }], four, /weights\[0\] \("a"\): unsupported dtype "complex64"/],
    [[{ name: 'a', shape: [-1], dtype: 'float32' }], four, /"shape" must be an array of non-negative integers/],
    [[{ name: 'a', shape: [1], dtype: 'float32' }, { name: 'a', shape: [1], dtype: 'float32' }], Buffer.alloc(8), /tensor "a" appears more than once/],
    [[{ name: 'a', shape: [1], dtype: 'float32', quantization: { dtype: 'int4' } }], four, /unsupported quantization dtype "int4"/],
    [[{ name: 'a', shape: [1], dtype: 'float32', quantization: { dtype: 'uint8' } }], four, /uint8 quantization needs numeric "scale" and "min"/],
    [[{ name: 'a', shape: [1], dtype: 'int32', quantization: { dtype: 'float16' } }], four, /quantization is only supported for float32/],
  ];
  for (const [weights, shard, message] of cases) {
    const dir = synthetic(weights, shard);
    try {
      await assert.rejects(readTfjsWeights(join(dir, 'model.json')), message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('dequantizes uint8, uint16 and float16 entries laid out back to back', async () => {
  const shard = Buffer.alloc(2 + 4 + 4 + 8);
  shard[0] = 0;
  shard[1] = 10; // uint8 [2]
  shard.writeUInt16LE(3, 2);
  shard.writeUInt16LE(65535, 4); // uint16 [2]
  shard.writeUInt16LE(0x3c00, 6); // float16 1.0
  shard.writeUInt16LE(0xc100, 8); // float16 -2.5
  shard.writeInt32LE(-7, 10);
  shard.writeFloatLE(0.5, 14);
  const dir = synthetic(
    [
      { name: 'u8', shape: [2], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
      { name: 'u16', shape: [2], dtype: 'float32', quantization: { dtype: 'uint16', scale: 2, min: 1 } },
      { name: 'f16', shape: [2], dtype: 'float32', quantization: { dtype: 'float16' } },
      { name: 'i', shape: [], dtype: 'int32' },
      { name: 'f', shape: [1, 1], dtype: 'float32' },
    ],
    shard,
  );
  try {
    const w = await readTfjsWeights(join(dir, 'model.json'));
    assert.deepEqual(Array.from(w.get('u8')!.data), [-1, 4]);
    assert.deepEqual(Array.from(w.get('u16')!.data), [7, 131071]);
    assert.deepEqual(Array.from(w.get('f16')!.data), [1, -2.5]);
    assert.deepEqual(Array.from(w.get('i')!.data), [-7]);
    assert.deepEqual(w.get('f')!.shape, [1, 1]);
    assert.deepEqual(Array.from(w.get('f')!.data), [0.5]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
