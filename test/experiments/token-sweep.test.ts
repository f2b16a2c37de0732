/**
 * Sweeps, ablation and the report for token-level tasks through the CLI on the tiny BERT fixture:
 * a toy tagging task (the sweep's test score agrees with `eval` of the chosen run) and SQuAD v1.1
 * extractive QA (EM/F1 selected on dev).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSweepResults } from '../../src/train/experiments/sweep-results.js';
import { cli, tempDir, TINY_BERT } from '../cli/harness.js';
import { toyTagged } from '../token-tasks/toy-tokens.js';

const FIX = 'test/fixtures/tokens';

function writeTagged(path: string, n: number, seed: number): string {
  writeFileSync(path, toyTagged(n, seed).map((s) => JSON.stringify({ tokens: s.tokens, tags: s.tags })).join('\n'));
  return path;
}

describe('token-level sweeps', () => {
  test('tagging: results per method with token accuracy, test score = eval of the best run, ablation and report', async () => {
    const dir = tempDir('ak-token-sweep-');
    const data = [
      '--task-kind', 'tagging', '--train', writeTagged(join(dir, 'train.jsonl'), 96, 1),
      '--dev', writeTagged(join(dir, 'dev.jsonl'), 32, 2), '--test', writeTagged(join(dir, 'test.jsonl'), 32, 3),
    ];
    const out = join(dir, 'sweep');
    const s = await cli('sweep', ...data, '--base', TINY_BERT, '--out', out, '--methods', 'adapters,layer-norm', '--lrs', '1e-2', '--baseline-lrs', '1e-2',
      '--epochs-grid', '1', '--sizes', '4', '--seeds', '1', '--batch-size', '8', '--max-length', '32', '--json');
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stderr, /adapterkit sweep: ak-token-sweep-\w+ \(tagging files .*train\.jsonl/, 'train.jsonl names a split: the task is named after its directory');
    const results = await readSweepResults(join(out, 'results.jsonl'));
    assert.deepEqual(results.map((r) => r.method).sort(), ['adapters-m4', 'layer-norm']);
    for (const r of results) {
      assert.equal(r.metric, 'token_accuracy');
      assert.ok(r.devScore !== null && r.devScore > 0 && r.devScore <= 1, `dev ${r.devScore}`);
      assert.ok(r.testScore !== null && r.testScore > 0 && r.testScore <= 1, `test ${r.testScore}`);
      // The test score is what `eval` computes for the run's best checkpoint, from its run.json.
      const ev = await cli('eval', join(out, r.runDir, 'best'), '--split', 'test', '--json');
      assert.equal(ev.code, 0, ev.stderr);
      assert.equal(JSON.parse(ev.stdout).metrics.token_accuracy, r.testScore);
    }

    const a = await cli('ablate', out, '--json');
    assert.equal(a.code, 0, a.stderr);
    const abl = JSON.parse(a.stdout) as { metric: string; layers: number; splits: Record<string, { baseline: number; values: (number | null)[][] }> };
    assert.equal(abl.metric, 'token_accuracy');
    assert.deepEqual(Object.keys(abl.splits), ['dev', 'test']);
    const adapters = results.find((r) => r.kind === 'adapters')!;
    assert.equal(abl.splits.dev!.baseline, adapters.devScore, 'the ablation baseline is the chosen run\'s dev score');
    assert.equal(abl.splits.dev!.values.length, abl.layers);

    const html = join(dir, 'report.html');
    const r = await cli('report', out, '--out', html);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /2 result row\(s\), 1 trade-off chart\(s\), 1 ablation heat map\(s\)/);
    assert.match(readFileSync(html, 'utf8'), /test token_accuracy vs trained parameters/);
  });

  test('extractive QA: EM/F1, selected on dev; a missing dev split is refused', async () => {
    const dir = tempDir('ak-qa-sweep-');
    const squad = join(FIX, 'squad-v1.1.json');
    const out = join(dir, 'sweep');
    const s = await cli('sweep', '--task-kind', 'qa', '--train', squad, '--dev', squad, '--base', TINY_BERT, '--out', out, '--methods', 'adapters',
      '--lrs', '1e-2', '--epochs-grid', '1', '--sizes', '4', '--seeds', '1', '--batch-size', '4', '--max-length', '32');
    assert.equal(s.code, 0, s.stderr);
    const [res] = await readSweepResults(join(out, 'results.jsonl'));
    assert.equal(res?.metric, 'f1');
    assert.ok(res?.dev && typeof res.dev.exact_match === 'number' && res.devScore !== null && res.devScore >= 0 && res.devScore <= 1);
    assert.equal(res?.test, null, 'no test split given');
    assert.match(res?.runDir ?? '', /_b4_len32$/);

    const noDev = await cli('sweep', '--task-kind', 'qa', '--train', squad, '--base', TINY_BERT, '--out', join(dir, 'x'), '--methods', 'adapters', '--epochs-grid', '1', '--sizes', '4', '--seeds', '1');
    assert.notEqual(noDev.code, 0);
    assert.match(noDev.stderr, /has no labeled dev split: experiments choose the best run on dev/);
  });
});
