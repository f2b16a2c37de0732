import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listBuiltinDatasets, loadBuiltinDataset, loadTask } from '../../src/train/data/index.js';
import { loadTokenDataset } from '../../src/train/data/builtin/index.js';
import type { TaskData } from '../../src/train/data/index.js';
import { untagSentence, passages } from '../../src/train/data/builtin/brown.js';
import { emailText } from '../../src/train/data/builtin/email.js';
import { splitSentences } from '../../src/train/data/builtin/sentences.js';
import { stratifiedSplit } from '../../src/train/data/builtin/split.js';
import { cpuMs } from '../util/cpu-time.js';

/** Document id of an example: spam uses the message checksum for splitting, so the file id; others cut '#n'. */
const docOf = (id: string) => id.split('#')[0] as string;

const DOCUMENTED_LABELS: Record<string, string[]> = {
  spam: ['ham', 'spam'],
  sotu: ['Democratic', 'Republican'],
  brown: [
    'adventure', 'belles_lettres', 'editorial', 'fiction', 'government', 'hobbies', 'humor', 'learned',
    'lore', 'mystery', 'news', 'religion', 'reviews', 'romance', 'science_fiction',
  ],
};

const fingerprint = (task: TaskData) =>
  Object.entries(task.splits).map(([split, xs]) => `${split}:${xs.length}:${xs.map((e) => `${e.id}=${String(e.label)}`).join(',')}`).join('|');

test('listBuiltinDatasets names spam, sotu and brown with their labels', () => {
  const list = listBuiltinDatasets();
  assert.deepEqual(list.map((d) => d.name), ['spam', 'sotu', 'brown']);
  for (const d of list) {
    assert.deepEqual(d.labels, DOCUMENTED_LABELS[d.name]);
    assert.equal(d.kind, 'classification');
    assert.ok(d.sizes.train > 0 && d.sizes.dev > 0 && d.sizes.test > 0);
  }
});

for (const info of listBuiltinDatasets()) {
  test(`builtin ${info.name}: listed sizes, disjoint documents, all labels, deterministic`, async () => {
    const { value: task, ms } = await cpuMs(() => loadBuiltinDataset(info.name));
    assert.ok(ms < 5000, `${info.name} loads in under 5 s of CPU (took ${ms.toFixed(0)} ms)`);
    assert.deepEqual(task.labels, info.labels);
    assert.deepEqual(Object.keys(task.splits), ['train', 'dev', 'test']);
    assert.deepEqual({ train: task.splits.train!.length, dev: task.splits.dev!.length, test: task.splits.test!.length }, info.sizes);
    const docs = Object.fromEntries(Object.entries(task.splits).map(([s, xs]) => [s, new Set(xs.map((e) => docOf(e.id)))]));
    for (const a of ['train', 'dev', 'test']) {
      for (const b of ['train', 'dev', 'test']) {
        if (a < b) for (const d of docs[a]!) assert.ok(!docs[b]!.has(d), `${d} in both ${a} and ${b}`);
      }
      const labels = new Set(task.splits[a]!.map((e) => e.label));
      assert.equal(labels.size, info.labels.length, `${a} has every label`);
    }
    const ids = Object.values(task.splits).flat().map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'ids unique');
    for (const e of Object.values(task.splits).flat()) assert.ok(e.textA.trim().length > 0);
    const again = info.name === 'spam' ? await loadTask({ builtin: 'spam' }) : await loadBuiltinDataset(info.name);
    assert.equal(fingerprint(again), fingerprint(task));
  });
}

test('sotu: sentences have at least 6 words and no stage directions', async () => {
  const task = await loadBuiltinDataset('sotu');
  for (const e of Object.values(task.splits).flat()) {
    assert.ok(e.textA.split(/\s+/).length >= 6, e.textA);
    assert.doesNotMatch(e.textA, /\(Applause\.?\)|\[Laughter\]/i);
  }
  assert.ok(task.splits.train!.some((e) => e.id.startsWith('1861_abraham_lincoln_r#') || e.id.startsWith('2009_barack_obama_d#')));
});

test('spam: headers are dropped, subject kept', async () => {
  const task = await loadBuiltinDataset('spam');
  // easy-ham-1/00001 has "Subject: Re: New Sequences Window"
  const first = Object.values(task.splits).flat().find((e) => e.id === 'easy-ham-1/00001');
  assert.ok(first?.textA.startsWith('Re: New Sequences Window. '), first?.textA.slice(0, 80));
  const all = Object.values(task.splits).flat();
  const withHeaders = all.filter((e) => /^(Return-Path|Received|Delivered-To):/.test(e.textA) || /^From \S+ +(Mon|Tue|Wed|Thu|Fri|Sat|Sun) /.test(e.textA));
  assert.equal(withHeaders.length, 0);
  assert.equal(all.filter((e) => e.label === 1).length, 1896); // spam-1 (500) + spam-2 (1396)
});

test('e-mail text: subject decoded, multipart plain part kept, quoted-printable decoded', () => {
  const raw = [
    'From someone  Thu Aug 22 2002',
    'Received: from x',
    'Subject: =?utf-8?B?SGVsbG8gV29ybGQ=?=',
    'Content-Type: multipart/alternative;',
    ' boundary="XYZ"',
    '',
    '--XYZ',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Caf=C3=A9 opens to=',
    'day.',
    '--XYZ',
    'Content-Type: text/html',
    '',
    '<p>ignored html</p>',
    '--XYZ--',
  ].join('\n');
  assert.deepEqual(emailText(raw), { subject: 'Hello World', body: 'Café opens today.' });
  const html = 'Subject: Offer\nContent-Type: text/html\n\n<html><style>p{}</style><b>Buy&nbsp;now</b> &amp; save</html>';
  assert.deepEqual(emailText(html), { subject: 'Offer', body: 'Buy now & save' });
});

test('brown helpers: tags stripped, quotes restored, passages of 100-200 words', () => {
  assert.equal(
    untagSentence('\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn \'\'/\'\' ,/, (/( see/vb )/) ./.'),
    'The jury said "no evidence", (see).',
  );
  const sentence = (n: number) => Array.from({ length: n }, () => 'w').join(' ');
  const out = passages([sentence(60), sentence(60), sentence(150), sentence(30), sentence(20)]);
  // 60+60 = 120 closes; 150 alone closes; the tail 30+20 = 50 words is kept as its own passage
  assert.deepEqual(out.map((p) => p.split(' ').length), [120, 150, 50]);
  // a tail under 50 words joins the previous passage
  assert.deepEqual(passages([sentence(100), sentence(10)]).map((p) => p.split(' ').length), [110]);
});

test('sentence splitter keeps abbreviations and initials', () => {
  assert.deepEqual(splitSentences('Mr. Speaker, the U.S. Army is strong. I said "Yes." Then J. Smith left! Did he? Yes.'), [
    'Mr. Speaker, the U.S. Army is strong.',
    'I said "Yes."',
    'Then J. Smith left!',
    'Did he?',
    'Yes.',
  ]);
});

test('stratified split: each stratum of 3+ documents reaches every split, independent of input order', () => {
  const docs = Array.from({ length: 12 }, (_, i) => ({ id: `doc${i}`, stratum: i < 6 ? 'a' : 'b' }));
  const one = stratifiedSplit(docs);
  const two = stratifiedSplit([...docs].reverse());
  assert.deepEqual([...one.entries()].sort(), [...two.entries()].sort());
  for (const stratum of ['a', 'b']) {
    const splits = docs.filter((d) => d.stratum === stratum).map((d) => one.get(d.id));
    assert.deepEqual([...new Set(splits)].sort(), ['dev', 'test', 'train']);
  }
});

test('unknown built-in dataset lists the available names', async () => {
  await assert.rejects(loadBuiltinDataset('imdb'), /no built-in dataset "imdb"; available: spam, sotu, brown/);
});

test('unknown token-level dataset lists only the token-level names; a sentence-level name says where it loads', async () => {
  await assert.rejects(loadTokenDataset('nope'), (e: Error) => {
    assert.equal(e.message, 'no built-in token-level dataset "nope"; available: brown-pos');
    assert.equal((e as Error & { code?: string }).code, 'NOT_FOUND');
    return true;
  });
  await assert.rejects(loadTokenDataset('spam'), (e: Error) => {
    assert.equal(e.message, 'no built-in token-level dataset "spam" ("spam" is a sentence-level dataset: load it with loadBuiltinDataset); available: brown-pos');
    return true;
  });
});
