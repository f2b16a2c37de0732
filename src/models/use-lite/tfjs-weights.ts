/**
 * Reader for TF.js graph-model weights (`model.json` + binary shard files). The shards are read
 * through a {@link ShardReader} (files in Node, see package-files.ts; fetched assets in a browser),
 * so this module runs anywhere.
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
import { fail } from '../../errors.js';
import { describeValue, truncateText } from '../../util/describe.js';

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

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const BYTES_PER_STORED_ELEMENT: ReadonlyMap<string, number> = new Map([['float32', 4], ['int32', 4], ['uint8', 1], ['uint16', 2], ['float16', 2]]);

/**
 * Where the shards of a `model.json` are read from. Paths are the manifest's, checked to be plain
 * relative file names before they get here.
 */
export interface ShardReader {
  /** Byte size of a shard; throws BAD_FILE naming it when it is missing. */
  size(path: string, where: string): Promise<number>;
  /** A shard's bytes. */
  read(path: string, where: string): Promise<Uint8Array>;
  /** The folder the paths are relative to, for messages. */
  readonly dir: string;
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
function decode(entry: ManifestEntry, bytes: Uint8Array): Float32Array {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const q = entry.quantization;
  if (q === undefined && entry.dtype === 'float32' && LITTLE_ENDIAN_HOST) {
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + count * 4));
  }
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (q === undefined && entry.dtype === 'float32') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (q === undefined) {
    for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
  } else if (q.dtype === 'uint8') {
    for (let i = 0; i < count; i++) out[i] = (bytes[i] as number) * (q.scale as number) + (q.min as number);
  } else if (q.dtype === 'uint16') {
    for (let i = 0; i < count; i++) out[i] = view.getUint16(i * 2, true) * (q.scale as number) + (q.min as number);
  } else {
    for (let i = 0; i < count; i++) out[i] = float16ToFloat32(view.getUint16(i * 2, true));
  }
  return out;
}

/** Checks that a shard path is a plain relative path inside the model.json folder. */
function checkShardPath(dir: string, path: string, where: string): void {
  const parts = path.split('/');
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.includes('\\') || path.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    fail('BAD_FILE', `${where}: shard path ${describeValue(path)} is not a file name inside ${dir}`);
  }
}

/** The shards of one group, concatenated. */
function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Reads every tensor of a TF.js graph model from its parsed `model.json` and its shards.
 *
 * @param json the parsed `model.json`; `modelJsonPath` names it in messages.
 * @param shards reads the shard files the manifest lists.
 * @returns the tensors by manifest name, in manifest order.
 * @throws AdapterkitError BAD_FILE naming the file, group and tensor when the manifest is
 *   malformed, a shard is missing, the shards' total size does not match the manifest, a dtype is
 *   unknown, a quantization is unsupported, or a tensor name repeats.
 *
 * @example
 * ```ts
 * const weights = await decodeTfjsWeights(json, 'model.json', shards); // see readTfjsWeights in package-files.ts for files
 * weights.get('module/Embeddings_en')?.shape; // [8002, 256]
 * ```
 */
export async function decodeTfjsWeights(json: Record<string, unknown>, modelJsonPath: string, shards: ShardReader): Promise<TfjsWeightMap> {
  const groups = parseManifest(json, modelJsonPath);
  const dir = shards.dir;
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
      checkShardPath(dir, path, where);
      sizes.push(await shards.size(path, where));
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
    const parts: Uint8Array[] = [];
    for (const path of group.paths) parts.push(await shards.read(path, where));
    const buffer = concat(parts);
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
