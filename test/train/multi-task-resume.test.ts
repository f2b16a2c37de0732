/**
 * Mixed-task runs interrupted and resumed end where an uninterrupted run ends (weights, optimizer
 * steps, best checkpoints, logs; dropout on), also with a tagging task and prefix and prompt tasks
 * in the batches, and per-task early stopping (patience) takes a stalled task out of the batches
 * while the others train on; a task whose adapter config changed does not resume.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfig, loraConfig, methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import type { Example } from '../../src/train/data/types.js';
import { trainMultiTask, type MultiTaskEvent, type MultiTaskOptions, type MultiTaskTask } from '../../src/train/multi-task-trainer.js';
import { TaskModel } from '../../src/train/task-model.js';
import { toyExamples } from './toy-task.js';
import { toyTagged } from '../token-tasks/toy-tokens.js';
import { tempDir } from '../temp-dir.js';

const TINY = 'test/fixtures/models/tiny-bert';
const tmp = () => tempDir('adapterkit-mt-resume-');
const third = (e: Example): Example => ({ ...e, label: /the (cat|dog)/.test(e.textA) ? 0 : /(this model|that book|the house)/.test(e.textA) ? 1 : 2 });

/**
 * Two fresh tasks (same seeds every call): a bottleneck sentiment task selected on ROC AUC and a
 * LoRA subject task whose dev set is one example (its accuracy can improve once at most). With
 * the settings below the subject task stops at step 10; the sentiment task trains past step 11.
 */
function tasks(base: BaseModel, subjAlpha = 8): MultiTaskTask[] {
  return [
    { name: 'sent', model: TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 8, trainLayerNorms: true }) }, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 1 }), train: toyExamples(64, 21), dev: toyExamples(48, 23), metrics: ['roc_auc', 'accuracy'], positive: 1 },
    { name: 'subj', model: TaskModel.create(base, { mode: { kind: 'adapters', adapter: loraConfig({ r: 4, alpha: subjAlpha }) }, head: headConfig({ kind: 'classification', labels: ['t', 'd', 'h'] }), seed: 2 }), train: toyExamples(32, 22).map(third), dev: toyExamples(1, 24).map(third), metrics: ['accuracy'] },
  ];
}

const lines = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: number; epoch?: number; counts?: Record<string, number>; time?: string });
const withoutTime = (xs: ReturnType<typeof lines>) => xs.map(({ time: _, ...rest }) => rest);

describe('mixed-task resume and patience on tiny-bert', async () => {
  const base = await loadBase(TINY);
  // batches in draw order: the stops above were found for this order (the prefix test below resumes a length-bucketed run)
  const settings = (outDir: string): Omit<MultiTaskOptions, 'tasks'> => ({ outDir, epochs: 3, batchSize: 8, maxLength: 16, lr: 3e-3, seed: 6, evalEvery: 2, patience: 3, lengthBucketing: false });

  test('interrupted at step 11 and resumed: the same weights, optimizer steps, stops, best checkpoints and logs as one uninterrupted run', async () => {
    const whole = tasks(base);
    const outA = tmp();
    const events: MultiTaskEvent[] = [];
    const a = await trainMultiTask({ ...settings(outA), tasks: whole, onEvent: (e) => events.push(e) });
    const stoppedSubj = a.tasks[1]?.stoppedAt;
    assert.ok(stoppedSubj !== undefined && stoppedSubj < 11, `the subject task stops early, before the interruption (at ${stoppedSubj})`);
    assert.ok(a.steps > 11, `the sentiment task trains past the interruption (${a.steps} steps)`);
    assert.ok(events.some((e) => e.type === 'task-stopped' && e.task === 'subj'));

    const outB = tmp();
    const first = tasks(base);
    const ctl = new AbortController();
    await assert.rejects(trainMultiTask({ ...settings(outB), tasks: first, signal: ctl.signal, onEvent: (e) => { if (e.type === 'step' && e.step === 11) ctl.abort(); } }),
      /mixed-task training interrupted at step 11; a checkpoint of every task is saved: continue with the option resume: true/);
    await assert.rejects(trainMultiTask({ ...settings(outB), tasks: tasks(base) }), /already holds a checkpoint of an earlier run: continue it with the option resume: true/);
    await assert.rejects(trainMultiTask({ ...settings(outB), lr: 2e-2, tasks: tasks(base), resume: true }), /cannot resume .*: the run was started with different lr \(0\.003 then, 0\.02 now\)/);
    await assert.rejects(trainMultiTask({ ...settings(outB), tasks: tasks(base, 16), resume: true }), /cannot resume .*: the run was started with different setups \(\[1\]\.mode\.adapter\.alpha 8 then, 16 now\)$/);
    const second = tasks(base);
    const notes: string[] = [];
    const b = await trainMultiTask({ ...settings(outB), tasks: second, resume: true, onEvent: (e) => { if (e.type === 'note') notes.push(e.message); } });
    assert.ok(notes.some((n) => /resuming .* at step 11/.test(n)), notes.join('; '));

    assert.equal(b.steps, a.steps);
    assert.equal(b.stopReason, a.stopReason);
    for (const [i, t] of a.tasks.entries()) {
      const u = b.tasks[i];
      assert.equal(u?.steps, t.steps, `${t.name}: optimizer steps`);
      assert.equal(u?.seen, t.seen, `${t.name}: examples seen`);
      assert.equal(u?.stoppedAt, t.stoppedAt, `${t.name}: stopped at`);
      assert.deepEqual(u?.best, t.best, `${t.name}: best`);
      const wa = whole[i]?.model.trainable ?? [];
      const wb = second[i]?.model.trainable ?? [];
      wa.forEach((x, k) => assert.deepEqual(Array.from(wb[k]?.data ?? []), Array.from(x.data), `${t.name}: ${x.name} after the resumed run`));
      assert.deepEqual(withoutTime(lines(join(outB, t.name, 'metrics.jsonl'))), withoutTime(lines(join(outA, t.name, 'metrics.jsonl'))), `${t.name}: metrics.jsonl`);
    }
    assert.deepEqual(withoutTime(lines(join(outB, 'metrics.jsonl'))).filter((x) => x.type === 'train'), withoutTime(lines(join(outA, 'metrics.jsonl'))).filter((x) => x.type === 'train'));
    for (const t of [...whole, ...first, ...second]) await t.model.dispose();
  });

  test('with a prefix task and a tagging task with a prompt: interrupted at step 5 and resumed, the weights and best checkpoints of one uninterrupted run', async () => {
    const mixed = (): MultiTaskTask[] => [
      { name: 'sent', model: TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('prefix-flat', { prefix_length: 3, dropout: 0.1 }) }, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 3 }), train: toyExamples(24, 31), dev: toyExamples(8, 32), metrics: ['accuracy'] },
      { name: 'tags', model: TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('prompt', { prompt_length: 2 }) }, head: headConfig({ kind: 'tagging', labels: ['N', 'A', 'O'], scheme: 'plain' }), seed: 4 }), train: toyTagged(24, 33), dev: toyTagged(8, 34) },
    ];
    const run = (outDir: string, ts: MultiTaskTask[], extra: Partial<MultiTaskOptions> = {}) => trainMultiTask({ outDir, tasks: ts, epochs: 2, batchSize: 8, maxLength: 24, lr: 1e-2, seed: 7, evalEvery: 3, ...extra });
    const whole = mixed();
    const outA = tmp();
    const a = await run(outA, whole);
    const outB = tmp();
    const ctl = new AbortController();
    await assert.rejects(run(outB, mixed(), { signal: ctl.signal, onEvent: (e) => { if (e.type === 'step' && e.step === 5) ctl.abort(); } }), /interrupted at step 5/);
    const second = mixed();
    const b = await run(outB, second, { resume: true });
    assert.equal(b.steps, a.steps);
    for (const [i, t] of a.tasks.entries()) {
      assert.deepEqual(b.tasks[i]?.best, t.best, `${t.name}: best`);
      whole[i]!.model.trainable.forEach((x, k) => assert.deepEqual(Array.from(second[i]!.model.trainable[k]!.data), Array.from(x.data), `${t.name}: ${x.name} after the resumed run`));
    }
    assert.deepEqual(Object.keys(a.tasks[1]?.best?.metrics ?? {}), ['token_accuracy']);
    for (const t of [...whole, ...second]) await t.model.dispose();
  });

  test('patience: a stalled task leaves the batches and takes no more steps; the other fills the batches; all stalled ends the run', async () => {
    const out = tmp();
    const ts = tasks(base);
    const r = await trainMultiTask({ ...settings(out), tasks: ts });
    const subj = r.tasks[1];
    assert.ok(subj?.stoppedAt !== undefined);
    const log = lines(join(out, 'metrics.jsonl')).filter((x) => x.type === 'train');
    const after = log.filter((x) => (x.step as number) > (subj.stoppedAt as number));
    assert.ok(after.length > 0, 'the run goes on after the subject task stopped');
    for (const [i, x] of after.entries()) {
      assert.equal(x.counts?.subj, 0, `step ${x.step}: no subject examples after the stop`);
      const lastOfEpoch = i === after.length - 1 || after[i + 1]?.epoch !== x.epoch;
      if (!lastOfEpoch) assert.equal(x.counts?.sent, 8, `step ${x.step}: the batch is full of the other task`);
    }
    assert.ok(lines(join(out, 'subj', 'metrics.jsonl')).every((x) => x.type !== 'train' || (x.step as number) <= (subj.stoppedAt as number)));
    assert.ok(lines(join(out, 'metrics.jsonl')).some((x) => x.type === 'task-stopped'));
    for (const t of ts) await t.model.dispose();
    // with a sentiment dev set of one example per class (its ROC AUC can improve twice at most), that task stalls too, and the run ends before its epochs
    const dev = toyExamples(48, 23);
    const both = tasks(base).map((t) => (t.name === 'sent' ? ({ ...t, dev: [dev.find((e) => e.label === 0)!, dev.find((e) => e.label === 1)!] } as MultiTaskTask) : t));
    const all = await trainMultiTask({ ...settings(tmp()), tasks: both });
    assert.equal(all.stopReason, 'early-stop');
    assert.ok(all.steps < 3 * Math.ceil(96 / 8), `stopped early at step ${all.steps}`);
    assert.ok(all.tasks.every((t) => t.stoppedAt !== undefined));
    for (const t of both) await t.model.dispose();
  });
});
