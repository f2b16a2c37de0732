/**
 * Hostile checkpoints (issue 12): each crafted file is refused quickly, in bounded memory, with a
 * coded error that hides no internal JS error and echoes nothing of the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { AdapterkitError } from '../../src/errors.js';
import { readPytorchStateDict, readSafetensors, readWeights } from '../../src/models/weights/index.js';
import { unpickle } from '../../src/models/weights/pickle.js';
import { craftSafetensors, legacyFile, PickleWriter, stateDictPickle, torchZip, type CraftTensor } from './craft.js';
import { tempDir } from './helpers.js';
import { cpuMsOfFailure } from '../util/cpu-time.js';

const INTERNAL = /TypeError|RangeError|SyntaxError|Maximum call stack|is not a function|Cannot read properties|Invalid (typed )?array length/;

/** Asserts `run` rejects with BAD_FILE matching `pattern`, within `ms`, hiding no internal error. */
async function refuses(run: () => Promise<unknown>, pattern: RegExp, ms = 2000): Promise<AdapterkitError> {
  const { error: err, ms: elapsed } = await cpuMsOfFailure(run);
  assert.ok(err instanceof AdapterkitError, `expected an AdapterkitError, got ${String(err)}`);
  assert.equal(err.code, 'BAD_FILE', err.message);
  assert.match(err.message, pattern);
  assert.doesNotMatch(err.message, INTERNAL);
  assert.ok(!(err.cause instanceof TypeError || err.cause instanceof RangeError), `hides ${String(err.cause)}`);
  assert.ok(elapsed < ms, `took ${elapsed.toFixed(0)} ms of CPU (limit ${ms})`);
  return err;
}

function withTemp(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const { dir, cleanup } = tempDir();
    try {
      await fn(dir);
    } finally {
      cleanup();
    }
  };
}

const F32 = (n: number): Buffer => Buffer.alloc(4 * n);
const tensor = (t: Partial<CraftTensor>): CraftTensor => ({ name: 'w', key: '0', numel: 4, shape: [4], stride: [1], ...t });

test('a LONG4 integer of 256 KiB is refused at once (it took 91 s: quadratic BigInt decode)', withTemp(async (dir) => {
  const path = join(dir, 'long.bin');
  // 60,000 bytes fits the data.pkl allowance of a small archive, so the integer itself is what is refused.
  writeFileSync(path, torchZip(new PickleWriter().proto().long4(60_000).stop().bytes()));
  await refuses(() => readPytorchStateDict(path), /a 60000-byte integer/, 1000);
  // 256 KiB: more than such an archive's data.pkl can need.
  writeFileSync(path, torchZip(new PickleWriter().proto().long4(256 * 1024).stop().bytes()));
  await refuses(() => readPytorchStateDict(path), /data\.pkl holds 262152 bytes, more than the \d+ an entry of its kind can need/, 1000);
}));

test('a zip-bombed data.pkl is refused before it is inflated (bounded memory)', withTemp(async (dir) => {
  const path = join(dir, 'bomb.bin');
  const inflated = 64 * 1024 * 1024;
  const compressed = deflateRawSync(Buffer.alloc(inflated), { level: 9 });
  writeFileSync(path, torchZip(Buffer.alloc(0), [], { deflate: true, compressed, claimedSize: inflated }));
  global.gc?.();
  const before = process.memoryUsage();
  await refuses(() => readPytorchStateDict(path), /data\.pkl holds 67108864 bytes, more than the \d+ an entry of its kind can need/);
  const after = process.memoryUsage();
  assert.ok(after.arrayBuffers - before.arrayBuffers < 32 * 1024 * 1024, `array buffers grew by ${after.arrayBuffers - before.arrayBuffers} bytes`);
  // A directory that understates the size: inflating stops at the size it claims.
  writeFileSync(path, torchZip(Buffer.alloc(0), [], { deflate: true, compressed, claimedSize: 1000 }));
  await refuses(() => readPytorchStateDict(path), /inflates to more than the 1000 bytes its directory entry says/);
}));

test('a stride-0 tensor cannot claim more elements than its storage holds (600 M elements from 494 bytes)', withTemp(async (dir) => {
  const path = join(dir, 'stride0.bin');
  writeFileSync(path, torchZip(stateDictPickle([tensor({ numel: 1, shape: [600_000_000], stride: [0] })]), [['0', F32(1)]]));
  assert.ok(readFileSync(path).length < 1000);
  await refuses(() => readPytorchStateDict(path), /tensor w: size \[600000000\] has 600000000 elements but its storage holds only 1/);
  // A storage whose persistent id claims more elements than the archive holds is refused before it is allocated.
  writeFileSync(path, torchZip(stateDictPickle([tensor({ numel: 2 ** 40, shape: [2 ** 30], stride: [1] })]), [['0', F32(4)]]));
  await refuses(() => readPytorchStateDict(path), /storage archive\/data\/0 holds 16 bytes but 1099511627776 F32 elements need/);
  // Many strided views of one storage cannot multiply it.
  const views = Array.from({ length: 200 }, (_, i) => tensor({ name: `v${i}`, numel: 4096, shape: [64, 64], stride: [1, 64] }));
  writeFileSync(path, torchZip(stateDictPickle(views), [['0', F32(4096)]]));
  await refuses(() => readPytorchStateDict(path), /strided copies of the file's tensors would hold more than twice as many elements as the file has bytes/);
}));

test('a pickle nested 100,000 deep and a dict that contains itself do not overflow the stack', withTemp(async (dir) => {
  const path = join(dir, 'deep.bin');
  const depth = 100_000;
  const deep = new PickleWriter().proto().emptyDict();
  for (let i = 0; i < depth; i++) deep.str('a').emptyDict();
  for (let i = 0; i < depth; i++) deep.setitem();
  writeFileSync(path, legacyFile(deep.stop().bytes()));
  await refuses(() => readPytorchStateDict(path), /dicts nested more than 32 deep/);

  const self = new PickleWriter().proto().emptyDict().binput(0).str('self').binget(0).setitem().stop().bytes();
  writeFileSync(path, torchZip(self));
  await refuses(() => readPytorchStateDict(path), /appears twice in the state dict \(or inside itself\)/);

  // A tensor whose size is a list nested 100,000 deep: the message describes it briefly.
  const p = new PickleWriter().proto().emptyDict().str('w');
  p.global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(4).tuple().persid().int(0);
  for (let i = 0; i < depth; i++) p.emptyList();
  for (let i = 0; i < depth - 1; i++) p.append();
  p.ints([1]).newFalse().emptyDict().tuple().reduce().setitem().stop();
  writeFileSync(path, legacyFile(p.bytes(), [['0', 4, F32(4)]]));
  const e = await refuses(() => readPytorchStateDict(path), /tensor w: size \[\[\[.*is not a list of non-negative integers/);
  assert.ok(e.message.length < 500, e.message);
}));

test('prototype names are not storage types (torch.constructor, torch.__proto__, torch.toString)', withTemp(async (dir) => {
  const path = join(dir, 'proto.bin');
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    writeFileSync(path, torchZip(stateDictPickle([tensor({ storage: name })]), [['0', F32(4)]]));
    await refuses(() => readPytorchStateDict(path), new RegExp(`refusing to load: the pickle references torch\\.${name}`));
  }
}));

test('a legacy checkpoint is bounded the same way', withTemp(async (dir) => {
  const path = join(dir, 'legacy.bin');
  // magic, protocol, sys_info, then a LONG4 bomb instead of the state dict.
  writeFileSync(path, legacyFile(new PickleWriter().proto().long4(256 * 1024).stop().bytes()));
  await refuses(() => readPytorchStateDict(path), /a 262144-byte integer/, 1000);
}));

test('a safetensors header with 400,000 entries is refused quickly (1.7 M took 23 s and 2 GB)', withTemp(async (dir) => {
  const path = join(dir, 'many.safetensors');
  const n = 400_000;
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`"t${i}":{"dtype":"U8","shape":[1],"data_offsets":[${i},${i + 1}]}`);
  writeFileSync(path, craftSafetensors(null, Buffer.alloc(n), `{${parts.join(',')}}`));
  await refuses(() => readSafetensors(path), /header: more than \d+ values/, 5000);
}));

test('duplicate keys and trailing bytes in a safetensors file are refused', withTemp(async (dir) => {
  const path = join(dir, 'dup.safetensors');
  const entry = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
  writeFileSync(path, craftSafetensors(null, F32(1), `{"a":${entry},"a":${entry}}`));
  await refuses(() => readSafetensors(path), /header is not valid JSON: key "a" appears twice/);
  writeFileSync(path, craftSafetensors(null, F32(1), `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"shape":[2]}}`));
  await refuses(() => readSafetensors(path), /key "shape" appears twice/);
  writeFileSync(path, craftSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, Buffer.concat([F32(1), Buffer.from('junk')])));
  await refuses(() => readSafetensors(path), /4 bytes follow the last tensor's data/);
  writeFileSync(path, craftSafetensors({}, Buffer.from('junk')));
  await refuses(() => readSafetensors(path), /4 bytes follow the last tensor's data/);
  // Deep nesting in the header.
  writeFileSync(path, craftSafetensors(null, Buffer.alloc(0), `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`));
  await refuses(() => readSafetensors(path), /nested more than 8 levels deep/);
}));

test('file contents are never echoed: not the first bytes of a non-checkpoint, not a header that is not JSON', withTemp(async (dir) => {
  const path = join(dir, 'secret.bin');
  writeFileSync(path, 'SECRET-hostname-1234\n');
  const e = await refuses(() => readWeights(path), /not a safetensors file or PyTorch checkpoint/);
  assert.doesNotMatch(e.message, /SECRET|5345435245/);
  writeFileSync(path, craftSafetensors(null, Buffer.alloc(0), 'SECRET-not-json'));
  const e2 = await refuses(() => readSafetensors(path), /header is not valid JSON: unexpected character \(line 1, column 1\)/);
  assert.doesNotMatch(e2.message, /SECRET/);
}));

test('a tensor pickle with a 2-GiB string length or a negative LONG4 length is refused without allocating', withTemp(async (dir) => {
  const path = join(dir, 'len.bin');
  writeFileSync(path, torchZip(new PickleWriter().proto().raw(0x58, 0xff, 0xff, 0xff, 0x7f).stop().bytes()));
  await refuses(() => readPytorchStateDict(path), /the pickle ends early/);
  writeFileSync(path, torchZip(new PickleWriter().proto().raw(0x8b, 0xff, 0xff, 0xff, 0xff).stop().bytes()));
  await refuses(() => readPytorchStateDict(path), /negative length -1/);
  // Millions of empty dicts from a few MB of pickle: the container budget stops them.
  const dicts = Buffer.concat([Buffer.from([0x80, 2]), Buffer.alloc(3_000_000, 0x7d), Buffer.from([0x2e])]);
  await refuses(async () => unpickle(dicts, 0, { findGlobal: () => null, persistentLoad: () => null }, 'dicts.pkl'), /more than 1048576 lists, tuples, dicts and objects/, 5000);
  // A data.pkl larger than its archive's entries can need is refused before it is read.
  writeFileSync(path, torchZip(dicts));
  await refuses(() => readPytorchStateDict(path), /data\.pkl holds 3000003 bytes, more than the \d+ an entry of its kind can need/);
}));
