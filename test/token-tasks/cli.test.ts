/**
 * train -> eval -> predict for token-level tasks through the CLI on the tiny BERT fixture:
 * CoNLL NER (seqeval metrics), toy JSONL tagging (eval agreeing with training), SQuAD v1.1 and
 * v2.0 (EM/F1, answer spans), and the flags' clear errors.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir, TINY_BERT, type CliRun } from '../cli/harness.js';
import { toyTagged } from './toy-tokens.js';

const FIX = 'test/fixtures/tokens';
const common = ['--base', TINY_BERT, '--adapter-size', '8', '--batch-size', '8', '--max-length', '32', '--seed', '3'];

describe('token-level tasks in the CLI', () => {
  const dir = tempDir('ak-cli-tokens-');
  const toyTrain = join(dir, 'toy-train.jsonl');
  const toyDev = join(dir, 'toy-dev.jsonl');
  const toyOut = join(dir, 'toy');
  let toy: CliRun;

  before(async () => {
    writeFileSync(toyTrain, toyTagged(160, 1).map((s) => JSON.stringify({ tokens: s.tokens, tags: s.tags })).join('\n'));
    writeFileSync(toyDev, toyTagged(48, 2).map((s) => JSON.stringify({ tokens: s.tokens, tags: s.tags })).join('\n'));
    toy = await cli('train', '--task-kind', 'tagging', '--train', toyTrain, '--dev', toyDev, ...common, '--epochs', '3', '--lr', '1e-2', '--name', 'toytag', '--out', toyOut, '--json');
  });

  test('tagging from JSONL: train reports token accuracy; eval from run.json reproduces it; predict tags texts and word lists', async () => {
    assert.equal(toy.code, 0, toy.stderr);
    const summary = JSON.parse(toy.stdout);
    assert.match(toy.stderr, /tagging, plain scheme/);
    const acc = summary.best.metrics.token_accuracy;
    assert.ok(acc > 0.5, `token accuracy ${acc}`);
    const ev = await cli('eval', join(toyOut, 'best'), '--json');
    assert.equal(ev.code, 0, ev.stderr);
    assert.equal(JSON.parse(ev.stdout).metrics.token_accuracy, acc);

    const input = join(dir, 'in.txt');
    writeFileSync(input, 'the big cats sat on a red book\n\nwe ran\n');
    const p = await cli('predict', join(toyOut, 'best'), '--input', input);
    assert.equal(p.code, 0, p.stderr);
    const all = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(all.map((l) => l.id), ['1', '2', '3'], 'one line out per line in');
    assert.deepEqual(all[1], { id: '2', empty: true });
    const lines = all.filter((l) => !l.empty);
    assert.deepEqual(lines[0].words, ['the', 'big', 'cats', 'sat', 'on', 'a', 'red', 'book']);
    assert.equal(lines[0].tags.length, 8);
    for (const t of lines[0].tags) assert.ok(['O', 'A', 'N'].includes(t));
    const jsonl = join(dir, 'in.jsonl');
    writeFileSync(jsonl, `${JSON.stringify({ tokens: ['the', 'big', 'cats', 'sat', 'on', 'a', 'red', 'book'] })}\n`);
    const q = await cli('predict', join(toyOut, 'best'), '--input', jsonl);
    assert.deepEqual(JSON.parse(q.stdout).tags, lines[0].tags);
    writeFileSync(jsonl, '{"tokens": []}\n');
    const bad = await cli('predict', join(toyOut, 'best'), '--input', jsonl);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /in\.jsonl:1: "tokens" must be a non-empty array/);
  });

  test('CoNLL NER: BIO scheme, seqeval entity metrics in train and eval', async () => {
    const out = join(dir, 'ner');
    const r = await cli('train', '--task-kind', 'tagging', '--train', join(FIX, 'conll2003-train.txt'), '--dev', join(FIX, 'conll2003-dev.txt'), ...common,
      '--epochs', '1', '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /BIO scheme/);
    const metrics = JSON.parse(r.stdout).best.metrics;
    assert.deepEqual(Object.keys(metrics), ['entity_f1', 'entity_precision', 'entity_recall', 'token_accuracy']);
    const ev = await cli('eval', join(out, 'best'), '--task-kind', 'tagging', '--train', join(FIX, 'conll2003-train.txt'), '--dev', join(FIX, 'conll2003-dev.txt'), '--json');
    assert.equal(ev.code, 0, ev.stderr);
    assert.deepEqual(JSON.parse(ev.stdout).metrics, metrics);
    const manifest = JSON.parse(readFileSync(join(out, 'best', 'adapterkit.json'), 'utf8'));
    assert.equal(manifest.head.kind, 'tagging');
    assert.equal(manifest.head.scheme, 'BIO');
  });

  test('SQuAD v1.1 and v2.0: EM/F1 in train and eval; predict gives answers with character spans', async () => {
    for (const v of ['v1.1', 'v2.0']) {
      const file = join(FIX, `squad-${v}.json`);
      const out = join(dir, `squad-${v}`);
      const r = await cli('train', '--task-kind', 'qa', '--train', file, '--dev', file, ...common, '--epochs', '2', '--doc-stride', '8', '--out', out, '--json');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, v === 'v2.0' ? /SQuAD v2\.0/ : /SQuAD v1\.1/);
      const metrics = JSON.parse(r.stdout).best.metrics;
      assert.deepEqual(Object.keys(metrics).sort(), ['exact_match', 'f1']);
      const manifest = JSON.parse(readFileSync(join(out, 'best', 'adapterkit.json'), 'utf8'));
      assert.equal(manifest.head.qa.allowNoAnswer, v === 'v2.0');
      assert.equal(manifest.head.qa.stride, 8);
      const ev = await cli('eval', join(out, 'best'), '--json');
      assert.equal(ev.code, 0, ev.stderr);
      assert.deepEqual(JSON.parse(ev.stdout).metrics, metrics);
      const p = await cli('predict', join(out, 'best'), '--input', file);
      assert.equal(p.code, 0, p.stderr);
      const squad = JSON.parse(readFileSync(file, 'utf8'));
      const contexts = new Map<string, string>();
      for (const a of squad.data) for (const para of a.paragraphs) for (const qa of para.qas) contexts.set(qa.id, para.context);
      const lines = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.length, contexts.size);
      for (const l of lines) {
        assert.ok(contexts.has(l.id));
        if (l.answer !== '') assert.equal(contexts.get(l.id)!.slice(l.start, l.end), l.answer);
        else assert.equal(l.start, null);
      }
    }
  });

  test('bad flags and inputs are refused with clear messages', async () => {
    const r1 = await cli('train', '--task-kind', 'qa', '--train', join(FIX, 'squad-v1.1.json'), '--text', 'x', ...common);
    assert.notEqual(r1.code, 0);
    assert.match(r1.stderr, /--task-kind qa reads SQuAD JSON files given with --train\/--dev\/--test; --text do\(es\) not apply/);
    const r2 = await cli('train', '--task-kind', 'tagging', ...common);
    assert.match(r2.stderr, /--task-kind tagging needs --train <file>/);
    const r3 = await cli('train', '--dataset', 'spam', '--doc-stride', '8', ...common);
    assert.match(r3.stderr, /--doc-stride, --max-answer-length, --n-best and --null-threshold apply to QA tasks only/);
    const r4 = await cli('train', '--task-kind', 'tagging', '--train', join(FIX, 'conll2003-bad.txt'), ...common);
    assert.notEqual(r4.code, 0);
    assert.match(r4.stderr, /conll2003-bad\.txt:\d+/);
    const r5 = await cli('predict', join(toyOut, 'best'), '--input', join(FIX, 'squad-v1.1.json'));
    assert.match(r5.stderr, /--format squad is for QA tasks; this task tags words/);
  });
});
