/**
 * Parsing and validation of a safetensors header: `u64 little-endian N`, then `N` bytes of JSON
 * `{ "__metadata__"?: {string: string}, "<name>": { dtype, shape, data_offsets: [begin, end] } }`,
 * then the data region the offsets point into.
 */
import { fail } from '../../errors.js';
import { describeValue, truncateText } from '../../util/describe.js';
import { isJsonObject, parseJsonText } from '../../util/json-text.js';
import { isSourceDtype, numelOf, SOURCE_DTYPES } from './dtypes.js';
import { MAX_DIMS } from './strided.js';
import type { SourceDtype, WeightDtype } from './types.js';

/** Largest header accepted (the reference implementation's limit too). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/**
 * Most tensors one file may describe: far above any checkpoint shard (a few thousand), low enough
 * that a hostile header costs well under a second and a few hundred MB to refuse. The JSON reader
 * stops at {@link MAX_HEADER_VALUES} values, so a header with millions of entries is never built.
 */
export const MAX_TENSORS = 1 << 17;
const MAX_HEADER_VALUES = 16 * MAX_TENSORS;

/** One tensor as the header describes it; offsets are relative to the data region. */
export interface SafetensorsEntry {
  name: string;
  sourceDtype: SourceDtype;
  dtype: WeightDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Everything a safetensors header says, read without touching the tensor data. */
export interface SafetensorsHeader {
  path: string;
  /** Byte position where the data region starts (8 + header length). */
  dataStart: number;
  /** Size of the data region in bytes. */
  dataBytes: number;
  /** Tensors in the order their data appears in the file. */
  tensors: SafetensorsEntry[];
  /** The `__metadata__` object, if the file has one. */
  metadata: Record<string, string> | undefined;
}

/** Header length from the first 8 bytes, checked against the file size. */
export function headerLength(prefix: Uint8Array, path: string, fileSize: number): number {
  if (fileSize < 8) fail('BAD_FILE', `${path}: too short for a safetensors file (${fileSize} bytes)`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileSize - 8)) {
    fail('BAD_FILE', `${path}: header length ${n} is larger than the rest of the file (${fileSize - 8} bytes): truncated or not a safetensors file`);
  }
  if (n > BigInt(MAX_HEADER_BYTES)) fail('BAD_FILE', `${path}: header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n < 2n) fail('BAD_FILE', `${path}: header length ${n} is too small to hold a JSON object`);
  return Number(n);
}

/** Parses and validates the JSON header bytes. */
export function parseHeader(json: Uint8Array, path: string, fileSize: number): SafetensorsHeader {
  const dataStart = 8 + json.length;
  const dataBytes = fileSize - dataStart;
  const root = parseJsonObject(json, path);
  let metadata: Record<string, string> | undefined;
  const tensors: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(root)) {
    if (name === '__metadata__') metadata = parseMetadata(value, path);
    else tensors.push(parseEntry(name, value, path, dataBytes));
  }
  if (tensors.length > MAX_TENSORS) fail('BAD_FILE', `${path}: the header lists ${tensors.length} tensors; at most ${MAX_TENSORS} are supported`);
  checkNoOverlap(tensors, path);
  // JavaScript objects cannot keep the file's key order (integer-like keys move first), so list
  // tensors in the order of their data, which is the writer's order.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const end = tensors.reduce((m, t) => Math.max(m, t.end), 0);
  if (end !== dataBytes) {
    fail('BAD_FILE', `${path}: ${dataBytes - end} bytes follow the last tensor's data (the data region is ${dataBytes} bytes, the tensors end at ${end}): not a safetensors file as written, or corrupt`);
  }
  return { path, dataStart, dataBytes, tensors, metadata };
}

function parseJsonObject(json: Uint8Array, path: string): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    fail('BAD_FILE', `${path}: header is not valid UTF-8`);
  }
  // Duplicate keys are refused (JSON.parse would keep the last one silently), nesting is bounded.
  const root = parseJsonText(text, `${path}: header is not valid JSON`, { maxDepth: 8, maxValues: MAX_HEADER_VALUES, name: `${path}: header` });
  if (!isJsonObject(root)) fail('BAD_FILE', `${path}: header JSON is not an object`);
  return root;
}

function parseMetadata(value: unknown, path: string): Record<string, string> {
  if (!isJsonObject(value)) fail('BAD_FILE', `${path}: __metadata__ is not an object`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail('BAD_FILE', `${path}: __metadata__ value for ${describeValue(k)} is not a string`);
  }
  return value as Record<string, string>;
}

function parseEntry(name: string, value: unknown, path: string, dataBytes: number): SafetensorsEntry {
  const where = `${path}: tensor ${truncateText(name)}`;
  if (!isJsonObject(value)) fail('BAD_FILE', `${where}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !isSourceDtype(dtype)) fail('BAD_FILE', `${where}: unsupported dtype ${describeValue(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isCount)) fail('BAD_FILE', `${where}: shape ${describeValue(shape)} is not a list of non-negative integers`);
  if (shape.length > MAX_DIMS) fail('BAD_FILE', `${where}: ${shape.length} dimensions; at most ${MAX_DIMS} are supported`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0]! > offsets[1]!) {
    fail('BAD_FILE', `${where}: data_offsets ${describeValue(offsets)} is not a [begin, end] pair with begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  const needed = numelOf(shape) * SOURCE_DTYPES[dtype].bytes;
  if (end - begin !== needed) {
    fail('BAD_FILE', `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} x [${shape.join(', ')}] needs ${needed}`);
  }
  if (end > dataBytes) {
    fail('BAD_FILE', `${where}: data_offsets [${begin}, ${end}] reach past the end of the data region (${dataBytes} bytes): the file is truncated or corrupt`);
  }
  return { name, sourceDtype: dtype, dtype: SOURCE_DTYPES[dtype].dtype, shape: shape as number[], begin, end };
}

function checkNoOverlap(tensors: readonly SafetensorsEntry[], path: string): void {
  const sorted = tensors.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.begin < prev.end) {
      fail('BAD_FILE', `${path}: tensors ${prev.name} [${prev.begin}, ${prev.end}] and ${cur.name} [${cur.begin}, ${cur.end}] overlap`);
    }
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
