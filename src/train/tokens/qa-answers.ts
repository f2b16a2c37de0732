/**
 * Answer extraction for extractive QA: from per-window start/end logits back to a substring of
 * the context.
 *
 * In each window, the `nBest` highest start logits and the `nBest` highest end logits among
 * CONTEXT positions are paired; a pair is valid when end >= start and it spans at most
 * `maxAnswerLength` tokens. Its score is startLogit + endLogit. The best valid pair over all
 * windows wins and is mapped to the context from its first token's start character to its last
 * token's end character. Equal scores keep window order, then start-logit rank, then end-logit rank.
 *
 * SQuAD v2 (`allowNoAnswer`): the null score of a window is startLogit[0] + endLogit[0] (the
 * [CLS] position); as in Google's and Hugging Face's run_squad, the example's null score is the
 * MINIMUM over its windows (the window most confident that an answer exists). The prediction is
 * "" when nullScore - bestScore > `nullThreshold` (default 0), or when no valid pair exists.
 */
import { fail } from '../../errors.js';
import type { CharSpan } from './qa-windows.js';

/** What extraction needs of a window (a {@link QaWindow} fits). */
export interface WindowForAnswer {
  offsets: ReadonlyArray<CharSpan | null>;
}

/** Model output for one window: one logit per row position. */
export interface WindowLogits {
  startLogits: ArrayLike<number>;
  endLogits: ArrayLike<number>;
}

/** Options for {@link extractAnswer}. */
export interface AnswerOptions {
  /** Start and end candidates per window (default 20). */
  nBest?: number;
  /** Longest answer in tokens (default 30). */
  maxAnswerLength?: number;
  /** SQuAD v2: allow the empty answer (default false). */
  allowNoAnswer?: boolean;
  /** Predict "" when nullScore - bestScore exceeds this (default 0). */
  nullThreshold?: number;
}

/** One candidate answer span. */
export interface AnswerCandidate {
  text: string;
  /** Character span in the context. */
  start: number;
  end: number;
  /** startLogit + endLogit. */
  score: number;
  window: number;
  startPosition: number;
  endPosition: number;
}

/** The extracted answer of one example. */
export interface ExtractedAnswer {
  /** The answer text, "" for no answer. */
  text: string;
  /** Best span, undefined when there was no valid span. */
  best: AnswerCandidate | undefined;
  /** Minimum null score over windows (only with `allowNoAnswer`). */
  nullScore?: number;
  /** Valid candidates, best first, at most nBest. */
  candidates: AnswerCandidate[];
}

/** Indexes of the k largest values among `positions`, largest first (ties: smaller index first). */
function topK(values: ArrayLike<number>, positions: readonly number[], k: number): number[] {
  return [...positions].sort((a, b) => (values[b] as number) - (values[a] as number) || a - b).slice(0, k);
}

/**
 * Picks the answer of one example from its windows' logits.
 *
 * @example
 * ```ts
 * const windows = buildQaWindows(example, opts);
 * const answer = extractAnswer(example.context, windows, logits, { allowNoAnswer: true });
 * answer.text; // 'Denver Broncos'
 * ```
 */
export function extractAnswer(
  context: string,
  windows: readonly WindowForAnswer[],
  logits: readonly WindowLogits[],
  opts: AnswerOptions = {},
): ExtractedAnswer {
  const nBest = opts.nBest ?? 20;
  const maxAnswerLength = opts.maxAnswerLength ?? 30;
  if (windows.length !== logits.length) fail('BAD_DATA', `${windows.length} windows but logits for ${logits.length}`);
  if (windows.length === 0) fail('BAD_DATA', 'no windows to extract an answer from');
  const candidates: AnswerCandidate[] = [];
  let nullScore = Infinity;
  windows.forEach((w, wi) => {
    const { startLogits, endLogits } = logits[wi] as WindowLogits;
    const length = w.offsets.length;
    if (startLogits.length < length || endLogits.length < length) {
      fail('BAD_DATA', `window ${wi}: ${length} positions but ${startLogits.length} start and ${endLogits.length} end logits`);
    }
    nullScore = Math.min(nullScore, (startLogits[0] as number) + (endLogits[0] as number));
    const context: number[] = [];
    for (let i = 0; i < length; i++) if (w.offsets[i]) context.push(i);
    const starts = topK(startLogits, context, nBest);
    const ends = topK(endLogits, context, nBest);
    for (const s of starts) {
      for (const e of ends) {
        if (e < s || e - s + 1 > maxAnswerLength) continue;
        const a = w.offsets[s] as CharSpan;
        const b = w.offsets[e] as CharSpan;
        candidates.push({
          text: '',
          start: a.start,
          end: b.end,
          score: (startLogits[s] as number) + (endLogits[e] as number),
          window: wi,
          startPosition: s,
          endPosition: e,
        });
      }
    }
  });
  // Stable sort keeps window/position order among equal scores.
  candidates.sort((x, y) => y.score - x.score);
  const kept = candidates.slice(0, nBest).map((c) => ({ ...c, text: context.slice(c.start, c.end) }));
  const best = kept[0];
  let text = best?.text ?? '';
  if (opts.allowNoAnswer && (best === undefined || nullScore - best.score > (opts.nullThreshold ?? 0))) text = '';
  return { text, best, ...(opts.allowNoAnswer ? { nullScore } : {}), candidates: kept };
}
