/**
 * One input asked of several tasks: the distinct token rows of a batch, so that the shared
 * multi-task graph runs each once below its fan-out layer (see train/multi-task-model.ts).
 * Rows are compared by their tokens, so a text asked of a sentence-level task and of a tagging
 * task runs once too when both tokenize it alike.
 */
import type { TokenizedRow } from '../train/batching.js';

/** A batch's distinct rows, and for each of its rows the index of its row among them. */
export interface DistinctRows {
  readonly rows: TokenizedRow[];
  readonly index: number[];
}

/** The distinct rows of `rows` (compared by token ids and segment ids), in first-seen order. */
export function distinctRows(rows: readonly TokenizedRow[]): DistinctRows {
  const seen = new Map<string, number>();
  const out: TokenizedRow[] = [];
  const index = rows.map((r) => {
    const key = `${r.ids.join(',')}|${r.types.join(',')}`;
    let i = seen.get(key);
    if (i === undefined) {
      i = out.length;
      seen.set(key, i);
      out.push(r);
    }
    return i;
  });
  return { rows: out, index };
}
