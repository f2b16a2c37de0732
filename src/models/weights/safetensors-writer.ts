/**
 * Writing safetensors files deterministically: tensors sorted by name (UTF-8 byte order), laid out
 * back to back in that order, a compact JSON header with `__metadata__` first, padded with spaces
 * to a multiple of 8 bytes as the reference implementation does. The same input always gives the
 * same bytes. The file is written to `path.tmp-<pid>` and renamed into place, so a reader never
 * sees a half-written file.
 */
import { fail } from '../../errors.js';
import { assertLittleEndianHost, bytesOf } from './dtypes.js';
import type { SourceDtype, TensorToWrite, WeightDtype } from './types.js';
import { checkTensorToWrite, writeFileAtomically } from './write-file.js';

/** Stored name and array type for each in-memory dtype the writer accepts. */
const WRITE_AS: Readonly<Record<WeightDtype, SourceDtype>> = { float32: 'F32', int64: 'I64', int32: 'I32', int8: 'I8', uint8: 'U8', bool: 'BOOL' };

/**
 * Writes `tensors` (and optional string `metadata`) to `path` as safetensors. Throws BAD_WEIGHTS
 * when a tensor's data does not match its dtype or shape, BAD_FILE when the file cannot be written.
 *
 * @example
 * ```ts
 * await writeSafetensors('head.safetensors', { 'classifier.weight': { dtype: 'float32', shape: [2, 4], data } }, { format: 'pt' });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite> | ReadonlyMap<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Promise<void> {
  assertLittleEndianHost();
  const entries = sortedEntries(tensors, path);
  const header = encodeHeader(entries, metadata, path);
  await writeFileAtomically(path, [header, ...entries.map(([, t]) => bytesOf(t.data))]);
}

/**
 * The header bytes (8-byte length + padded JSON) for already sorted entries. Exposed for tests and
 * fingerprints.
 */
export function encodeHeader(entries: ReadonlyArray<readonly [string, TensorToWrite]>, metadata: Record<string, string> | undefined, path = '<memory>'): Uint8Array {
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${encodeMetadata(metadata, path)}`);
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${WRITE_AS[t.dtype]}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Buffer.alloc(json.length + ((8 - (json.length % 8)) % 8), 0x20);
  json.copy(padded);
  const out = Buffer.alloc(8 + padded.length);
  out.writeBigUInt64LE(BigInt(padded.length), 0);
  padded.copy(out, 8);
  return out;
}

function encodeMetadata(metadata: Record<string, string>, path: string): string {
  const parts = Object.entries(metadata).map(([k, v]) => {
    if (typeof v !== 'string') fail('BAD_WEIGHTS', `${path}: metadata value for "${k}" must be a string`);
    return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
  });
  return `{${parts.join(',')}}`;
}

function sortedEntries(tensors: Record<string, TensorToWrite> | ReadonlyMap<string, TensorToWrite>, path: string): Array<[string, TensorToWrite]> {
  const list: Array<[string, TensorToWrite]> = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of list) checkTensor(name, t, path);
  return list.sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

function checkTensor(name: string, t: TensorToWrite, path: string): void {
  if (name === '__metadata__') fail('BAD_WEIGHTS', `${path}: "__metadata__" is reserved and cannot name a tensor`);
  checkTensorToWrite(name, t, path, Object.keys(WRITE_AS), 'safetensors');
}
