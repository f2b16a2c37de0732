/**
 * Reading safetensors files. Both readers are async and never load the whole file: the header is
 * read first, then each selected tensor is read from its offset straight into its own typed array
 * (float32, int64, int32, int8, uint8 and bool data are copied exactly once; F16, BF16, F64, I16
 * and U16 are read once and then widened).
 *
 * @example
 * ```ts
 * const weights = await readSafetensors('adapter.safetensors');
 * weights.get('bert.encoder.layer.0.output.adapters.a.adapter_up.weight');
 * // { name: '...', dtype: 'float32', sourceDtype: 'F32', shape: [768, 64], data: Float32Array(49152) }
 * ```
 */
import { assertLittleEndianHost, bytesOf, numelOf, SOURCE_DTYPES } from './dtypes.js';
import { readBytes, readExactly, withFile, type OpenFile } from './file-io.js';
import { headerLength, parseHeader, type SafetensorsEntry, type SafetensorsHeader } from './safetensors-header.js';
import type { ReadWeightsOptions, WeightTensor } from './types.js';

export type { SafetensorsEntry, SafetensorsHeader } from './safetensors-header.js';

/**
 * Reads only the header: names, dtypes, shapes, offsets and `__metadata__`. Cheap even for a
 * multi-gigabyte file; meant for `info` commands and fingerprints. Throws BAD_FILE for a malformed
 * or truncated header.
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  return withFile(path, (file) => readHeaderOf(file));
}

/**
 * Reads the tensors of a safetensors file (all of them, or those `opts.select` accepts), in the
 * order their data appears in the file. Throws BAD_FILE naming the file and tensor for any malformed, inconsistent or truncated
 * content.
 */
export async function readSafetensors(path: string, opts: ReadWeightsOptions = {}): Promise<Map<string, WeightTensor>> {
  assertLittleEndianHost();
  return withFile(path, async (file) => {
    const header = await readHeaderOf(file);
    const out = new Map<string, WeightTensor>();
    for (const entry of header.tensors) {
      if (opts.select && !opts.select(entry.name)) continue;
      out.set(entry.name, await readTensor(file, header.dataStart, entry));
    }
    return out;
  });
}

async function readHeaderOf(file: OpenFile): Promise<SafetensorsHeader> {
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
