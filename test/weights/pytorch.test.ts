import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterkitError } from '../../src/errors.js';
import { detectWeightsFormat, readPytorchStateDict, readWeights, writeSafetensors } from '../../src/models/weights/index.js';
import { withFile } from '../../src/models/weights/file-io.js';
import { readZipDirectory, readZipEntry } from '../../src/models/weights/zip.js';
import { assertTensor, expected, fixture, makeZip, tempDir } from './helpers.js';

const ZIP = fixture('state_dict.bin');

async function zipFiles(path: string): Promise<Array<[string, Uint8Array]>> {
  return withFile(path, async (file) => {
    const dir = await readZipDirectory(file);
    const out: Array<[string, Uint8Array]> = [];
    for (const entry of dir.values()) out.push([entry.name, await readZipEntry(file, entry)]);
    return out;
  });
}

/** Writes the good zip fixture with `edit` applied to its entries; returns the new path. */
async function editedZip(dir: string, name: string, edit: (files: Array<[string, Uint8Array]>) => Array<[string, Uint8Array]>): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, makeZip(edit(await zipFiles(ZIP))));
  return path;
}

for (const [label, file] of [['zip', 'state_dict.bin'], ['legacy', 'state_dict_legacy.bin'], ['deflated zip', 'state_dict_deflated.bin']] as const) {
  test(`reads a ${label} state dict exactly as PyTorch holds it`, async () => {
    const weights = await readPytorchStateDict(fixture(file));
    assert.deepEqual([...weights.keys()], expected.state_dict_order);
    for (const [name, want] of Object.entries(expected.state_dict)) assertTensor(weights.get(name), want, name);
  });
}

test('tied weights share one storage; strided tensors are copied contiguously', async () => {
  const weights = await readPytorchStateDict(ZIP);
  assert.equal(weights.get('tied.a')!.data.buffer, weights.get('tied.b')!.data.buffer);
  const transposed = weights.get('transposed')!;
  assert.deepEqual(transposed.shape, [4, 3]);
  assert.equal(transposed.data.byteOffset, 0);
  assert.equal(transposed.data.buffer.byteLength, 12 * 4);
  assert.equal(weights.get('slice')!.data.byteOffset, 3 * 4); // a view at storage offset 3
});

test('select loads only the storages of the chosen tensors', async () => {
  const { dir, cleanup } = tempDir();
  try {
    // Drop the storage of f32: selecting other tensors still works, selecting f32 fails.
    const path = await editedZip(dir, 'partial.bin', (files) => files.filter(([n]) => n !== 'state_dict/data/2'));
    const some = await readPytorchStateDict(path, { select: (n) => n.startsWith('tied') || n === 'i64' });
    assert.deepEqual([...some.keys()], ['i64', 'tied.a', 'tied.b']);
    await assert.rejects(readPytorchStateDict(path), /partial\.bin: tensor f32: its storage state_dict\/data\/2 is missing from the archive/);
  } finally {
    cleanup();
  }
});

test('pickles that reference anything outside the allow-list are refused, zip or legacy', async () => {
  for (const name of ['evil.bin', 'evil_legacy.bin']) {
    await assert.rejects(readWeights(fixture(name)), (e: unknown) => {
      assert.ok(e instanceof AdapterkitError);
      assert.equal(e.code, 'BAD_FILE');
      assert.ok(e.message.startsWith(`${fixture(name)}: refusing to load: the pickle references os.system`), e.message);
      return true;
    });
  }
});

test('broken archives fail with the file (and tensor) named', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const good = readFileSync(ZIP);
    const cut = join(dir, 'cut.bin');
    writeFileSync(cut, good.subarray(0, good.length >> 1));
    await assert.rejects(readPytorchStateDict(cut), /cut\.bin: zip end-of-central-directory record not found \(truncated/);

    const noPkl = await editedZip(dir, 'nopkl.bin', (f) => f.filter(([n]) => !n.endsWith('data.pkl')));
    await assert.rejects(readPytorchStateDict(noPkl), /nopkl\.bin: the zip archive has no data\.pkl/);

    const short = await editedZip(dir, 'short.bin', (f) => f.map(([n, d]) => [n, n === 'state_dict/data/2' ? d.subarray(0, 4) : d]));
    await assert.rejects(readPytorchStateDict(short), /short\.bin: tensor f32: storage state_dict\/data\/2 holds 4 bytes but 12 F32 elements need 48/);

    const pkl = (bytes: Uint8Array) => (f: Array<[string, Uint8Array]>) => f.map(([n, d]): [string, Uint8Array] => [n, n.endsWith('data.pkl') ? bytes : d]);
    const good_pkl = (await zipFiles(ZIP)).find(([n]) => n.endsWith('data.pkl'))![1];
    const truncated = await editedZip(dir, 'trunc.bin', pkl(good_pkl.subarray(0, 300)));
    await assert.rejects(readPytorchStateDict(truncated), /trunc\.bin \(state_dict\/data\.pkl\): the pickle ends early/);
    const garbage = await editedZip(dir, 'garbage.bin', pkl(Uint8Array.of(0x80, 0x02, 0xff)));
    await assert.rejects(readPytorchStateDict(garbage), /garbage\.bin \(state_dict\/data\.pkl\): corrupt pickle at byte 2: unsupported opcode 0xff/);
    const list = await editedZip(dir, 'list.bin', pkl(Uint8Array.of(0x80, 0x02, 0x5d, 0x2e)));
    await assert.rejects(readPytorchStateDict(list), /list\.bin: the pickle holds a list or tuple, not a state dict/);
  } finally {
    cleanup();
  }
});

test('a truncated legacy file and a non-checkpoint are refused', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const good = readFileSync(fixture('state_dict_legacy.bin'));
    const cut = join(dir, 'legacy-cut.bin');
    writeFileSync(cut, good.subarray(0, good.length - 10));
    await assert.rejects(readPytorchStateDict(cut), /legacy-cut\.bin: .*truncated/);
    writeFileSync(cut, good.subarray(0, 1000));
    await assert.rejects(readPytorchStateDict(cut), /legacy-cut\.bin: the pickle ends early/);
    await assert.rejects(readPytorchStateDict(fixture('plain.safetensors')), /plain\.safetensors: not a PyTorch checkpoint/);
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'hello');
    // The message does not echo the file's bytes (they could be any file's).
    await assert.rejects(readWeights(text), (e: Error) => /notes\.txt: not a safetensors file or PyTorch checkpoint/.test(e.message) && !/68656c6c6f|hello/.test(e.message));
  } finally {
    cleanup();
  }
});

test('detectWeightsFormat tells the three formats apart', async () => {
  assert.equal(await detectWeightsFormat(ZIP), 'pytorch-zip');
  assert.equal(await detectWeightsFormat(fixture('state_dict_legacy.bin')), 'pytorch-legacy');
  assert.equal(await detectWeightsFormat(fixture('mixed.safetensors')), 'safetensors');
});

test('a safetensors file whose header length begins like a pickle marker (80 02 ...) is still safetensors', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'x.safetensors');
    // a name long enough that the JSON header is 640 bytes: its u64 length starts 80 02
    let name = 'w';
    for (let i = 0; i < 1000; i++) {
      await writeSafetensors(path, new Map([[name, { dtype: 'float32' as const, shape: [1], data: new Float32Array([1]) }]]));
      const head = readFileSync(path).subarray(0, 2);
      if (head[0] === 0x80 && head[1] === 0x02) break;
      name += 'w';
    }
    assert.deepEqual([...readFileSync(path).subarray(0, 2)], [0x80, 0x02]);
    assert.equal(await detectWeightsFormat(path), 'safetensors');
    assert.deepEqual([...(await readWeights(path)).keys()], [name]);
  } finally {
    cleanup();
  }
});

test('a big-endian zip checkpoint (byteorder entry) is byte-swapped', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const swap = (d: Uint8Array): Uint8Array => {
      const out = Uint8Array.from(d);
      for (let i = 0; i < out.length; i += 4) out.subarray(i, i + 4).reverse();
      return out;
    };
    const path = await editedZip(dir, 'be.bin', (f) => [
      ...f.map(([n, d]): [string, Uint8Array] => [n, n === 'state_dict/data/2' ? swap(d) : d]),
      ['state_dict/byteorder', Buffer.from('big')],
    ]);
    const weights = await readPytorchStateDict(path, { select: (n) => n === 'f32' });
    assertTensor(weights.get('f32'), expected.state_dict['f32']!, 'f32');
  } finally {
    cleanup();
  }
});
