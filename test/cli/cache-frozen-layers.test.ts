/**
 * `train --cache-frozen-layers` / `--cache-memory`: the run reports what it cached and where, a
 * run with adapters in layer 0 is refused in the flag's words, and the budget alone is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cli, tempDir, TINY_BERT, writeToyCsv } from './harness.js';

function toyArgs(dir: string): string[] {
  writeToyCsv(join(dir, 'train.csv'), 48, 1);
  writeToyCsv(join(dir, 'dev.csv'), 16, 2);
  return ['train', '--train', join(dir, 'train.csv'), '--dev', join(dir, 'dev.csv'), '--text', 'sentence', '--label', 'sentiment', '--base', TINY_BERT,
    '--epochs', '1', '--batch-size', '16', '--max-length', '16', '--seed', '3', '--out', join(dir, 'run')];
}

test('train --cache-frozen-layers with --adapter-drop 1 reports the cache; a file with a tiny --cache-memory', async () => {
  const dir = tempDir();
  const r = await cli(...toyArgs(dir), '--method', 'lora', '--adapter-drop', '1', '--cache-frozen-layers');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /note: frozen-layer cache: the input of layer 1 for 48 rows, 0\.\d MiB in memory \(budget 2048\.0 MiB\); layer 0 and the embeddings run once, without dropout \(computed in \d+\.\d s\)/);
  const dir2 = tempDir();
  const f = await cli(...toyArgs(dir2), '--method', 'lora', '--adapter-drop', '1', '--cache-frozen-layers', '--cache-memory', '0.01');
  assert.equal(f.code, 0, f.stderr);
  assert.match(f.stderr, /0\.\d MiB in \S+frozen-cache\/layer-1\.f32 \(over the memory budget of 0\.0 MiB; read back by offset each batch\)/);
});

test('refusals name the flags: adapters in layer 0, and --cache-memory without --cache-frozen-layers', async () => {
  const dir = tempDir();
  const r = await cli(...toyArgs(dir), '--method', 'lora', '--cache-frozen-layers');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--cache-frozen-layers: no layer's input can be cached, since adapters\.adapter\.0\.query\.lora_A \(and \d+ more\) trains in layer 0, so the input of layer 1 changes as training goes; it needs the lowest layers frozen/);
  const m = await cli(...toyArgs(tempDir()), '--cache-memory', '100');
  assert.equal(m.code, 2, m.stderr);
  assert.match(m.stderr, /--cache-memory 100 is the budget of --cache-frozen-layers: give that flag too/);
});
