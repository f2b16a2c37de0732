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
import { withFile } from './file-io.js';
import { readHeaderOf, readSafetensorsOf } from './safetensors-read.js';
import type { SafetensorsHeader } from './safetensors-header.js';
import type { ReadWeightsOptions, WeightTensor } from './types.js';

export { readSafetensorsOf } from './safetensors-read.js';

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
  return withFile(path, (file) => readSafetensorsOf(file, opts));
}
