/**
 * PyTorch's legacy checkpoint format (torch.save with `_use_new_zipfile_serialization=False`, and
 * every file written before 1.6): five pickles back to back — magic number, protocol version,
 * sys_info, the state dict, the list of storage keys — then, for each key in that order, an 8-byte
 * little-endian element count followed by the storage's raw bytes.
 */
import { fail } from '../../errors.js';
import { describeValue, truncateText } from '../../util/describe.js';
import { bytesOf, SOURCE_DTYPES } from './dtypes.js';
import { readBytes, readExactly, type OpenFile } from './file-io.js';
import { PickleTruncatedError, unpickle, type PickleHooks } from './pickle.js';
import { torchPickleHooks, type TorchStorageRef } from './torch-pickle.js';
import { buildTensors, stateDictTensors } from './torch-state-dict.js';
import type { ReadWeightsOptions, WeightArray, WeightTensor } from './types.js';

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
const FIRST_CHUNK = 1 << 20;
/** The five pickles must end within this many bytes (a state dict's pickle is a few MB at most). */
const MAX_PICKLE_BYTES = 64 * 1024 * 1024;

/** Reads a legacy-format state dict from an open file. */
export async function readLegacyStateDict(file: OpenFile, opts: ReadWeightsOptions): Promise<Map<string, WeightTensor>> {
  const hooks = torchPickleHooks(file.path);
  const { root, keys, end } = await readPickles(file, hooks);
  const offsets = await storageOffsets(file, keys, hooks.storages, end);
  const load = async (ref: TorchStorageRef, tensorName: string): Promise<WeightArray> => {
    const at = offsets.get(ref.key);
    if (at === undefined) fail('BAD_FILE', `${file.path}: tensor ${tensorName}: storage ${ref.key} is not in the file's storage list`);
    const info = SOURCE_DTYPES[ref.dtype];
    const raw = info.alloc(at.numel);
    await readExactly(file, bytesOf(raw), at.position, `${file.path}: tensor ${tensorName} (storage ${ref.key})`);
    return info.finish(raw);
  };
  return buildTensors(stateDictTensors(root, file.path), load, file.path, file.size, opts);
}

/** Decodes the five leading pickles, reading more of the file until they fit. */
async function readPickles(file: OpenFile, hooks: PickleHooks): Promise<{ root: unknown; keys: string[]; end: number }> {
  const limit = Math.min(MAX_PICKLE_BYTES, file.size);
  for (let length = Math.min(FIRST_CHUNK, limit); ; length = Math.min(length * 4, limit)) {
    const bytes = await readBytes(file, 0, length, `${file.path}: legacy header`);
    try {
      return decodePickles(bytes, hooks, file.path);
    } catch (e) {
      if (!(e instanceof PickleTruncatedError) || length === limit) {
        if (e instanceof PickleTruncatedError && limit < file.size) {
          fail('BAD_FILE', `${file.path}: the legacy header pickles do not end within ${MAX_PICKLE_BYTES} bytes; far more than a state dict needs`);
        }
        throw e;
      }
    }
  }
}

function decodePickles(bytes: Uint8Array, hooks: PickleHooks, path: string): { root: unknown; keys: string[]; end: number } {
  const plain: PickleHooks = {
    findGlobal: (m, n) => fail('BAD_FILE', `${path}: refusing to load: the pickle references ${truncateText(`${m}.${n}`)}, which a weights file should not contain`),
    persistentLoad: () => fail('BAD_FILE', `${path}: unexpected persistent id in the legacy header`),
  };
  const magic = unpickle(bytes, 0, plain, path);
  if (magic.value !== LEGACY_MAGIC) fail('BAD_FILE', `${path}: not a PyTorch checkpoint (legacy magic number missing)`);
  const protocol = unpickle(bytes, magic.end, plain, path);
  if (protocol.value !== LEGACY_PROTOCOL) fail('BAD_FILE', `${path}: unsupported legacy protocol version ${String(protocol.value)}`);
  const sysInfo = unpickle(bytes, protocol.end, plain, path);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    fail('BAD_FILE', `${path}: big-endian legacy checkpoints are not supported`);
  }
  const root = unpickle(bytes, sysInfo.end, hooks, path);
  const keys = unpickle(bytes, root.end, plain, `${path} (storage key list)`);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) fail('BAD_FILE', `${path}: the storage key list is malformed`);
  return { root: root.value, keys: keys.value as string[], end: keys.end };
}

/** Walks the storage records after the pickles: key -> (data position, element count). */
async function storageOffsets(
  file: OpenFile,
  keys: readonly string[],
  storages: ReadonlyMap<string, TorchStorageRef>,
  start: number,
): Promise<Map<string, { position: number; numel: number }>> {
  const out = new Map<string, { position: number; numel: number }>();
  if (keys.length * 8 > file.size - start) fail('BAD_FILE', `${file.path}: the file is too short for the ${keys.length} storages its key list names (truncated?)`);
  let position = start;
  for (const key of keys) {
    const ref = storages.get(key);
    if (!ref) fail('BAD_FILE', `${file.path}: storage ${describeValue(key)} is listed but no tensor describes its type`);
    if (out.has(key)) fail('BAD_FILE', `${file.path}: storage ${describeValue(key)} is listed twice`);
    const count = await readBytes(file, position, 8, `${file.path}: storage ${key} (element count)`);
    const numel = Number(new DataView(count.buffer).getBigUint64(0, true));
    if (numel < ref.numel) fail('BAD_FILE', `${file.path}: storage ${key} holds ${numel} elements but tensors need ${ref.numel}`);
    out.set(key, { position: position + 8, numel });
    position += 8 + numel * SOURCE_DTYPES[ref.dtype].bytes;
    if (position > file.size) fail('BAD_FILE', `${file.path}: storage ${key} ends at byte ${position} but the file has only ${file.size} bytes (truncated?)`);
  }
  return out;
}
