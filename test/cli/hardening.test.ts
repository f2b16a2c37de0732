/**
 * Command-line mistakes that used to lose data, crash with a stack trace after the work, or pass
 * silently: each is now refused up front with a message that names the flag, and the inputs survive.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, interruptAtFirstStep, startCli, tempDir, TINY_BERT, writeToyCsv } from './harness.js';

describe('outputs that would delete or cannot hold the result are refused before the work', () => {
  const dir = tempDir('ak-cli-hard-');
  const train = join(dir, 'train.csv');
  const data = ['--train', train, '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT, '--epochs', '1', '--max-steps', '2', '--batch-size', '8', '--max-length', '16'];
  const run = join(dir, 'run');
  before(async () => {
    writeToyCsv(train, 32, 1);
    const r = await cli('train', ...data, '--out', run);
    assert.equal(r.code, 0, r.stderr);
  });

  test('export --force and merge --force refuse an --out that is or holds an input task; the run directory is intact', async () => {
    const copy = join(dir, 'copy');
    cpSync(run, copy, { recursive: true });
    const before = readdirSync(copy).sort();
    for (const [args, re] of [
      [['export', join(copy, 'best'), '--out', copy, '--force'], /holds .*copy\/best, an input of this command: replacing it would delete that input; choose another directory/],
      [['export', join(copy, 'best'), '--out', join(copy, 'best'), '--force'], /copy\/best is an input of this command: replacing it would delete it; choose another directory/],
      [['merge', join(copy, 'best'), join(run, 'best'), '--out', copy, '--force'], /holds .*copy\/best, an input of this command: replacing it would delete that input/],
    ] as [string[], RegExp][]) {
      const r = await cli(...args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
    }
    assert.deepEqual(readdirSync(copy).sort(), before);
    assert.ok(existsSync(join(copy, 'best', 'adapterkit.json')));
  });

  test('train --out that is a file, and predict --output to a missing directory or a directory, are refused before any work', async () => {
    const file = join(dir, 'afile');
    writeFileSync(file, '');
    const t = await cli('train', ...data, '--out', file);
    assert.equal(t.code, 2, t.stderr);
    assert.match(t.stderr, /error \[BAD_CONFIG\]: --out .*afile exists and is not a directory/);
    assert.doesNotMatch(t.stderr, /base:|unexpected error/, 'refused before the plan is printed');
    const inside = await cli('train', ...data, '--out', join(file, 'x'));
    assert.match(inside.stderr, /--out .*afile\/x: .*afile is not a directory/);
    const input = join(dir, 'in.txt');
    writeFileSync(input, 'a good book\n');
    for (const [output, re] of [
      [join(dir, 'nope', 'out.jsonl'), /error \[BAD_FILE\]: --output .*nope\/out\.jsonl: the directory .*nope does not exist/],
      [dir, /error \[BAD_FILE\]: --output .*: .* is a directory; give a file name/],
    ] as [string, RegExp][]) {
      const p = await cli('predict', join(run, 'best'), '--input', input, '--output', output);
      assert.equal(p.code, 4, p.stderr);
      assert.match(p.stderr, re);
    }
  });

  test('predict piped into a reader that stops early (| head -1) exits quietly', async () => {
    const input = join(dir, 'many.txt');
    writeFileSync(input, `${Array.from({ length: 3000 }, (_, i) => `text ${i}`).join('\n')}\n`);
    const child = startCli(['predict', join(run, 'best'), '--input', input]);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    child.stdout?.once('data', () => child.stdout?.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|unexpected error/);
  });

  test('empty data files and JSONL ids: the empty split is named; a missing --id key, a null id are errors; an empty JSONL text is an empty line', async () => {
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, 'sentence,sentiment\n');
    const t = await cli('train', '--train', empty, '--dev', train, '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT, '--out', join(dir, 'e1'));
    assert.equal(t.code, 4, t.stderr);
    assert.match(t.stderr, /error \[BAD_DATA\]: .*empty\.csv: the train split is empty \(no data rows\)/);
    const d = await cli('train', ...data, '--dev', empty, '--out', join(dir, 'e2'));
    assert.equal(d.code, 4, d.stderr);
    assert.match(d.stderr, /empty\.csv: the dev split is empty \(no data rows\)/);
    const jsonl = join(dir, 'in.jsonl');
    writeFileSync(jsonl, '{"text":"a good book","key":"k1"}\n{"text":"  ","key":"k2"}\n');
    const p = await cli('predict', join(run, 'best'), '--input', jsonl, '--id', 'key');
    assert.equal(p.code, 0, p.stderr);
    const lines = p.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines[0]?.id, 'k1');
    assert.deepEqual(lines[1], { id: 'k2', empty: true });
    const missing = await cli('predict', join(run, 'best'), '--input', jsonl, '--id', 'nosuch');
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /in\.jsonl:1: no "nosuch" member \(--id nosuch\)/);
    writeFileSync(jsonl, '{"text":"a","id":null}\n');
    assert.match((await cli('predict', join(run, 'best'), '--input', jsonl)).stderr, /in\.jsonl:1: "id" must be a string or a number, got null/);
  });

  test('integers and numbers in decimal notation only; a file of unknown extension names --format', async () => {
    const hex = await cli('train', ...data, '--epochs', '0x10', '--out', join(dir, 'h'));
    assert.equal(hex.code, 2);
    assert.match(hex.stderr, /--epochs.*expected an integer, got "0x10"/);
    assert.match((await cli('train', ...data, '--lr', '0x1', '--out', join(dir, 'h'))).stderr, /expected a number, got "0x1"/);
    const txt = join(dir, 'train.txt');
    writeFileSync(txt, 'sentence,sentiment\na,pos\n');
    const f = await cli('train', '--train', txt, '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT, '--out', join(dir, 'f'));
    assert.match(f.stderr, /cannot tell the format from the extension "\.txt"; pass --format 'csv', 'tsv' or 'jsonl'/);
  });
});

test('an interrupted sweep says to run the same command again, not --resume (which sweep does not take)', async () => {
  const dir = tempDir('ak-cli-hard-sweep-');
  const train = join(dir, 'train.csv');
  const dev = join(dir, 'dev.csv');
  writeToyCsv(train, 256, 1);
  writeToyCsv(dev, 16, 2);
  mkdirSync(join(dir, 'out'));
  const r = await interruptAtFirstStep(['sweep', '--train', train, '--dev', dev, '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT,
    '--methods', 'adapters', '--lrs', '1e-3', '--epochs-grid', '3', '--sizes', '4', '--seeds', '1', '--batch-size', '4', '--max-length', '16', '--threads', '1', '--out', join(dir, 'out')]);
  assert.ok(r.sent, `no progress line to interrupt at:\n${r.stderr}`);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /error \[INTERRUPTED\]: training interrupted at step \d+; checkpoint saved in .*: run the same command again to continue the sweep/);
  assert.doesNotMatch(r.stderr, /--resume/);
});
