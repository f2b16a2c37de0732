/** Reading JSON object files with coded errors that name the file. */
import { readFile } from 'node:fs/promises';
import { fail } from '../errors.js';

/** Reads and parses a file that must hold a JSON object; BAD_FILE naming the file otherwise. */
export async function readJsonObjectFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return fail('BAD_FILE', `cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    return fail('BAD_FILE', `${path} is not valid JSON: ${(e as Error).message}`);
  }
}
