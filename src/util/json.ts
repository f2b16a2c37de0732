/**
 * Reading JSON files that come from outside (model directories, task directories, checkpoint
 * headers) with coded errors that name the file and never echo its contents.
 *
 * {@link parseJsonText} is a strict, iterative JSON parser: nesting is bounded (no stack overflow,
 * here or in whatever walks the value later), duplicate keys are refused (`JSON.parse` silently
 * keeps the last one), the number of values can be capped, and syntax errors give a line and
 * column instead of the text around them (V8's `JSON.parse` messages quote the input). Values are
 * the ones `JSON.parse` gives, `__proto__` keys included as own properties.
 *
 * @example
 * ```ts
 * parseJsonText('{"a": [1, 2]}', 'x.json');           // { a: [1, 2] }
 * parseJsonText('{"a": 1, "a": 2}', 'x.json');        // throws BAD_FILE: x.json is not valid JSON: key "a" appears twice (line 1, column 9)
 * await readJsonObjectFile('config.json', { maxBytes: 1 << 20 });
 * ```
 */
import { open } from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { AdapterkitError, fail } from '../errors.js';

import { DEFAULT_JSON_BYTES, jsonType, parseJsonText, type JsonLimits } from './json-text.js';

export { DEFAULT_JSON_BYTES, DEFAULT_JSON_DEPTH, jsonType, parseJsonText, type JsonLimits } from './json-text.js';

/** Reads and parses a file that must hold a JSON object; BAD_FILE naming the file otherwise. */
export async function readJsonObjectFile(path: string, limits: JsonLimits = {}): Promise<Record<string, unknown>> {
  const v = await readOptionalJsonObjectFile(path, limits);
  if (v === undefined) return fail('BAD_FILE', `cannot read ${path}: it does not exist`);
  return v;
}

/** Like {@link readJsonObjectFile}, but `undefined` when the file does not exist. */
export async function readOptionalJsonObjectFile(path: string, limits: JsonLimits = {}): Promise<Record<string, unknown> | undefined> {
  const text = await readTextFile(path, limits.maxBytes ?? DEFAULT_JSON_BYTES);
  return text === undefined ? undefined : asObject(parseJsonText(text, `${path} is not valid JSON`, limits), path);
}

/** Synchronous {@link readJsonObjectFile} (for code paths that are synchronous already). */
export function readJsonObjectFileSync(path: string, limits: JsonLimits = {}): Record<string, unknown> {
  const maxBytes = limits.maxBytes ?? DEFAULT_JSON_BYTES;
  let text: string;
  try {
    const fd = openSync(path, 'r');
    try {
      const st = fstatSync(fd);
      const size = st.size;
      if (!st.isFile()) fail('BAD_FILE', `cannot read ${path}: not a regular file`);
      if (size > maxBytes) fail('BAD_FILE', `${path}: ${size} bytes is more than the ${maxBytes}-byte limit for a JSON file`);
      const buf = Buffer.alloc(size);
      let done = 0;
      while (done < size) {
        const n = readSync(fd, buf, done, size - done, done);
        if (n === 0) break;
        done += n;
      }
      text = buf.toString('utf8', 0, done);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (e instanceof AdapterkitError) throw e;
    return fail('BAD_FILE', `cannot read ${path}: ${(e as Error).message}`);
  }
  return asObject(parseJsonText(text, `${path} is not valid JSON`, limits), path);
}

function asObject(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('BAD_FILE', `${path} is not valid JSON: expected a JSON object, got ${jsonType(v)}`);
  return v as Record<string, unknown>;
}

/** The file as UTF-8 text, refusing files over `maxBytes` and non-regular files; undefined when it does not exist. */
export async function readTextFile(path: string, maxBytes: number): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return fail('BAD_FILE', `cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const st = await handle.stat();
    const size = st.size;
    if (!st.isFile()) fail('BAD_FILE', `cannot read ${path}: not a regular file`);
    if (size > maxBytes) fail('BAD_FILE', `${path}: ${size} bytes is more than the ${maxBytes}-byte limit for a JSON file`);
    return (await handle.readFile()).toString('utf8');
  } catch (e) {
    if (e instanceof AdapterkitError) throw e;
    return fail('BAD_FILE', `cannot read ${path}: ${(e as Error).message}`);
  } finally {
    await handle.close();
  }
}
