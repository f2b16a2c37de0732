import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GLUE_TASK_NAMES, devSplitNames, loadGlueTask, loadTask } from '../../src/train/data/index.js';
import { AdapterkitError } from '../../src/errors.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'glue');
const dirOf = (task: string) => join(FIXTURES, task);

// task -> expected [labels, pair, metrics, split sizes]
const EXPECTED: Record<string, { labels: string[]; pair: boolean; metrics: string[]; sizes: Record<string, number> }> = {
  CoLA: { labels: ['0', '1'], pair: false, metrics: ['matthews'], sizes: { train: 7, dev: 5, test: 5 } },
  'SST-2': { labels: ['0', '1'], pair: false, metrics: ['accuracy'], sizes: { train: 6, dev: 5, test: 5 } },
  MRPC: { labels: ['0', '1'], pair: true, metrics: ['f1', 'accuracy'], sizes: { train: 6, dev: 5, test: 5 } },
  'STS-B': { labels: [], pair: true, metrics: ['pearson', 'spearman'], sizes: { train: 6, dev: 5, test: 5 } },
  QQP: { labels: ['0', '1'], pair: true, metrics: ['accuracy', 'f1'], sizes: { train: 6, dev: 5, test: 5 } },
  MNLI: {
    labels: ['contradiction', 'entailment', 'neutral'], pair: true, metrics: ['accuracy'],
    sizes: { train: 6, dev_matched: 5, dev_mismatched: 6, test_matched: 5, test_mismatched: 5 },
  },
  QNLI: { labels: ['entailment', 'not_entailment'], pair: true, metrics: ['accuracy'], sizes: { train: 6, dev: 5, test: 5 } },
  RTE: { labels: ['entailment', 'not_entailment'], pair: true, metrics: ['accuracy'], sizes: { train: 5, dev: 5, test: 5 } },
  WNLI: { labels: ['0', '1'], pair: true, metrics: ['accuracy'], sizes: { train: 5, dev: 5, test: 5 } },
};

for (const name of GLUE_TASK_NAMES) {
  test(`GLUE ${name}: fixture parses with the standard labels, metrics and splits`, async () => {
    const task = await loadGlueTask(name, dirOf(name));
    const want = EXPECTED[name]!;
    assert.equal(task.name, name);
    assert.deepEqual(task.labels, want.labels);
    assert.equal(task.pair, want.pair);
    assert.deepEqual(task.metrics, want.metrics);
    const sizes = Object.fromEntries(Object.entries(task.splits).map(([k, v]) => [k, v.length]));
    assert.deepEqual(sizes, want.sizes);
    assert.deepEqual(task.report.skipped, []);
    for (const [split, examples] of Object.entries(task.splits)) {
      for (const e of examples) {
        assert.ok(e.textA.length > 0);
        assert.equal(e.textB !== undefined, want.pair, `${split} ${e.id} pair`);
        if (split.startsWith('test')) assert.equal(e.label, undefined);
        else if (task.kind === 'regression') assert.ok(typeof e.label === 'number' && e.label >= 0 && e.label <= 5);
        else assert.ok(Number.isInteger(e.label) && (e.label as number) < task.labels.length);
      }
    }
  });
}

test('CoLA: header-less train rows read source/label/star/sentence; test has an index header', async () => {
  const task = await loadGlueTask('cola', dirOf('CoLA'));
  const [first, second] = task.splits.train!;
  assert.equal(first!.textA, "Our neighbours won't lend us the ladder, let alone the van.");
  assert.equal(first!.label, 1);
  assert.equal(second!.label, 0);
  assert.deepEqual(first!.source, { file: join(dirOf('CoLA'), 'train.tsv'), line: 1 });
  // quote characters are literal text
  assert.equal(task.splits.train![5]!.textA, 'Who did you wonder whether "Sam" saw?');
  assert.equal(task.splits.test![0]!.id, '0');
  assert.equal(task.splits.test![0]!.textA, 'Harriet paints walls green.');
});

test('MRPC: byte-order mark before the header, columns by name, quotes kept', async () => {
  const task = await loadTask({ glue: 'MRPC', dir: dirOf('MRPC') });
  const third = task.splits.train![2]!;
  assert.equal(third.textA, 'The senator said the bill was "dead on arrival" in the chamber.');
  assert.equal(third.textB, 'According to the senator, the bill was "dead on arrival".');
  assert.equal(third.label, 1);
  assert.equal(third.source!.line, 4);
  assert.equal(task.splits.train![1]!.label, 0);
  assert.equal(task.splits.test![4]!.id, '4');
});

test('STS-B: score column as a real-valued label', async () => {
  const task = await loadGlueTask('STS-B', dirOf('STS-B'));
  assert.equal(task.kind, 'regression');
  assert.deepEqual(task.splits.train!.map((e) => e.label), [5, 3.8, 0, 3.4, 4.2, 0.25]);
  assert.equal(task.splits.dev![0]!.textB, 'A man wearing a hard hat is dancing.');
});

test('QQP: ids from the id column, question pair', async () => {
  const task = await loadGlueTask('QQP', dirOf('QQP'));
  const e = task.splits.train![0]!;
  assert.equal(e.id, '133273');
  assert.equal(e.textA, 'How do I learn to cook rice properly?');
  assert.equal(e.textB, 'What is the best way to cook rice?');
  assert.equal(e.label, 1);
});

test('MNLI: gold_label (not label1) from both dev sets, genres matched and mismatched', async () => {
  const task = await loadGlueTask('MNLI', dirOf('MNLI'));
  // dev_matched row 0: label1..5 = e,e,n,e,e and gold entailment -> index 1
  assert.deepEqual(task.splits.dev_matched!.map((e) => e.label), [1, 0, 2, 1, 0]);
  assert.deepEqual(task.splits.dev_mismatched!.map((e) => e.label), [1, 0, 2, 0, 1, 2]);
  assert.equal(task.splits.dev_mismatched![0]!.textA, 'Your gift helped us open a new shelter.');
  assert.equal(task.splits.train![1]!.textA, 'I don\'t know what "fair" means to them.');
  assert.equal(task.splits.test_mismatched!.length, 5);
  assert.deepEqual(devSplitNames(task), ['dev_matched', 'dev_mismatched']);
  assert.deepEqual(devSplitNames(await loadGlueTask('RTE', dirOf('RTE'))), ['dev']);
});

test('QNLI / RTE use entailment, not_entailment in that order', async () => {
  const qnli = await loadGlueTask('QNLI', dirOf('QNLI'));
  assert.deepEqual(qnli.splits.train!.map((e) => e.label), [0, 1, 0, 1, 0, 1]);
  const rte = await loadGlueTask('RTE', dirOf('RTE'));
  assert.deepEqual(rte.splits.dev!.map((e) => e.label), [0, 1, 0, 1, 0]);
});

/** Copies a fixture task to a temp dir and replaces its train.tsv. */
async function withBrokenTrain(task: string, edit: (lines: string[]) => string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'adapterkit-glue-'));
  await cp(dirOf(task), dir, { recursive: true });
  const file = join(dir, 'train.tsv');
  const lines = (await readFile(file, 'utf8')).split('\n');
  await writeFile(file, edit(lines).join('\n'));
  return dir;
}

test('bad rows fail by default, naming file, line and problem', async () => {
  const dir = await withBrokenTrain('RTE', (lines) => {
    lines[2] = '1\tThe singer cancelled her tour because of illness.\tnot_entailment'; // 3 columns
    return lines;
  });
  try {
    await assert.rejects(loadGlueTask('RTE', dir), (e: unknown) => {
      assert.ok(e instanceof AdapterkitError);
      assert.equal(e.code, 'BAD_DATA');
      assert.match(e.message, /train\.tsv:3: expected 4 tab-separated columns, found 3/);
      assert.ok(e.message.startsWith(join(dir, 'train.tsv')));
      return true;
    });
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('skip mode records every bad row in the report and keeps the rest', async () => {
  const dir = await withBrokenTrain('RTE', (lines) => {
    lines[2] = '1\tThe singer cancelled her tour.\tThe tour ended.'; // line 3: 3 columns
    lines[3] = '2\tHeavy snow closed schools.\tSchools were closed.\tmaybe'; // line 4: unknown label
    lines[4] = '3\t \tThe company is based in Sweden.\tnot_entailment'; // line 5: empty text
    return lines;
  });
  try {
    const task = await loadGlueTask('RTE', dir, { onBadRow: 'skip' });
    assert.equal(task.splits.train!.length, 2);
    assert.deepEqual(task.splits.train!.map((e) => e.source!.line), [2, 6]);
    const file = join(dir, 'train.tsv');
    assert.deepEqual(task.report.skipped, [
      { file, line: 3, reason: 'expected 4 tab-separated columns, found 3' },
      { file, line: 4, reason: 'unknown label "maybe" (expected one of entailment, not_entailment)' },
      { file, line: 5, reason: 'empty text in column "sentence1"' },
    ]);
    await assert.rejects(loadGlueTask('RTE', dir), /train\.tsv:3: expected 4/);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('STS-B: non-numeric and out-of-range scores are bad rows', async () => {
  const dir = await withBrokenTrain('STS-B', (lines) => {
    lines[1] = lines[1]!.replace(/\t5\.000$/, '\tfive');
    lines[2] = lines[2]!.replace(/\t3\.800$/, '\t7.5');
    return lines;
  });
  try {
    await assert.rejects(loadGlueTask('STS-B', dir), /train\.tsv:2: score "five" is not a number/);
    const task = await loadGlueTask('STS-B', dir, { onBadRow: 'skip' });
    assert.deepEqual(task.report.skipped.map((s) => [s.line, s.reason]), [[2, 'score "five" is not a number'], [3, 'score 7.5 is outside 0-5']]);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('missing header column, unknown task and missing directory are reported', async () => {
  const dir = await withBrokenTrain('QNLI', (lines) => {
    lines[0] = 'index\tquestion\ttext\tlabel';
    return lines;
  });
  try {
    await assert.rejects(loadGlueTask('QNLI', dir), /train\.tsv:1: header has no "sentence" column \(columns: index, question, text, label\)/);
  } finally {
    await rm(dir, { recursive: true });
  }
  await assert.rejects(loadGlueTask('SQuAD', FIXTURES), /unknown GLUE task "SQuAD"; known: CoLA, SST-2, MRPC/);
  await assert.rejects(loadGlueTask('RTE', join(FIXTURES, 'nope')), /RTE: .*nope\/train\.tsv not found/);
  await assert.rejects(loadGlueTask('RTE', dirOf('RTE'), { onBadRow: 'ignore' as never }), /onBadRow must be 'fail' or 'skip'/);
  await assert.rejects(loadTask({} as never), /task spec needs one of: \{ builtin \}, \{ glue, dir \}/);
});
