/**
 * Reading safetensors from an open file (on disk, or bytes in memory: {@link bytesFile}), with no
 * file system access of its own; safetensors.ts opens files on disk.
 */
import { assertLittleEndianHost, bytesOf, numelOf, SOURCE_DTYPES } from './dtypes.js';
import { readBytes, readExactly, type OpenFile } from './open-file.js';
import { headerLength, parseHeader, type SafetensorsEntry, type SafetensorsHeader } from './safetensors-header.js';
import type { ReadWeightsOptions, WeightTensor } from './types.js';

/**
 * The tensors of an open safetensors file (all, or those `opts.select` accepts), in the order their
 * data appears; BAD_FILE naming the file and tensor for malformed, inconsistent or truncated content.
 */
export async function readSafetensorsOf(file: OpenFile, opts: ReadWeightsOptions = {}): Promise<Map<string, WeightTensor>> {
  assertLittleEndianHost();
  const header = await readHeaderOf(file);
  const out = new Map<string, WeightTensor>();
  for (const entry of header.tensors) {
    if (opts.select && !opts.select(entry.name)) continue;
    out.set(entry.name, await readTensor(file, header.dataStart, entry));
  }
  return out;
}

/** The header of an open safetensors file. */
export async function readHeaderOf(file: OpenFile): Promise<SafetensorsHeader> {
  const prefix = await readBytes(file, 0, Math.min(8, file.size), `${file.path}: header length`);
  const n = headerLength(prefix, file.path, file.size);
  const json = await readBytes(file, 8, n, `${file.path}: header`);
  return parseHeader(json, file.path, file.size);
}

async function readTensor(file: OpenFile, dataStart: number, entry: SafetensorsEntry): Promise<WeightTensor> {
  const info = SOURCE_DTYPES[entry.sourceDtype];
  const raw = info.alloc(numelOf(entry.shape));
  await readExactly(file, bytesOf(raw), dataStart + entry.begin, `${file.path}: tensor ${entry.name}`);
  return { name: entry.name, dtype: entry.dtype, sourceDtype: entry.sourceDtype, shape: [...entry.shape], data: info.finish(raw) };
}
