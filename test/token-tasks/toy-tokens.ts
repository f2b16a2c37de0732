/**
 * Tiny synthetic token-level tasks over the tiny-bert fixture vocabulary.
 *
 * Tagging: word classes N (nouns, also with a `##s` piece: "cats" -> cat ##s), A (adjectives),
 * O (everything else). QA: a context holds one colour and one animal among filler words; the
 * question asks for one of them.
 */
import type { TaggedSentence, QaExample } from '../../src/train/tokens/types.js';
import { Rng } from '../../src/util/random.js';

const NOUNS = ['cat', 'dog', 'house', 'tree', 'book', 'cats', 'dogs', 'books'];
const ADJS = ['big', 'small', 'red', 'blue', 'green', 'good', 'bad'];
const OTHER = ['the', 'a', 'is', 'on', 'of', 'and', 'to', 'in', 'at', 'sat', 'ran', 'very', 'not', 'we', 'they'];

/** `n` tagged sentences (tags N, A, O), deterministic for a seed. */
export function toyTagged(n: number, seed: number): TaggedSentence[] {
  const r = new Rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[r.int(xs.length)] as T;
  return Array.from({ length: n }, (_, i) => {
    const len = 4 + r.int(6);
    const tokens: string[] = [];
    const tags: string[] = [];
    for (let k = 0; k < len; k++) {
      const u = r.next();
      if (u < 0.3) { tokens.push(pick(NOUNS)); tags.push('N'); } else if (u < 0.5) { tokens.push(pick(ADJS)); tags.push('A'); } else { tokens.push(pick(OTHER)); tags.push('O'); }
    }
    return { id: `toy-${seed}-${i}`, tokens, tags };
  });
}

const COLOURS = ['red', 'blue', 'green'];
const ANIMALS = ['cat', 'dog'];
const FILLER = ['the', 'a', 'is', 'on', 'of', 'and', 'sat', 'ran', 'house', 'tree', 'book', 'water', 'day', 'night'];

/** `n` QA examples: "what colour ..." -> the colour word, "what animal ..." -> the animal word. */
export function toyQa(n: number, seed: number): QaExample[] {
  const r = new Rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[r.int(xs.length)] as T;
  return Array.from({ length: n }, (_, i) => {
    const words = Array.from({ length: 5 + r.int(6) }, () => pick(FILLER));
    const colour = pick(COLOURS);
    const animal = pick(ANIMALS);
    const a = r.int(words.length + 1);
    words.splice(a, 0, colour);
    const b = r.int(words.length + 1);
    words.splice(b, 0, animal);
    const context = words.join(' ');
    const askColour = r.next() < 0.5;
    const answer = askColour ? colour : animal;
    const idx = words.indexOf(answer);
    const start = words.slice(0, idx).join(' ').length + (idx > 0 ? 1 : 0);
    return {
      id: `qa-${seed}-${i}`,
      question: askColour ? 'what is the red blue green word' : 'what is the cat dog word',
      context,
      answers: [{ text: answer, start }],
    };
  });
}
