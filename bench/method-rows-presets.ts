/**
 * The presets of issue 15 that bench:train and bench:serve give rows of their own against Houlsby
 * (bench/train/method-rows.ts, bench/serve/method-rows.ts): prefix and prompt tuning, Compacter,
 * MAM and UniPELT. BENCH_ROW_METHODS (comma-separated presets) replaces the list.
 */
import { PRESET_NAMES } from '../src/adapters/methods/index.js';

/** The reference row every method row is timed against, interleaved. */
export const REFERENCE_PRESET = 'houlsby';

const DEFAULT_ROWS = ['prefix', 'prefix-flat', 'prompt', 'compacter', 'compacter++', 'mam', 'unipelt'];

/** The presets with rows: BENCH_ROW_METHODS when set (checked against the registry), else {@link DEFAULT_ROWS}. */
export function rowPresets(): string[] {
  const env = process.env.BENCH_ROW_METHODS?.trim();
  const names = env ? env.split(',').map((x) => x.trim()).filter(Boolean) : DEFAULT_ROWS;
  const unknown = names.filter((n) => !PRESET_NAMES.includes(n));
  if (unknown.length) throw new Error(`BENCH_ROW_METHODS: unknown preset(s) ${unknown.join(', ')}; presets: ${PRESET_NAMES.join(', ')}`);
  return names;
}
