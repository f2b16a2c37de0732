/**
 * Resuming after a kill, in-process: bit-identical to an uninterrupted run (dropout masks
 * included), recovery of whichever complete copy of `checkpoint/` and `best/` a kill left (also
 * the layout older versions left), leftovers removed, corrupt checkpoints and logs as coded
 * errors, a diverging loss as TRAINING_DIVERGED, and the epochs a run reports.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterkitError } from '../../src/errors.js';
import { adapterConfig } from '../../src/adapters/methods/index.js';
import { inCliTerms } from '../../src/cli/library-terms.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { TaskModel } from '../../src/train/task-model.js';
import { train, type TrainEvent, type TrainOptions } from '../../src/train/trainer.js';
import type { TrainingMode } from '../../src/train/modes.js';
import { toyExamples } from './toy-task.js';
import { tempDir } from '../temp-dir.js';

const trainSet = toyExamples(96, 1);
const dev = toyExamples(32, 2);
const head = headConfig({ kind: 'classification', labels: ['negative', 'positive'] });
const adapters: TrainingMode = { kind: 'adapters', adapter: adapterConfig({ size: 8 }) };
const base = await loadBase('test/fixtures/models/tiny-bert');

const opts = (outDir: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  outDir, taskName: 'toy', metrics: ['accuracy', 'f1'], epochs: 2, batchSize: 16, maxLength: 16, lr: 1e-2, seed: 3, evalEvery: 3, ...extra,
});

function logLines(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const { time: _t, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return rest;
  });
}

function files(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));
}

function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid as number;
}

/** Trains with a fresh model; collects events. */
async function run(dir: string, extra: Partial<TrainOptions> = {}, mode: TrainingMode = adapters): Promise<{ events: TrainEvent[]; result?: Awaited<ReturnType<typeof train>>; error?: unknown }> {
  const events: TrainEvent[] = [];
  const model = TaskModel.create(base, { mode, head, seed: 7, threads: 1 });
  try {
    const result = await train(model, trainSet, dev, opts(dir, { ...extra, onEvent: (e) => { events.push(e); extra.onEvent?.(e); } }));
    return { events, result };
  } catch (error) {
    return { events, error };
  } finally {
    await model.dispose();
  }
}

/** A run interrupted after `step` steps (a checkpoint at that step). */
async function interrupted(step: number): Promise<string> {
  const dir = tempDir('ak-resume-');
  const ac = new AbortController();
  const r = await run(dir, { signal: ac.signal, onEvent: (e) => { if (e.type === 'step' && e.step === step) ac.abort(); } });
  assert.equal((r.error as AdapterkitError).code, 'INTERRUPTED');
  return dir;
}

const notes = (events: TrainEvent[]) => events.flatMap((e) => (e.type === 'note' ? [e.message] : []));
const resumedAt = (events: TrainEvent[]) => (events.find((e) => e.type === 'start') as Extract<TrainEvent, { type: 'start' }>).resumedAt;

describe('resume', () => {
  const reference = tempDir('ak-resume-ref-');

  test('a resumed run is bit-identical to an uninterrupted one: every loss, dev score and saved byte', async () => {
    await run(reference);
    const dir = await interrupted(5);
    const r = await run(dir, { resume: true });
    assert.equal(resumedAt(r.events), 5);
    assert.deepEqual(logLines(dir), logLines(reference));
    assert.deepEqual(files(join(dir, 'best')), files(join(reference, 'best')));
    assert.deepEqual(files(join(dir, 'checkpoint')), files(join(reference, 'checkpoint')));
  });

  test('killed while checkpoint/ was being replaced: resume takes its previous complete copy, says so, and cleans up', async () => {
    const dir = await interrupted(7); // checkpoints at steps 3, 6 and 7
    const pid = deadPid();
    renameSync(join(dir, 'checkpoint'), join(dir, `.checkpoint.old-${pid}-0badc0de`));
    mkdirSync(join(dir, `.checkpoint.tmp-${pid}-0badc0de`));
    writeFileSync(join(dir, `.checkpoint.tmp-${pid}-0badc0de`, 'adapter.safetensors'), 'half');
    cpSync(join(dir, 'best'), join(dir, `best.tmp-${pid}`), { recursive: true });
    mkdirSync(join(dir, `checkpoint.new.tmp-${pid}`));
    writeFileSync(join(dir, `.checkpoint.old-${pid}-0badc0de`, `optimizer.safetensors.tmp-${pid}`), 'half');
    writeFileSync(join(dir, 'metrics.jsonl'), `${readFileSync(join(dir, 'metrics.jsonl'), 'utf8')}{"type":"train","step":8,"lo`); // a line the kill cut
    const r = await run(dir, { resume: true });
    assert.equal(r.error, undefined);
    assert.equal(resumedAt(r.events), 7);
    const n = notes(r.events).join('\n');
    assert.match(n, /checkpoint\/ was missing \(the run was killed while replacing it\): restored its previous complete copy from \.checkpoint\.old-/);
    assert.match(n, /removed 1 half-written copy of checkpoint\//);
    assert.match(n, new RegExp(`removed 3 leftover temporary file\\(s\\): .*best\\.tmp-${pid}`));
    assert.deepEqual(readdirSync(dir).sort(), ['best', 'checkpoint', 'metrics.jsonl']);
    assert.deepEqual(logLines(dir), logLines(reference));
  });

  test('a run killed by an older version between deleting checkpoint/ and renaming checkpoint.new (or best.tmp-<pid>) resumes from the new copy', async () => {
    const dir = await interrupted(6);
    const pid = deadPid();
    renameSync(join(dir, 'checkpoint'), join(dir, 'checkpoint.new'));
    renameSync(join(dir, 'best'), join(dir, `best.tmp-${pid}`));
    const r = await run(dir, { resume: true });
    assert.equal(r.error, undefined);
    assert.equal(resumedAt(r.events), 6);
    assert.match(notes(r.events).join('\n'), /checkpoint\/ was missing .*: restored from the complete checkpoint\.new/);
    assert.match(notes(r.events).join('\n'), new RegExp(`best/ was missing .*: restored from the complete best\\.tmp-${pid}`));
    assert.deepEqual(readdirSync(dir).sort(), ['best', 'checkpoint', 'metrics.jsonl']);
    assert.deepEqual(logLines(dir), logLines(reference));
  });

  test('a run resumes only with the setup it started with: a changed adapter field (alike in the one-line description) or optimizer setting is named; an older checkpoint without these keys resumes', async () => {
    const dir = await interrupted(4);
    const relu: TrainingMode = { kind: 'adapters', adapter: adapterConfig({ size: 8, non_linearity: 'relu' }) };
    const other = await run(dir, { resume: true }, relu);
    assert.equal((other.error as AdapterkitError).code, 'BAD_CONFIG');
    assert.match(String((other.error as Error).message), /cannot resume .*: the run was started with different setup \(mode\.adapter\.non_linearity "gelu" then, "relu" now\)$/);
    const decay = await run(dir, { resume: true, weightDecay: 0.1, clipNorm: 5 });
    assert.match(String((decay.error as Error).message), /different optimizer \(clipNorm 1 then, 5 now; weightDecay 0\.01 then, 0\.1 now\)$/);
    // trainer.json of a version before these keys: the run resumes, as it did then
    const state = join(dir, 'checkpoint', 'trainer.json');
    const saved = JSON.parse(readFileSync(state, 'utf8')) as { signature: Record<string, unknown> };
    assert.deepEqual(Object.keys(saved.signature).filter((k) => ['setup', 'optimizer', 'frozenPrecision'].includes(k)), ['setup', 'frozenPrecision', 'optimizer']);
    for (const k of ['setup', 'optimizer', 'frozenPrecision']) delete saved.signature[k];
    writeFileSync(state, JSON.stringify(saved));
    const r = await run(dir, { resume: true });
    assert.equal(r.error, undefined);
    assert.equal(resumedAt(r.events), 4);
    assert.deepEqual(logLines(dir), logLines(reference));
  });

  test('no checkpoint yet: --resume says it starts at step 0', async () => {
    const dir = tempDir('ak-resume-');
    writeFileSync(join(dir, 'metrics.jsonl'), '{"type":"train","step":1}\n');
    const r = await run(dir, { resume: true, maxSteps: 2 });
    assert.match(notes(r.events).join('\n'), /no checkpoint in .* yet \(none was saved before the run stopped\): starting at step 0/);
  });

  test('a corrupt trainer.json or log line is BAD_FILE naming the file, not a SyntaxError', async () => {
    const dir = await interrupted(4);
    const state = join(dir, 'checkpoint', 'trainer.json');
    const good = readFileSync(state, 'utf8');
    writeFileSync(state, good.slice(0, 40));
    let r = await run(dir, { resume: true });
    assert.ok(r.error instanceof AdapterkitError && r.error.code === 'BAD_FILE', String(r.error));
    assert.match((r.error as Error).message, /trainer\.json is not valid JSON/);
    writeFileSync(state, good.replace(/"step": 4/, '"step": "four"'));
    r = await run(dir, { resume: true });
    assert.match(String((r.error as Error).message), /trainer\.json: "step" must be a non-negative integer, got a string; the checkpoint cannot be resumed/);
    writeFileSync(state, good);
    const log = join(dir, 'metrics.jsonl');
    const lines = readFileSync(log, 'utf8').split('\n');
    lines[1] = '{"type": tr';
    writeFileSync(log, lines.join('\n'));
    r = await run(dir, { resume: true });
    assert.ok(r.error instanceof AdapterkitError && r.error.code === 'BAD_FILE', String(r.error));
    assert.match(r.error.message, /metrics\.jsonl: line 2 is not valid JSON.*fix or delete that line to resume/);
  });

  test('a loss that becomes NaN is TRAINING_DIVERGED (exit code 6), with advice', async () => {
    const dir = tempDir('ak-nan-');
    const r = await run(dir, { lr: 1e30, warmupRatio: 0, evalEvery: 1 });
    assert.ok(r.error instanceof AdapterkitError, String(r.error));
    assert.equal(r.error.code, 'TRAINING_DIVERGED');
    assert.equal(r.error.exitCode, 6);
    assert.match(r.error.message, /the loss became (NaN|Infinity) at step \d+ .*training diverged; start again with a lower learning rate \(option lr\) or a smaller clip norm \(option clipNorm\).*the last good checkpoint \(step \d+\)/);
    assert.doesNotMatch(r.error.message, /--/, 'the library names its options, not command-line flags');
    // the CLI words the same error with its flags
    assert.match(inCliTerms(r.error), /start again with a lower learning rate \(--lr\) or a smaller clip norm \(--clip-norm\)/);
  });

  test('epochs: a run cut by maxSteps inside its first epoch ran 1 epoch and completed 0', async () => {
    const dir = tempDir('ak-epochs-');
    const r = await run(dir, { maxSteps: 4 });
    assert.equal(r.result?.epochsRun, 1);
    assert.equal(r.result?.epochsCompleted, 0);
    const full = await run(tempDir('ak-epochs-'), {});
    assert.equal(full.result?.epochsRun, 2);
    assert.equal(full.result?.epochsCompleted, 2);
    assert.ok(!existsSync(join(dir, 'checkpoint.new')));
  });
});
