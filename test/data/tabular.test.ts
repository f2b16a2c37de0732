import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTabularTask, loadTask } from '../../src/train/data/index.js';

let dir = '';
const file = (name: string) => join(dir, name);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'adapterkit-tabular-'));
});
after(async () => {
  await rm(dir, { recursive: true });
});

test('CSV: quoted commas, doubled quotes and newlines inside fields; labels sorted from train', async () => {
  await writeFile(
    file('train.csv'),
    [
      'text,label',
      '"Great, really great",pos', // line 2
      '"She said ""no"" and left",neg', // line 3
      '"two', // line 4: a record over lines 4-5
      'lines",pos',
      'plain text,neg', // line 6
      '',
    ].join('\n'),
  );
  await writeFile(file('dev.csv'), 'text,label\n"ok, fine",pos\n');
  const task = await loadTabularTask({ files: { train: file('train.csv'), dev: file('dev.csv') }, columns: { text: 'text', label: 'label' }, kind: 'classification' });
  assert.deepEqual(task.labels, ['neg', 'pos']);
  assert.deepEqual(task.splits.train!.map((e) => [e.textA, e.label, e.source!.line]), [
    ['Great, really great', 1, 2],
    ['She said "no" and left', 0, 3],
    ['two\nlines', 1, 4],
    ['plain text', 0, 6],
  ]);
  assert.equal(task.splits.dev![0]!.textA, 'ok, fine');
  assert.deepEqual(task.metrics, ['accuracy', 'macro_f1']);
  assert.equal(task.pair, false);
});

test('CSV: wrong column count and unknown dev label, in fail and skip modes', async () => {
  await writeFile(file('t2.csv'), 'text,label\n"a, b",x\nonly one field\n"c",y\n');
  await writeFile(file('d2.csv'), 'text,label\nfine,x\n"multi\nline",z\n');
  const spec = { files: { train: file('t2.csv'), dev: file('d2.csv') }, columns: { text: 'text', label: 'label' }, kind: 'classification' as const };
  await assert.rejects(loadTabularTask(spec), /t2\.csv:3: expected 2 columns, found 1/);
  const task = await loadTabularTask({ ...spec, onBadRow: 'skip' });
  assert.deepEqual(task.labels, ['x', 'y']);
  assert.deepEqual(task.report.skipped, [
    { file: file('t2.csv'), line: 3, reason: 'expected 2 columns, found 1' },
    { file: file('d2.csv'), line: 3, reason: 'unknown label "z" (known labels: x, y)' },
  ]);
  assert.equal(task.splits.dev!.length, 1);
});

test('CSV: an unclosed quote names the line where the record starts', async () => {
  await writeFile(file('t3.csv'), 'text,label\nfine,x\n"never closed,y\nmore,x\n');
  await assert.rejects(
    loadTabularTask({ files: { train: file('t3.csv') }, columns: { text: 'text', label: 'label' }, kind: 'classification', onBadRow: 'skip' }),
    /t3\.csv:3: cannot parse CSV from this line on/,
  );
});

test('TSV without header, columns by index, pair and regression score; quotes are literal', async () => {
  await writeFile(file('train.tsv'), '0.5\t"quoted" a\tb\n4\tc\td\nx\te\tf\n');
  const task = await loadTabularTask({
    files: { train: file('train.tsv') },
    columns: { text: 1, textPair: 2, label: 0 },
    kind: 'regression',
    onBadRow: 'skip',
  });
  assert.deepEqual(task.labels, []);
  assert.equal(task.pair, true);
  assert.deepEqual(task.splits.train!.map((e) => [e.textA, e.textB, e.label]), [['"quoted" a', 'b', 0.5], ['c', 'd', 4]]);
  assert.deepEqual(task.report.skipped, [{ file: file('train.tsv'), line: 3, reason: 'score "x" is not a number' }]);
  assert.deepEqual(task.metrics, ['pearson', 'spearman']);
});

test('JSONL: a bad JSON line is reported with its line number', async () => {
  await writeFile(file('train.jsonl'), '{"t":"hello","y":2}\n\n{"t":"broken",\n{"t":"world","y":10}\n[1,2]\n');
  const spec = { files: { train: file('train.jsonl') }, columns: { text: 't', label: 'y' }, kind: 'classification' as const };
  await assert.rejects(loadTabularTask(spec), /train\.jsonl:3: invalid JSON/);
  const task = await loadTask({ ...spec, onBadRow: 'skip' });
  // numeric label names sort numerically: 2 before 10
  assert.deepEqual(task.labels, ['2', '10']);
  assert.deepEqual(task.splits.train!.map((e) => [e.textA, e.label, e.source!.line]), [['hello', 0, 1], ['world', 1, 4]]);
  assert.deepEqual(task.report.skipped.map((s) => s.line), [3, 5]);
  assert.match(task.report.skipped[1]!.reason, /empty or missing text in column "t"/);
});

test('multilabel: "a,b" strings, JSON-array strings and JSONL arrays become multi-hot rows', async () => {
  await writeFile(file('ml.csv'), 'text,tags\none,"sports,news"\ntwo,"[""arts""]"\nthree,\n');
  const csv = await loadTabularTask({ files: { train: file('ml.csv') }, columns: { text: 'text', label: 'tags', labelType: 'multilabel' }, kind: 'multilabel' });
  assert.deepEqual(csv.labels, ['arts', 'news', 'sports']);
  assert.deepEqual(csv.splits.train!.map((e) => e.label), [[0, 1, 1], [1, 0, 0], [0, 0, 0]]);
  assert.deepEqual(csv.metrics, ['micro_f1', 'exact_match']);

  await writeFile(file('ml.jsonl'), '{"text":"a","tags":["y","x"]}\n{"text":"b","tags":"x"}\n');
  const jsonl = await loadTabularTask({ files: { train: file('ml.jsonl') }, columns: { text: 'text', label: 'tags' }, kind: 'multilabel', labels: ['x', 'y', 'z'] });
  assert.deepEqual(jsonl.splits.train!.map((e) => e.label), [[1, 1, 0], [1, 0, 0]]);
});

test('a test file without the label column gives unlabeled examples; ids from an id column', async () => {
  await writeFile(file('tr.csv'), 'id,text,label\nr1,good,1\nr2,bad,0\n');
  await writeFile(file('te.csv'), 'id,text\nq1,fine\n');
  const task = await loadTabularTask({ files: { train: file('tr.csv'), test: file('te.csv') }, columns: { id: 'id', text: 'text', label: 'label' }, kind: 'classification' });
  assert.deepEqual(task.labels, ['0', '1']);
  assert.deepEqual(task.splits.train!.map((e) => e.id), ['r1', 'r2']);
  assert.deepEqual(task.splits.test, [{ id: 'q1', textA: 'fine', source: { file: file('te.csv'), line: 2 } }]);
});

test('configuration errors are specific', async () => {
  await writeFile(file('h.csv'), 'sentence,label\na,1\n');
  await assert.rejects(
    loadTabularTask({ files: { train: file('h.csv') }, columns: { text: 'text', label: 'label' }, kind: 'classification' }),
    /h\.csv:1: no column "text" \(header: sentence, label\)/,
  );
  await assert.rejects(
    loadTabularTask({ files: { train: file('h.csv') }, columns: { text: 'sentence', label: 1 }, kind: 'classification' }),
    /columns mix names and indexes/,
  );
  await assert.rejects(
    loadTabularTask({ files: { train: file('h.csv') }, columns: { text: 'sentence', label: 'label', labelType: 'score' }, kind: 'classification' }),
    /labelType "score" does not fit kind "classification"/,
  );
  await assert.rejects(
    loadTabularTask({ files: { train: join(dir, 'data.txt') }, columns: { text: 'a', label: 'b' }, kind: 'classification' }),
    /cannot tell the format from the extension ".txt"/,
  );
  await assert.rejects(loadTask({ files: { train: file('missing.csv') }, columns: { text: 'a', label: 'b' }, kind: 'classification' }), /cannot read .*missing\.csv/);
});
