import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AdapterkitError } from '../../src/errors.js';
import { detectWeightsFormat, readPytorchStateDict, readWeights, writeTorchStateDict, type TensorToWrite, type WeightDtype, type WeightTensor } from '../../src/models/weights/index.js';
import { readBytes, withFile } from '../../src/models/weights/file-io.js';
import { readZipDirectory, readZipEntry, type ZipEntry } from '../../src/models/weights/zip.js';
import { tempDir } from './helpers.js';

const PYTHON = '/usr/bin/python3'; // Debian's, with python3-torch (not the pyenv python3 on PATH)
const run = promisify(execFile);

/** Float32 values whose bits must survive: -0, NaN with a payload, infinities, a denormal, the largest float. */
function awkwardFloats(): Float32Array {
  const bits = Uint32Array.of(0x80000000, 0x7fa00001, 0x7f800000, 0xff800000, 0x00000001, 0x7f7fffff, 0x3f800000, 0xc0490fdb);
  return new Float32Array(bits.buffer);
}

const LONG_NAME = `bert.encoder.layer.11.output.adapters.${'a_very_long_task_name_'.repeat(20)}.adapter_down.0.weight`;

/** Every dtype, a scalar, empty tensors, a 4-d shape, a long name and 1,200 small tensors. */
function sample(): Map<string, TensorToWrite> {
  const m = new Map<string, TensorToWrite>([
    ['adapter.down.weight', { dtype: 'float32', shape: [2, 4], data: awkwardFloats() }],
    ['scalar', { dtype: 'float32', shape: [], data: Float32Array.of(2.5) }],
    ['empty', { dtype: 'float32', shape: [0], data: new Float32Array(0) }],
    ['empty.rows', { dtype: 'float32', shape: [3, 0], data: new Float32Array(0) }],
    ['four.d', { dtype: 'float32', shape: [2, 1, 2, 3], data: Float32Array.from({ length: 12 }, (_, i) => i * 0.25 - 1) }],
    ['ids', { dtype: 'int64', shape: [5], data: BigInt64Array.of(-3n, 0n, 7n, 1n << 40n, -(1n << 62n)) }],
    ['mask', { dtype: 'int32', shape: [2, 2], data: Int32Array.of(1, -2, 3, 2147483647) }],
    ['signed', { dtype: 'int8', shape: [3], data: Int8Array.of(-128, 0, 127) }],
    ['bytes', { dtype: 'uint8', shape: [3], data: Uint8Array.of(0, 1, 255) }],
    ['flags', { dtype: 'bool', shape: [3], data: Uint8Array.of(1, 0, 1) }],
    [LONG_NAME, { dtype: 'float32', shape: [3], data: Float32Array.of(1, 2, 3) }],
  ]);
  for (let i = 0; i < 1200; i++) m.set(`many.${i}`, { dtype: 'float32', shape: [2], data: Float32Array.of(i, -i) });
  return m;
}

const bits = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function assertSameTensors(got: Map<string, WeightTensor>, want: Map<string, TensorToWrite>): void {
  assert.deepEqual([...got.keys()], [...want.keys()]);
  for (const [name, t] of want) {
    const g = got.get(name)!;
    assert.equal(g.dtype, t.dtype, name);
    assert.deepEqual(g.shape, [...t.shape], name);
    assert.ok(bits(g.data).equals(bits(t.data)), `${name}: bits differ`);
  }
}

async function entriesOf(path: string): Promise<ZipEntry[]> {
  return withFile(path, async (file) => [...(await readZipDirectory(file)).values()]);
}

async function entryText(path: string, name: string): Promise<string> {
  return withFile(path, async (file) => Buffer.from(await readZipEntry(file, (await readZipDirectory(file)).get(name)!)).toString('latin1'));
}

test('round trip through our reader: names in order, dtypes, shapes and the bits of every tensor', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'pytorch_adapter.bin');
    const tensors = sample();
    await writeTorchStateDict(path, tensors);
    assert.equal(await detectWeightsFormat(path), 'pytorch-zip');
    assertSameTensors(await readWeights(path), tensors);
    const some = await readPytorchStateDict(path, { select: (n) => n === 'ids' });
    assert.deepEqual([...some.keys()], ['ids']);
    assert.deepEqual([...readdirSync(dir)], ['pytorch_adapter.bin']); // the temp file was renamed away
  } finally {
    cleanup();
  }
});

test("the archive holds torch's records in torch's order, in a folder named after the file", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const one = new Map<string, TensorToWrite>([['w', { dtype: 'float32', shape: [1], data: Float32Array.of(1) }], ['b', { dtype: 'float32', shape: [0], data: new Float32Array(0) }]]);
    const path = join(dir, 'pytorch_model_head.bin');
    await writeTorchStateDict(path, one);
    const names = (await entriesOf(path)).map((e) => e.name);
    const records = ['data.pkl', '.format_version', '.storage_alignment', 'byteorder', 'data/0', 'data/1', 'version', '.data/serialization_id'];
    assert.deepEqual(names, records.map((r) => `pytorch_model_head/${r}`));
    assert.equal(await entryText(path, 'pytorch_model_head/version'), '3\n');
    assert.equal(await entryText(path, 'pytorch_model_head/byteorder'), 'little');
    assert.equal(await entryText(path, 'pytorch_model_head/.format_version'), '1');
    assert.equal(await entryText(path, 'pytorch_model_head/.storage_alignment'), '64');
    assert.match(await entryText(path, 'pytorch_model_head/.data/serialization_id'), /^\d{40}$/);
    assert.ok((await entriesOf(path)).every((e) => e.method === 0), 'every record is STORED');
    // torch names the folder "archive" where it cannot use the file name (non-ASCII path, empty stem).
    for (const name of ['adaptér.bin', '.bin']) {
      await writeTorchStateDict(join(dir, name), one);
      assert.ok((await entriesOf(join(dir, name))).every((e) => e.name.startsWith('archive/')), name);
    }
  } finally {
    cleanup();
  }
});

test("every record's data is 64-byte aligned, and records follow each other as torch's offset calculation assumes", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'aligned.bin');
    await writeTorchStateDict(path, sample());
    await withFile(path, async (file) => {
      const entries = [...(await readZipDirectory(file)).values()];
      let expectedHeader = 0;
      for (const e of entries) {
        assert.equal(e.localHeaderOffset, expectedHeader, `${e.name}: local header where the previous record ended`);
        const head = Buffer.from(await readBytes(file, e.localHeaderOffset, 30, e.name));
        const nameLen = head.readUInt16LE(26);
        const extraLen = head.readUInt16LE(28);
        const extra = Buffer.from(await readBytes(file, e.localHeaderOffset + 30 + nameLen, extraLen, e.name));
        assert.equal(extra.toString('latin1', 0, 2), 'FB', `${e.name}: padding field`);
        assert.equal(extra.readUInt16LE(2), extraLen - 4);
        const dataAt = e.localHeaderOffset + 30 + nameLen + extraLen;
        assert.equal(dataAt % 64, 0, `${e.name} data at ${dataAt}`);
        // miniz follows each non-empty record with a 16-byte data descriptor; torch's _get_offset counts on it.
        expectedHeader = dataAt + e.size + (e.size > 0 ? 16 : 0);
      }
    });
  } finally {
    cleanup();
  }
});

test('the same tensors give the same bytes', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await writeTorchStateDict(join(dir, 'a.bin'), sample());
    const first = readFileSync(join(dir, 'a.bin'));
    await writeTorchStateDict(join(dir, 'a.bin'), sample());
    assert.ok(readFileSync(join(dir, 'a.bin')).equals(first));
  } finally {
    cleanup();
  }
});

test('more than 65,535 records: readers find the central directory through the zip64 end record', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'wide.bin');
    const tensors = new Map<string, TensorToWrite>();
    for (let i = 0; i < 66_000; i++) tensors.set(`t${i}`, { dtype: 'float32', shape: [], data: Float32Array.of(i) });
    await writeTorchStateDict(path, tensors);
    const tail = readFileSync(path).subarray(-22);
    assert.equal(tail.readUInt16LE(10), 0xffff, 'the classic end record only says "see zip64"');
    assert.equal((await entriesOf(path)).length, 66_000 + 6);
    const few = new Set(['t0', 't65535', 't65999']); // reading all 66,000 storages one by one takes seconds
    const back = await readPytorchStateDict(path, { select: (n) => few.has(n) });
    assertSameTensors(back, new Map([...few].map((n) => [n, tensors.get(n)!])));
  } finally {
    cleanup();
  }
});

test('bad tensors are refused with the file, tensor and problem named, before anything is written', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'bad.bin');
    const attempt = (t: TensorToWrite) => writeTorchStateDict(path, new Map([['ok', { dtype: 'float32', shape: [1], data: Float32Array.of(1) }], ['x.weight', t]]));
    const refused = (pattern: RegExp) => (e: unknown) => {
      assert.ok(e instanceof AdapterkitError);
      assert.equal(e.code, 'BAD_WEIGHTS');
      assert.match(e.message, pattern);
      return true;
    };
    await assert.rejects(attempt({ dtype: 'float16' as WeightDtype, shape: [1], data: Float32Array.of(1) }),
      refused(/bad\.bin: tensor x\.weight: unsupported dtype float16 \(a PyTorch file can be written from float32, int64, int32, int8, uint8, bool\)/));
    await assert.rejects(attempt({ dtype: 'float32', shape: [2], data: Int32Array.of(1, 2) }), refused(/tensor x\.weight: dtype float32 does not match its Int32Array data/));
    await assert.rejects(attempt({ dtype: 'float32', shape: [2, 2], data: Float32Array.of(1, 2, 3) }), refused(/tensor x\.weight: shape \[2, 2\] holds 4 elements but the data has 3/));
    await assert.rejects(attempt({ dtype: 'float32', shape: [-1], data: Float32Array.of(1) }), refused(/tensor x\.weight: shape \[-1\] is not a list of non-negative integers/));
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    cleanup();
  }
});

test('a path that cannot be written fails with BAD_FILE, leaving the old file and no temp file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const t = new Map<string, TensorToWrite>([['w', { dtype: 'float32', shape: [1], data: Float32Array.of(1) }]]);
    await assert.rejects(writeTorchStateDict(join(dir, 'missing', 'x.bin'), t), (e: unknown) => {
      assert.ok(e instanceof AdapterkitError);
      assert.equal(e.code, 'BAD_FILE');
      assert.match(e.message, /missing\/x\.bin: cannot write: ENOENT/);
      return true;
    });
    // A directory in the way of the rename: the temp file is removed again.
    const blocked = join(dir, 'blocked.bin');
    writeFileSync(join(dir, 'keep'), 'x');
    mkdirSync(join(blocked, 'inside'), { recursive: true });
    await assert.rejects(writeTorchStateDict(blocked, t), /blocked\.bin: cannot write: /);
    assert.deepEqual(readdirSync(dir).sort(), ['blocked.bin', 'keep']);
  } finally {
    cleanup();
  }
});

// ------------------------------------------------------------------------------- real PyTorch

/** Why the real-torch tests cannot run here, or false when they can. */
const torchMissing: Promise<string | false> = (async () => {
  if (!existsSync(PYTHON)) return `${PYTHON} does not exist (CI installs Debian's python3-torch)`;
  try {
    await run(PYTHON, ['-c', 'import torch, numpy'], { timeout: 120_000 });
    return false;
  } catch (e) {
    const detail = String((e as { stderr?: string }).stderr ?? e).trim().split('\n').at(-1);
    return `${PYTHON} cannot import torch (apt-get install python3-torch libopenblas0-pthread): ${detail}`;
  }
})();

/**
 * torch.load's view of our file, plus torch.save's own file for the tensors it loaded: their names,
 * dtypes, shapes, strides and raw bytes, and the data.pkl torch wrote.
 */
const TORCH_SCRIPT = `
import base64, json, sys, zipfile, torch
ours, theirs = sys.argv[1], sys.argv[2]
sd = torch.load(ours, map_location="cpu", weights_only=True)
torch.save(sd, theirs)
with zipfile.ZipFile(theirs) as z:
    pkl = z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))
with zipfile.ZipFile(ours) as z:
    bad_crc = z.testzip()
print(json.dumps({
    "type": type(sd).__name__,
    "bad_crc": bad_crc,
    "tensors": [[k, str(v.dtype), list(v.shape), list(v.stride()), v.is_contiguous(), v.requires_grad,
                 base64.b64encode(v.numpy().tobytes()).decode()] for k, v in sd.items()],
    "torch_data_pkl": base64.b64encode(pkl).decode(),
}))
`;

interface TorchView {
  type: string;
  bad_crc: string | null;
  tensors: Array<[string, string, number[], number[], boolean, boolean, string]>;
  torch_data_pkl: string;
}

const TORCH_DTYPE: Readonly<Record<WeightDtype, string>> = {
  float32: 'torch.float32', int64: 'torch.int64', int32: 'torch.int32', int8: 'torch.int8', uint8: 'torch.uint8', bool: 'torch.bool',
};

/** Writes sample() with our writer, has torch load it and save it again; one Python run for both tests. */
let torchRun: Promise<{ view: TorchView; ours: string; theirs: string; cleanup: () => void }> | undefined;
function withTorch(): NonNullable<typeof torchRun> {
  torchRun ??= (async () => {
    const { dir, cleanup } = tempDir();
    const ours = join(dir, 'pytorch_adapter.bin');
    const theirs = join(dir, 'torch_saved.bin');
    await writeTorchStateDict(ours, sample());
    const { stdout } = await run(PYTHON, ['-c', TORCH_SCRIPT, ours, theirs], { timeout: 300_000, maxBuffer: 64 << 20 });
    return { view: JSON.parse(stdout) as TorchView, ours, theirs, cleanup };
  })();
  return torchRun;
}
after(async () => (await torchRun?.catch(() => undefined))?.cleanup());

test('real torch: torch.load(weights_only=True) reads what we wrote, bit for bit', { timeout: 300_000 }, async (t) => {
  const missing = await torchMissing;
  if (missing) return t.skip(`skipped because ${missing}`);
  const { view } = await withTorch();
  assert.equal(view.type, 'OrderedDict');
  assert.equal(view.bad_crc, null, 'zipfile.testzip() finds no CRC error');
  const want = sample();
  assert.deepEqual(view.tensors.map(([name]) => name), [...want.keys()]);
  for (const [name, dtype, shape, , contiguous, requiresGrad, b64] of view.tensors) {
    const w = want.get(name)!;
    assert.equal(dtype, TORCH_DTYPE[w.dtype], name);
    assert.deepEqual(shape, [...w.shape], name);
    assert.ok(contiguous, `${name} is contiguous`);
    assert.equal(requiresGrad, false, name);
    assert.ok(Buffer.from(b64, 'base64').equals(bits(w.data)), `${name}: torch holds other bits`);
  }
});

test("real torch: torch.save of the same dict writes our data.pkl byte for byte, and our reader reads torch's file", { timeout: 300_000 }, async (t) => {
  const missing = await torchMissing;
  if (missing) return t.skip(`skipped because ${missing}`);
  const { ours, theirs, view } = await withTorch();
  const oursPkl = await withFile(ours, async (file) => readZipEntry(file, (await readZipDirectory(file)).get('pytorch_adapter/data.pkl')!));
  assert.ok(Buffer.from(view.torch_data_pkl, 'base64').equals(Buffer.from(oursPkl)), 'data.pkl differs from torch.save');
  assertSameTensors(await readPytorchStateDict(theirs), sample());
});
