/**
 * A tiny synthetic sentiment task over the tiny-bert fixture vocabulary: label 1 when the
 * sentence says "good" (or "fine"), 0 when it says "bad" (or "slow"), with distracting words.
 */
import type { Example } from '../../src/train/data/types.js';
import { Rng } from '../../src/util/random.js';

const SUBJECTS = ['the cat', 'the dog', 'this model', 'that book', 'the house', 'a tree', 'the task', 'the text'];
const FILLER = ['is', 'sat on the mat', 'ran fast', 'is very', 'is not', 'was read at night', 'in the rain'];
const POS = ['good', 'fine'];
const NEG = ['bad', 'slow'];

/** `n` examples, deterministic for a seed. */
export function toyExamples(n: number, seed: number): Example[] {
  const r = new Rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[r.int(xs.length)] as T;
  return Array.from({ length: n }, (_, i) => {
    const label = r.int(2);
    const word = pick(label ? POS : NEG);
    const parts = [pick(SUBJECTS), pick(FILLER), word];
    if (r.next() < 0.5) parts.reverse();
    return { id: `toy-${seed}-${i}`, textA: `${parts.join(' ')} .`, label };
  });
}
