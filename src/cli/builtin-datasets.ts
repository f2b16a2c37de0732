/**
 * The built-in datasets as help texts name them, read from the registry
 * (src/train/data/builtin/index.ts), so that a dataset added there shows up in every command's
 * help without editing it.
 *
 * @example
 * ```ts
 * sentenceDatasetNames(); // 'spam, sotu, brown'
 * tokenDatasetNames(); // 'brown-pos'
 * builtinDatasetsHelp(); // 'spam, sotu, brown; brown-pos with a tagging head'
 * ```
 */
import { listBuiltinDatasets, listTokenDatasets } from '../train/data/builtin/index.js';

/** The sentence-level built-in datasets' names, comma-separated (what `loadTask({ builtin })` takes). */
export function sentenceDatasetNames(): string {
  return listBuiltinDatasets().map((d) => d.name).join(', ');
}

/** The token-level built-in datasets' names, comma-separated. */
export function tokenDatasetNames(): string {
  return listTokenDatasets().map((d) => d.name).join(', ');
}

/** Every built-in dataset: the sentence-level ones, then the token-level ones by the head they train with. */
export function builtinDatasetsHelp(): string {
  const byKind = new Map<string, string[]>();
  for (const d of listTokenDatasets()) byKind.set(d.kind, [...(byKind.get(d.kind) ?? []), d.name]);
  return [sentenceDatasetNames(), ...[...byKind].map(([kind, names]) => `${names.join(', ')} with a ${kind} head`)].join('; ');
}
