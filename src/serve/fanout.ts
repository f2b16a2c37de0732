/**
 * One input asked of several tasks: the distinct inputs of a batch, so that the shared
 * multi-task graph runs each once below its fan-out layer (see train/multi-task-model.ts).
 */
import type { TextInput } from './backend.js';

/** A batch's distinct inputs, and for each of its rows the index of its input among them. */
export interface DistinctInputs {
  readonly inputs: TextInput[];
  readonly rows: number[];
}

/** The distinct inputs of `inputs` (texts and pairs compared by value), in first-seen order. */
export function distinctInputs(inputs: readonly TextInput[]): DistinctInputs {
  const seen = new Map<string, number>();
  const out: TextInput[] = [];
  const rows = inputs.map((x) => {
    const key = typeof x === 'string' ? `s${x}` : `p${JSON.stringify(x)}`;
    let i = seen.get(key);
    if (i === undefined) {
      i = out.length;
      seen.set(key, i);
      out.push(x);
    }
    return i;
  });
  return { inputs: out, rows };
}
