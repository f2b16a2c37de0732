/**
 * The kill loop: `adapterkit train` (a real process) SIGKILLed at random moments, resumed each
 * time, until it finishes. At the end the run finished every step, `best/` and the last
 * checkpoint are valid and byte-identical to those of an uninterrupted run, the metrics log holds
 * each step and evaluation exactly once with the uninterrupted run's values (a resumed run is
 * bit-identical: same dropout masks), and nothing temporary is left in the run directory.
 *
 * `npm test` runs 6 kills; `AK_KILL_ROUNDS=50 node scripts/run-tests.mjs kill-loop` the long
 * variant (its data grows with the rounds so that each kill lands in training), `AK_KILL_SEED=n`
 * another schedule of kill moments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBase } from '../../src/models/base.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { Rng } from '../../src/util/random.js';
import { cli, startCli, tempDir, TINY_BERT, writeToyCsv } from './harness.js';

const ROUNDS = Number(process.env.AK_KILL_ROUNDS ?? 6);
const SEED = Number(process.env.AK_KILL_SEED ?? 1);
/**
 * When a kill lands: `after: 'plan'` up to 400 ms after the process printed its plan (recovery,
 * loading the checkpoint, building the session, the first steps); `after: 'step'` up to 250 ms after
 * its first progress line (about 9 steps, with their evaluations and checkpoints).
 */
function killMoment(rng: Rng): { after: 'plan' | 'step'; delay: number } {
  return rng.next() < 0.25 ? { after: 'plan', delay: Math.floor(rng.next() * 400) } : { after: 'step', delay: Math.floor(rng.next() * 250) };
}

interface LogLine {
  type: string;
  step: number;
  loss?: number;
  accuracy?: number;
}

function readLog(out: string): LogLine[] {
  const text = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
  assert.ok(text.endsWith('\n'), 'the log ends with a complete line');
  return text.trimEnd().split('\n').map((l) => {
    const { time: _time, ...rest } = JSON.parse(l) as LogLine & { time: string };
    return rest;
  });
}

function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${prefix}${e.name}/`);
      else out.set(`${prefix}${e.name}`, readFileSync(join(d, e.name)));
    }
  };
  walk(dir, '');
  return out;
}

/** Starts a run and SIGKILLs it at `moment`; resolves with its exit code (null when killed). */
function runAndKill(args: string[], moment: ReturnType<typeof killMoment>): Promise<{ code: number | null; stderr: string }> {
  const child = startCli(args);
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  const trigger = moment.after === 'plan' ? /^adapterkit train:/m : /^step \d+\/\d+/m;
  child.stdout?.resume();
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    if (!timer && trigger.test(stderr)) timer = setTimeout(() => child.kill('SIGKILL'), moment.delay);
  });
  return new Promise((resolve) => child.on('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, stderr });
  }));
}

test(`train survives ${ROUNDS} SIGKILLs at random moments and resumes bit-identically (seed ${SEED})`, { timeout: 120_000 + ROUNDS * 20_000 }, async () => {
  const dir = tempDir('ak-kill-loop-');
  // about 27 steps per kill, so that the kills land before the end even on a quiet machine, where
  // a step of this toy run takes ~2-5 ms and a kill lands up to 250 ms after a step line
  const examples = 72 * Math.max(6, ROUNDS);
  writeToyCsv(join(dir, 'train.csv'), examples, 1);
  writeToyCsv(join(dir, 'dev.csv'), 32, 2);
  const args = ['train', '--train', join(dir, 'train.csv'), '--dev', join(dir, 'dev.csv'), '--text', 'sentence', '--label', 'sentiment',
    '--base', TINY_BERT, '--adapter-size', '8', '--epochs', '3', '--batch-size', '8', '--max-length', '16', '--eval-every', '2',
    '--threads', '1', '--seed', '3', '--name', 'toy'];
  const totalSteps = 3 * Math.ceil(examples / 8);

  const ref = join(dir, 'reference');
  const r0 = await cli(...args, '--out', ref);
  assert.equal(r0.code, 0, r0.stderr);

  const out = join(dir, 'killed');
  const rng = new Rng(SEED);
  let kills = 0;
  let finished = false;
  const stderrs: string[] = [];
  while (kills < ROUNDS && !finished) {
    const moment = killMoment(rng);
    const r = await runAndKill([...args, '--out', out, '--resume'], moment);
    stderrs.push(`-- round ${kills + 1} (kill ${moment.delay} ms after the first ${moment.after} line): exit ${r.code}\n${r.stderr}`);
    if (r.code === null) kills++;
    else {
      assert.equal(r.code, 0, stderrs.join('\n'));
      finished = true;
    }
  }
  const last = await cli(...args, '--out', out, '--resume', '--json');
  assert.equal(last.code, 0, `${stderrs.join('\n')}\n-- last run\n${last.stderr}`);
  const history = `${stderrs.join('\n')}\n-- last run\n${last.stderr}`;
  assert.ok(kills >= Math.min(ROUNDS, 3), `only ${kills} kill(s) landed before the run finished:\n${history}`);
  const summary = JSON.parse(last.stdout) as { steps: number; stopReason: string };
  assert.equal(summary.steps, totalSteps);
  assert.equal(summary.stopReason, 'done');

  // The log: every step and every evaluation once, in order, with the uninterrupted run's values.
  const log = readLog(out);
  const steps = (type: string) => log.filter((l) => l.type === type).map((l) => l.step);
  assert.deepEqual(steps('train'), Array.from({ length: totalSteps }, (_, i) => i + 1), history);
  assert.deepEqual(steps('eval'), Array.from({ length: totalSteps / 2 }, (_, i) => 2 * (i + 1)), history);
  assert.deepEqual(log, readLog(ref), `the resumed run diverged from the uninterrupted one\n${history}`);

  // best/ and the last checkpoint: complete, loadable and byte-identical to the uninterrupted run's.
  for (const d of ['best', 'checkpoint']) {
    const got = filesOf(join(out, d));
    const want = filesOf(join(ref, d));
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `${d}/ files`);
    for (const [name, bytes] of want) assert.ok(bytes.equals(got.get(name) as Buffer), `${d}/${name} differs from the uninterrupted run's`);
  }
  const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'trainer.json'), 'utf8')) as { step: number };
  assert.equal(state.step, totalSteps);
  const base = await loadBase(TINY_BERT);
  const saved = await loadSavedTask(base, join(out, 'best'));
  await saved.model.dispose();

  // Nothing temporary left.
  assert.deepEqual(readdirSync(out).sort(), ['best', 'checkpoint', 'metrics.jsonl', 'run.json']);
});
