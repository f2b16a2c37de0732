/**
 * Reading PyTorch `pytorch_model.bin` / `.pt` state dicts without executing any code: the pickle is
 * decoded by a restricted unpickler that only knows the names a state dict uses (see
 * torch-pickle.ts), and storages are read from the file straight into typed arrays.
 *
 * @example
 * ```ts
 * const weights = await readPytorchStateDict('pytorch_model.bin');
 * weights.get('bert.embeddings.word_embeddings.weight')?.shape; // [30522, 768]
 * ```
 */
import { fail } from '../../errors.js';
import { assertLittleEndianHost } from './dtypes.js';
import { readBytes, withFile } from './file-io.js';
import { readLegacyStateDict } from './pytorch-legacy.js';
import { readZipStateDict } from './pytorch-zip.js';
import type { ReadWeightsOptions, WeightTensor } from './types.js';

/**
 * Reads the tensors of a PyTorch state dict (zip format, or the legacy format of torch < 1.6), in
 * the dict's order. F16, BF16 and F64 become float32. Contiguous tensors are views of their
 * storage, so tied weights share memory; strided tensors (e.g. a saved transpose) are copied into
 * row-major order. Throws BAD_FILE naming the file (and tensor, where known) for truncated or
 * corrupt files, missing storages, and pickles that reference anything outside the allow-list.
 */
export async function readPytorchStateDict(path: string, opts: ReadWeightsOptions = {}): Promise<Map<string, WeightTensor>> {
  assertLittleEndianHost();
  return withFile(path, async (file) => {
    const magic = await readBytes(file, 0, Math.min(4, file.size), `${path}: first bytes`);
    if (isZipMagic(magic)) return readZipStateDict(file, opts);
    if (magic[0] === 0x80) return readLegacyStateDict(file, opts);
    return fail('BAD_FILE', `${path}: not a PyTorch checkpoint (neither a zip archive nor a pickle)`);
  });
}

/** True for the bytes a zip archive starts with (`PK\x03\x04`, or `PK\x05\x06` when empty). */
export function isZipMagic(b: Uint8Array): boolean {
  return b[0] === 0x50 && b[1] === 0x4b && ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6));
}
