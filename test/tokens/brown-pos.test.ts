import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BROWN_POS_INFO, brownTaggedSentences, loadBrownPos, universalTag, UNIVERSAL_TAGS } from '../../src/train/data/builtin/brown-pos.js';
import { loadBuiltinDataset } from '../../src/train/data/builtin/index.js';
import type { TaggingData } from '../../src/train/tokens/types.js';
import { cpuMs } from '../util/cpu-time.js';

const docOf = (id: string) => id.split('#')[0] as string;

test('universalTag: suffixes, fw- prefix, contractions, negation, possessives', () => {
  const cases: Array<[string, string]> = [
    ['nn-tl', 'NOUN'], ['np$', 'NOUN'], ['nns$-tl-hl', 'NOUN'], ['jj-nc', 'ADJ'], ['fw-in', 'ADP'], ['fw-nn-tl', 'NOUN'],
    ['ppss+md', 'PRON'], ['pps+bez', 'PRON'], ['md*', 'VERB'], ['bedz*', 'VERB'], ['*', 'PRT'], ['fw-*', 'PRT'],
    ['pp$', 'PRON'], ['pp$$', 'PRON'], ['wp$', 'PRON'], ['---hl', '.'], ['``', '.'], ["''", '.'], ['.-hl', '.'],
    ['at', 'DET'], ['cs', 'CONJ'], ['cd-tl', 'NUM'], ['od', 'ADJ'], ['to', 'PRT'], ['rp', 'PRT'], ['ex+bez', 'DET'],
    ['uh', 'X'], ['nil', 'X'], ['wrb+dod*', 'ADV'], ['fw-in+at-t', 'ADP'], ['NN-TL', 'NOUN'],
  ];
  for (const [brown, universal] of cases) assert.equal(universalTag(brown), universal, brown);
  assert.equal(universalTag('zz'), undefined);
});

test('brownTaggedSentences: one line per sentence; unknown tags fail naming file and line', () => {
  const out = brownTaggedSentences('\n\tThe/at cat/nn ran/vbd ./.\n\n\tIt/pps did/dod n\'t/* ./.\n', 'cx01', 'cx01');
  assert.deepEqual(out.map((s) => [s.id, s.tokens.join(' '), s.tags.join(' '), s.source?.line]), [
    ['cx01#0', 'The cat ran .', 'DET NOUN VERB .', 2],
    ['cx01#1', "It did n't .", 'PRON VERB PRT .', 4],
  ]);
  assert.throws(() => brownTaggedSentences('a/at\nb/zz\n', 'cx02', 'cx02'), /cx02:2: Brown tag "zz" of "b\/zz" has no universal tag/);
  assert.throws(() => brownTaggedSentences('a/at b\n', 'cx03', 'cx03'), /cx03:1: token "b" is not word\/tag/);
});

let loaded: TaggingData | undefined;

test('brown-pos: documented sizes, 12 tags, fast load', async () => {
  const { value, ms } = await cpuMs(() => loadBrownPos());
  loaded = value;
  assert.ok(ms < 5000, `loads in under 5 s of CPU (took ${ms.toFixed(0)} ms)`);
  assert.equal(loaded.scheme, 'plain');
  assert.deepEqual(loaded.tagSet, [...UNIVERSAL_TAGS]);
  assert.deepEqual(loaded.metrics, ['token_accuracy']);
  const sizes = Object.fromEntries(Object.entries(loaded.splits).map(([k, v]) => [k, v.length]));
  const tokens = Object.fromEntries(Object.entries(loaded.splits).map(([k, v]) => [k, v.reduce((n, s) => n + s.tokens.length, 0)]));
  assert.deepEqual(sizes, BROWN_POS_INFO.sizes);
  assert.deepEqual(tokens, BROWN_POS_INFO.tokens);
  // the whole corpus: 57,340 sentences, 1,161,192 tokens
  assert.equal(sizes.train + sizes.dev + sizes.test, 57340);
  assert.equal(tokens.train + tokens.dev + tokens.test, 1161192);
  const seen = new Set<string>();
  for (const s of Object.values(loaded.splits).flat()) {
    assert.equal(s.tokens.length, s.tags.length);
    for (const t of s.tags) seen.add(t);
  }
  assert.deepEqual([...seen].sort(), [...UNIVERSAL_TAGS].sort());
  assert.deepEqual(loaded.splits.train?.[0]?.tags.slice(0, 6), ['DET', 'NOUN', 'NOUN', 'ADJ', 'NOUN', 'VERB']);
});

test('brown-pos: splits are disjoint by text, deterministic, and the same as the brown genre dataset', async () => {
  assert.ok(loaded);
  const docs = Object.fromEntries(Object.entries(loaded.splits).map(([k, v]) => [k, new Set(v.map((s) => docOf(s.id)))]));
  const all = Object.values(docs).flatMap((d) => [...d]);
  assert.equal(all.length, 500);
  assert.equal(new Set(all).size, 500, 'no text in two splits');
  const again = await loadBrownPos();
  for (const [k, v] of Object.entries(loaded.splits)) {
    assert.deepEqual(again.splits[k]?.map((s) => s.id), v.map((s) => s.id));
  }
  const genre = await loadBuiltinDataset('brown');
  for (const [k, v] of Object.entries(genre.splits)) {
    assert.deepEqual(new Set(v.map((e) => docOf(e.id))), docs[k], `split ${k} has the same texts`);
  }
});
