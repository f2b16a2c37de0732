/**
 * PyTorch's zip checkpoint format (the torch.save default since 1.6):
 * `<prefix>/data.pkl` (the pickled state dict), `<prefix>/data/<key>` (one raw storage per key),
 * `<prefix>/version`, and optionally `<prefix>/byteorder` (`little` or `big`).
 */
import { fail } from '../../errors.js';
import { bytesOf, SOURCE_DTYPES, swapBytesInPlace } from './dtypes.js';
import type { OpenFile } from './file-io.js';
import { unpickle } from './pickle.js';
import { torchPickleHooks, type TorchStorageRef } from './torch-pickle.js';
import { buildTensors, stateDictTensors } from './torch-state-dict.js';
import type { ReadWeightsOptions, WeightArray, WeightTensor } from './types.js';
import { maxEntryContent, readZipDirectory, readZipEntry, readZipEntryInto, type ZipEntry } from './zip.js';

/** Reads a zip-format state dict from an open file. */
export async function readZipStateDict(file: OpenFile, opts: ReadWeightsOptions): Promise<Map<string, WeightTensor>> {
  const dir = await readZipDirectory(file);
  const prefix = archivePrefix(dir, file.path);
  const pickle = await readZipEntry(file, dir.get(`${prefix}data.pkl`)!, maxPickleBytes(dir.size));
  const hooks = torchPickleHooks(file.path);
  const root = unpickle(pickle, 0, hooks, `${file.path} (${prefix}data.pkl)`).value;
  const bigEndian = await isBigEndian(file, dir.get(`${prefix}byteorder`));
  const load = (ref: TorchStorageRef, tensorName: string) => loadStorage(file, dir, prefix, ref, tensorName, bigEndian);
  return buildTensors(stateDictTensors(root, file.path), load, file.path, file.size, opts);
}

/**
 * The most a state dict's data.pkl can need: a tensor's record takes about 150 bytes plus its name,
 * and every storage is an entry of the archive, so a generous allowance per entry (4 KiB, tied
 * tensors and long names included) bounds it. A larger data.pkl is refused before it is inflated.
 */
function maxPickleBytes(entries: number): number {
  return Math.min(MAX_PICKLE_BYTES, 64 * 1024 + 4096 * entries);
}

/** Upper bound on any data.pkl (several hundred thousand tensors). */
const MAX_PICKLE_BYTES = 64 * 1024 * 1024;

/** The folder holding data.pkl (`archive/`, `pytorch_model/`, ...), with its trailing slash. */
function archivePrefix(dir: Map<string, ZipEntry>, path: string): string {
  for (const name of dir.keys()) {
    const m = /^([^/]*\/)?data\.pkl$/.exec(name);
    if (m) return m[1] ?? '';
  }
  return fail('BAD_FILE', `${path}: the zip archive has no data.pkl, so it is not a PyTorch checkpoint`);
}

async function isBigEndian(file: OpenFile, entry: ZipEntry | undefined): Promise<boolean> {
  if (!entry) return false;
  const text = new TextDecoder().decode(await readZipEntry(file, entry, 64)).trim();
  if (text !== 'little' && text !== 'big') fail('BAD_FILE', `${file.path}: the byteorder entry says neither "little" nor "big"`);
  return text === 'big';
}

async function loadStorage(
  file: OpenFile,
  dir: Map<string, ZipEntry>,
  prefix: string,
  ref: TorchStorageRef,
  tensorName: string,
  bigEndian: boolean,
): Promise<WeightArray> {
  const entryName = `${prefix}data/${ref.key}`;
  const entry = dir.get(entryName);
  if (!entry) fail('BAD_FILE', `${file.path}: tensor ${tensorName}: its storage ${entryName} is missing from the archive`);
  const info = SOURCE_DTYPES[ref.dtype];
  const needed = ref.numel * info.bytes;
  // Checked before allocating: the storage must be in the file, so its size bounds the allocation.
  if (needed > maxEntryContent(file, entry)) {
    fail('BAD_FILE', `${file.path}: tensor ${tensorName}: storage ${entryName} holds ${entry.size} bytes but ${ref.numel} ${ref.dtype} elements need ${needed}`);
  }
  const raw = info.alloc(ref.numel);
  const bytes = bytesOf(raw);
  await readZipEntryInto(file, entry, bytes);
  if (bigEndian) swapBytesInPlace(bytes, info.bytes);
  return info.finish(raw);
}
