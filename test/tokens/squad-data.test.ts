import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadSquad, parseSquad } from '../../src/train/data/squad.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/tokens/${name}`, import.meta.url));

test('SQuAD v1.1 file: questions with titles, answers and char offsets', async () => {
  const data = await loadSquad(fixture('squad-v1.1.json'));
  assert.equal(data.version, '1.1');
  assert.equal(data.hasImpossible, false);
  assert.deepEqual(data.examples.map((e) => e.id), ['lh-1', 'lh-2', 'bee-1']);
  const first = data.examples[0];
  assert.equal(first?.title, 'Lighthouses');
  assert.equal(first?.question, 'Who built the Skerryvore lighthouse?');
  assert.deepEqual(first?.answers, [{ text: 'Alan Stevenson', start: 61 }, { text: 'Stevenson', start: 66 }]);
  assert.equal(first?.isImpossible, undefined);
  assert.equal(data.examples[2]?.title, 'Bees');
});

test('SQuAD v2.0 file: is_impossible and plausible_answers', async () => {
  const data = await loadSquad(fixture('squad-v2.0.json'));
  assert.equal(data.version, 'v2.0');
  assert.equal(data.hasImpossible, true);
  const [a, b, c] = data.examples;
  assert.equal(a?.isImpossible, false);
  assert.deepEqual(b?.answers, []);
  assert.equal(b?.isImpossible, true);
  assert.deepEqual(b?.plausibleAnswers, [{ text: 'The Aletsch Glacier', start: 59 }]);
  assert.deepEqual(c?.answers, [{ text: '23 km', start: 132 }]);
});

const squad = (qas: unknown[], context = 'Rome is in Italy.') => JSON.stringify({ version: 'v2.0', data: [{ title: 'T', paragraphs: [{ context, qas }] }] }, null, 1);

test('SQuAD bad questions: misplaced answer, contradictions; skip reports them', () => {
  const text = squad([
    { id: 'ok', question: 'Where is Rome?', answers: [{ text: 'Italy', answer_start: 11 }] },
    { id: 'moved', question: 'Where?', answers: [{ text: 'Italy', answer_start: 10 }] },
    { id: 'both', question: 'Where?', answers: [{ text: 'Italy', answer_start: 11 }], is_impossible: true },
    { id: 'none', question: 'Where?', answers: [] },
  ]);
  assert.throws(() => parseSquad(text, 'bad.json'), /bad\.json:\d+: question moved \(data\[0\]\.paragraphs\[0\]\.qas\[1\]\): answers\[0\] "Italy" is not at answer_start 10; the context has " Ital" there/);
  const data = parseSquad(text, 'bad.json', { onBadRow: 'skip' });
  assert.deepEqual(data.examples.map((e) => e.id), ['ok']);
  assert.deepEqual(data.report.skipped.map((r) => r.reason.split(':')[0]), ['question moved (data[0].paragraphs[0].qas[1])', 'question both (data[0].paragraphs[0].qas[2])', 'question none (data[0].paragraphs[0].qas[3])']);
  // the reported line is where the id stands in the (pretty-printed) file
  const lines = text.split('\n');
  for (const r of data.report.skipped) assert.match(lines[r.line - 1] ?? '', /"id"/);
  assert.throws(() => parseSquad('{"data": 3}', 'x.json'), /x\.json: expected an object with a "data" array/);
  assert.throws(() => parseSquad('{', 'x.json'), /x\.json: not valid JSON/);
});

test('SQuAD code-point offsets are converted to string indexes', () => {
  // '😀' is one code point but two UTF-16 units: SQuAD says "Paris" starts at 2, JavaScript at 3.
  const data = parseSquad(squad([{ id: 'e', question: 'Where?', answers: [{ text: 'Paris', answer_start: 2 }] }], '😀 Paris'), 'e.json');
  assert.deepEqual(data.examples[0]?.answers, [{ text: 'Paris', start: 3 }]);
});
