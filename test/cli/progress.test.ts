/** Training progress: a plain line every ~10 % off a terminal, a cli-progress bar on one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrainProgress } from '../../src/cli/progress.js';

function feed(p: TrainProgress, total: number): void {
  p.onEvent({ type: 'start', totalSteps: total, examples: total * 4, resumedAt: 0, description: 'adapters' });
  for (let s = 1; s <= total; s++) {
    p.onEvent({ type: 'step', step: s, totalSteps: total, epoch: s > total / 2 ? 1 : 0, loss: 1 / s, lr: 1e-3, gradNorm: 1, examplesPerSec: 100 });
    if (s === total / 2) {
      p.onEvent({ type: 'eval-progress', done: 8, total: 16 });
      p.onEvent({ type: 'eval', step: s, epoch: 0, metrics: { accuracy: 0.75 }, best: true, seconds: 0.1 });
    }
  }
  p.onEvent({ type: 'stop', reason: 'done', step: total });
}

test('off a terminal: about ten plain progress lines plus evaluation lines', () => {
  const chunks: string[] = [];
  const p = new TrainProgress({ epochs: 2, tty: false, stream: { write: (s: string) => chunks.push(s) } });
  feed(p, 100);
  const lines = chunks.join('').trim().split('\n');
  const steps = lines.filter((l) => l.startsWith('step '));
  assert.equal(steps.length, 10);
  assert.equal(steps[0], 'step 10/100 (10%) | epoch 1/2 | loss 0.1000 | 100.0 ex/s | ETA ' + steps[0]?.split('ETA ')[1]);
  assert.match(steps[9] as string, /^step 100\/100 \(100%\) \| epoch 2\/2/);
  assert.ok(lines.includes('eval at step 50 (epoch 1): accuracy 0.7500  * best so far [0.1s]'), lines.join('\n'));
});

test('on a terminal: a bar with steps, epoch, loss and speed', () => {
  const chunks: string[] = [];
  const stream = { write: (s: string) => { chunks.push(s); return true; }, isTTY: true, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true, clearScreenDown: () => true, on: () => stream, removeListener: () => stream };
  const p = new TrainProgress({ epochs: 2, tty: true, stream });
  feed(p, 20);
  const text = chunks.join('');
  assert.match(text, /train \|.*\| 20\/20 steps \| epoch 2\/2 \| loss 0\.0500 \| 100\.0 ex\/s/);
  assert.match(text, /eval at step 10 \(epoch 1\): accuracy 0\.7500/);
});
