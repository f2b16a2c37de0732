/**
 * Tagging metrics: entity-level precision, recall and F1 (micro-averaged over entity types) as
 * seqeval computes them in its default (conlleval-compatible) mode, and token accuracy.
 *
 * Entities are read from each tag sequence with conlleval's chunk rules (seqeval
 * `get_entities`): a tag is `<prefix>-<type>` or `O`. A chunk ENDS before the current tag when
 * the previous tag is E or S; or is B or I and the current one is B, S or O; or when the previous
 * tag is not O and the type changes. A chunk STARTS at B or S; at E or I after O, E or S; or at
 * any non-O tag whose type differs from the previous tag's. So `I-PER` right after `O` starts a
 * new PER entity (no strict validation, unlike seqeval's `mode='strict'`), `B-PER I-LOC` gives two
 * entities, and an `I-`/`E-` continuing the same type just extends the chunk. Sentences are
 * scored independently (seqeval joins them with an `O` between, which is the same thing).
 * An entity is correct when its type, start and end all match. A ratio with a zero denominator
 * is 0 (seqeval's `zero_division` default).
 */
import { fail } from '../../errors.js';
import type { TagScheme } from '../tokens/types.js';

/** One entity: its type and inclusive token range within sentence `sentence`. */
export interface Entity {
  type: string;
  start: number;
  end: number;
}

/** Entity-level scores; counts are kept so results can be pooled and checked. */
export interface EntityScores {
  precision: number;
  recall: number;
  f1: number;
  /** Correct predicted entities. */
  correct: number;
  /** Predicted entities. */
  predicted: number;
  /** Gold entities. */
  gold: number;
}

/** Names of the metrics tagging tasks report. */
export const TAGGING_METRIC_NAMES = ['entity_f1', 'entity_precision', 'entity_recall', 'token_accuracy'] as const;

/** A tagging metric name. */
export type TaggingMetricName = (typeof TAGGING_METRIC_NAMES)[number];

/** Metrics for a scheme, main first: entity F1/precision/recall + token accuracy for BIO/BIOES; token accuracy for plain tags. */
export function defaultTaggingMetrics(scheme: TagScheme): TaggingMetricName[] {
  return scheme === 'plain' ? ['token_accuracy'] : ['entity_f1', 'entity_precision', 'entity_recall', 'token_accuracy'];
}

function split(tag: string): [prefix: string, type: string] {
  // As seqeval: prefix = first character, type = what follows the first '-' ('_' when none, e.g. 'O').
  const rest = tag.slice(1);
  const dash = rest.indexOf('-');
  const type = dash < 0 ? rest : rest.slice(dash + 1);
  return [tag.slice(0, 1), type === '' ? '_' : type];
}

function endsChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (prevTag === 'E' || prevTag === 'S') return true;
  if ((prevTag === 'B' || prevTag === 'I') && (tag === 'B' || tag === 'S' || tag === 'O')) return true;
  return prevTag !== 'O' && prevTag !== '.' && prevType !== type;
}

function startsChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (tag === 'B' || tag === 'S') return true;
  if ((prevTag === 'E' || prevTag === 'S' || prevTag === 'O') && (tag === 'E' || tag === 'I')) return true;
  return tag !== 'O' && tag !== '.' && prevType !== type;
}

/**
 * Entities of one tag sequence (seqeval default mode).
 *
 * @example
 * ```ts
 * getEntities(['B-PER', 'I-PER', 'O', 'I-LOC']);
 * // [{ type: 'PER', start: 0, end: 1 }, { type: 'LOC', start: 3, end: 3 }]
 * ```
 */
export function getEntities(tags: readonly string[]): Entity[] {
  const out: Entity[] = [];
  let prevTag = 'O';
  let prevType = '';
  let begin = 0;
  for (let i = 0; i <= tags.length; i++) {
    const [tag, type] = split(i < tags.length ? (tags[i] as string) : 'O');
    if (endsChunk(prevTag, tag, prevType, type)) out.push({ type: prevType, start: begin, end: i - 1 });
    if (startsChunk(prevTag, tag, prevType, type)) begin = i;
    prevTag = tag;
    prevType = type;
  }
  return out;
}

function checkShapes(gold: readonly (readonly string[])[], predicted: readonly (readonly string[])[]): void {
  if (gold.length !== predicted.length) fail('BAD_DATA', `${gold.length} gold sentences but ${predicted.length} predicted`);
  if (gold.length === 0) fail('BAD_DATA', 'no sentences to score');
  gold.forEach((g, i) => {
    const p = predicted[i] as readonly string[];
    if (g.length !== p.length) fail('BAD_DATA', `sentence ${i}: ${g.length} gold tags but ${p.length} predicted`);
  });
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

/**
 * Micro-averaged entity precision, recall and F1 over sentences (seqeval default mode).
 *
 * @example
 * ```ts
 * entityScores([['B-PER', 'I-PER', 'O']], [['B-PER', 'O', 'O']]);
 * // { precision: 0, recall: 0, f1: 0, correct: 0, predicted: 1, gold: 1 }
 * ```
 */
export function entityScores(gold: readonly (readonly string[])[], predicted: readonly (readonly string[])[]): EntityScores {
  checkShapes(gold, predicted);
  let correct = 0;
  let nPred = 0;
  let nGold = 0;
  gold.forEach((g, i) => {
    const goldKeys = new Set(getEntities(g).map((e) => `${e.type}\u0000${e.start}\u0000${e.end}`));
    const pred = getEntities(predicted[i] as readonly string[]);
    nGold += goldKeys.size;
    nPred += pred.length;
    for (const e of pred) if (goldKeys.has(`${e.type}\u0000${e.start}\u0000${e.end}`)) correct++;
  });
  const precision = ratio(correct, nPred);
  const recall = ratio(correct, nGold);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, correct, predicted: nPred, gold: nGold };
}

/** Fraction of tokens whose predicted tag equals the gold tag (seqeval `accuracy_score`). */
export function tokenAccuracy(gold: readonly (readonly string[])[], predicted: readonly (readonly string[])[]): number {
  checkShapes(gold, predicted);
  let right = 0;
  let total = 0;
  gold.forEach((g, i) => {
    const p = predicted[i] as readonly string[];
    g.forEach((t, k) => {
      total++;
      if (p[k] === t) right++;
    });
  });
  return ratio(right, total);
}

/**
 * Computes tagging metrics by name over sentences of tag strings.
 *
 * @example
 * ```ts
 * taggingMetrics(['entity_f1', 'token_accuracy'], [['B-PER', 'O']], [['B-PER', 'O']]);
 * // { entity_f1: 1, token_accuracy: 1 }
 * ```
 */
export function taggingMetrics(
  names: readonly string[],
  gold: readonly (readonly string[])[],
  predicted: readonly (readonly string[])[],
): Partial<Record<TaggingMetricName, number>> {
  const out: Partial<Record<TaggingMetricName, number>> = {};
  let scores: EntityScores | undefined;
  for (const name of names) {
    if (!(TAGGING_METRIC_NAMES as readonly string[]).includes(name)) {
      fail('BAD_CONFIG', `unknown tagging metric "${name}"; known: ${TAGGING_METRIC_NAMES.join(', ')}`);
    }
    if (name === 'token_accuracy') {
      out.token_accuracy = tokenAccuracy(gold, predicted);
      continue;
    }
    scores ??= entityScores(gold, predicted);
    if (name === 'entity_f1') out.entity_f1 = scores.f1;
    if (name === 'entity_precision') out.entity_precision = scores.precision;
    if (name === 'entity_recall') out.entity_recall = scores.recall;
  }
  return out;
}
