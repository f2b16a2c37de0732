/**
 * Checkpoint weight readers and the writers (safetensors, and PyTorch `torch.save` files).
 *
 * `readWeights` picks the reader from the file's first bytes, so callers need not care whether a
 * checkpoint is safetensors or a PyTorch state dict.
 *
 * @example
 * ```ts
 * import { readWeights } from './models/weights/index.js';
 * const w = await readWeights('model.safetensors', { select: (n) => n.startsWith('bert.') });
 * ```
 */
import { fail } from '../../errors.js';
import { readBytes, withFile } from './file-io.js';
import { isZipMagic, readPytorchStateDict } from './pytorch.js';
import { readSafetensors } from './safetensors.js';
import type { ReadWeightsOptions, WeightTensor } from './types.js';

export type { ReadWeightsOptions, SourceDtype, TensorToWrite, WeightArray, WeightDtype, WeightTensor } from './types.js';
export { readSafetensors, readSafetensorsHeader, type SafetensorsEntry, type SafetensorsHeader } from './safetensors.js';
export { writeSafetensors } from './safetensors-writer.js';
export { writeTorchStateDict } from './torch-writer.js';
export { readPytorchStateDict } from './pytorch.js';
export { halfBitsToFloatBits, halfToFloat32, bfloat16ToFloat32 } from './half.js';

/** The on-disk formats {@link readWeights} recognises. */
export type WeightsFormat = 'safetensors' | 'pytorch-zip' | 'pytorch-legacy';

/** Tells a checkpoint's format from its first bytes. Throws BAD_FILE for anything else. */
export async function detectWeightsFormat(path: string): Promise<WeightsFormat> {
  return withFile(path, async (file) => {
    const head = await readBytes(file, 0, Math.min(9, file.size), `${path}: first bytes`);
    if (isZipMagic(head)) return 'pytorch-zip';
    // safetensors first: its u64 header length can start with the bytes of a pickle protocol
    // marker (a 640-byte header is 80 02 00 …); a legacy torch file's 9th byte is never '{'.
    if (head.length === 9 && head[8] === 0x7b) return 'safetensors'; // u64 length, then '{'
    if (head[0] === 0x80 && (head[1] ?? 0) >= 2 && (head[1] ?? 0) <= 5) return 'pytorch-legacy';
    // The bytes themselves are not shown: the file may be anything (a shard path can point anywhere).
    return fail('BAD_FILE', `${path}: not a safetensors file or PyTorch checkpoint (${file.size === 0 ? 'empty' : 'its first bytes match none of them'})`);
  });
}

/** Reads any supported checkpoint; see {@link readSafetensors} and {@link readPytorchStateDict}. */
export async function readWeights(path: string, opts: ReadWeightsOptions = {}): Promise<Map<string, WeightTensor>> {
  const format = await detectWeightsFormat(path);
  return format === 'safetensors' ? readSafetensors(path, opts) : readPytorchStateDict(path, opts);
}
