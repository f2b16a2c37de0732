/**
 * The queue's pure parts: `--queue` URLs (password from the URL or the environment, TLS, db),
 * redaction, deterministic job ids, and the job payload schema (unknown fields, wrong types,
 * relative paths and run specs that do not match their ids are refused with the field's path), and
 * the text of `sweep --status` (with its progress bar on a terminal); docs/distributed.md kept in
 * sync with the constants it documents.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { statusText } from '../../../src/cli/commands/sweep.js';
import { dataSpecFromFlags, type DataFlags } from '../../../src/cli/data-options.js';
import {
  BULL_PREFIX, CA_ENV, JOB_OPTIONS, jobId, MAX_STALLED, NON_RETRYABLE, parseQueueUrl, PASSWORD_ENV, PAYLOAD_VERSION, redactor, sweepId, validateSweepJob,
  type SweepJobData, type SweepStatus,
} from '../../../src/train/experiments/queue/index.js';
import { planRuns } from '../../../src/train/experiments/sweep-grid.js';

describe('queue URLs', () => {
  test('host, port, db, password from the URL or the environment; the printable URL hides it', () => {
    const a = parseQueueUrl('redis://:s3cret@10.0.0.5:6380/2', { env: {} });
    assert.deepEqual([a.host, a.port, a.db, a.tls, a.queueName, a.redis.password], ['10.0.0.5', 6380, 2, false, 'sweep', 's3cret']);
    assert.equal(a.url, 'redis://:***@10.0.0.5:6380/2');
    const b = parseQueueUrl('redis://queue-host', { env: { [PASSWORD_ENV]: 'from-env' }, queueName: 'big' });
    assert.deepEqual([b.port, b.db, b.redis.password, b.queueName, b.url], [6379, 0, 'from-env', 'big', 'redis://:***@queue-host/0']);
    const c = parseQueueUrl('rediss://alice:p%40ss@redis.example:6390/1', { env: {} });
    assert.equal(c.tls, true);
    assert.deepEqual([c.redis.username, c.redis.password], ['alice', 'p@ss']);
    assert.deepEqual(c.redis.tls, { servername: 'redis.example' });
    assert.equal(c.url, 'rediss://alice:***@redis.example:6390/1');
    assert.equal(parseQueueUrl('redis://127.0.0.1:7000', { env: {} }).url, 'redis://127.0.0.1:7000/0');
  });

  test('malformed URLs are refused without repeating them', () => {
    for (const [u, msg] of [
      ['http://:pw-leak@host', /unsupported scheme "http:"/], ['redis://:pw-leak@host/x', /database number/], ['not a url pw-leak', /not a URL/],
      ['redis://:pw-leak@host/0?tls=1', /query strings/],
    ] as const) {
      assert.throws(() => parseQueueUrl(u, { env: {} }), (e: Error) => msg.test(e.message) && !e.message.includes('pw-leak'), u);
    }
    assert.throws(() => parseQueueUrl('redis://h', { env: {}, queueName: 'a:b' }), /queue name/);
  });

  test('the redactor removes the password, plain and URL-encoded, and the userinfo of any Redis URL', () => {
    const r = parseQueueUrl(`redis://:${encodeURIComponent('p@ss/w rd')}@h:1/0`, { env: {} }).redact;
    assert.equal(r('auth p@ss/w rd failed; p%40ss%2Fw%20rd; redis://:other@x:2/0'), 'auth *** failed; ***; redis://:***@x:2/0');
    assert.equal(redactor([''])('unchanged'), 'unchanged');
  });
});

describe('job payloads', () => {
  const run = planRuns({ methods: ['adapters'], lrs: [1e-3], epochs: [2], seeds: [1], sizes: [8], topK: [1] })[0]!;
  const good = (): SweepJobData => ({
    v: PAYLOAD_VERSION, sweep: sweepId('/shared/s', 'toy'), out: '/shared/s', task: 'toy', base: 'use-lite', run, batchSize: 16, maxLength: 16,
    data: { files: { train: '/shared/data/train.csv', dev: '/shared/data/dev.csv' }, columns: { text: 'sentence', label: 'sentiment' }, kind: 'classification' },
  });

  test('ids are deterministic: the sweep from its directory and task, the job from the run and the settings', () => {
    assert.equal(sweepId('/shared/s', 'toy'), sweepId('/shared/s', 'toy'));
    assert.notEqual(sweepId('/shared/s', 'toy'), sweepId('/shared/t', 'toy'));
    assert.match(sweepId('/a', 'b'), /^[0-9a-f]{16}$/);
    const d = good();
    assert.equal(jobId(d, 128), `${d.sweep}.adapters-m8.lr1e-3_ep2_seed1_b16_len16`);
    assert.equal(jobId({ ...d, batchSize: 32, maxLength: 128 }, 128), `${d.sweep}.adapters-m8.lr1e-3_ep2_seed1`);
    assert.ok(!jobId(d, 128).includes(':'));
    // An int8 frozen base makes a sweep of its own (not the tolerance), and says so in the job id.
    const int8 = { frozenPrecision: 'int8', int8Tolerance: 0.03 } as const;
    assert.notEqual(sweepId('/shared/s', 'toy', int8), sweepId('/shared/s', 'toy'));
    assert.equal(sweepId('/shared/s', 'toy', int8), sweepId('/shared/s', 'toy', { ...int8, int8Tolerance: 0.05 }));
    assert.notEqual(sweepId('/shared/s', 'toy', { ...int8, int8Adapters: false }), sweepId('/shared/s', 'toy', int8));
    assert.equal(jobId({ ...d, frozen: int8 }, 128), `${d.sweep}.adapters-m8.lr1e-3_ep2_seed1_b16_len16_int8`);
    assert.equal(jobId({ ...d, batchSize: 32, maxLength: 128, frozen: { ...int8, int8Adapters: false } }, 128), `${d.sweep}.adapters-m8.lr1e-3_ep2_seed1_int8_fp32adapters`);
  });

  test('a payload that matches the schema passes unchanged', () => {
    assert.deepEqual(validateSweepJob(good()), good());
    assert.doesNotThrow(() => validateSweepJob({ ...good(), data: { tokenTask: 'tagging', builtin: 'brown-pos' } }));
    const frozen = { frozenPrecision: 'int8', int8Tolerance: 0.03, int8Adapters: false } as const;
    const int8 = { ...good(), sweep: sweepId('/shared/s', 'toy', frozen), frozen };
    assert.deepEqual(validateSweepJob(int8), int8);
  });

  test('every data spec the CLI\'s data flags make passes (the metric choice included)', () => {
    const choice = { metrics: ['f1', 'accuracy'], selectOn: 'f1', positiveLabel: 'pos' } as const;
    const flags: DataFlags[] = [
      { dataset: 'spam' }, { dataset: 'spam', ...choice, metrics: [...choice.metrics] }, { glue: 'MRPC', data: '/d/MRPC', skipBadRows: true, selectOn: 'f1' },
      { train: '/d/a.csv', dev: '/d/b.csv', test: '/d/c.csv', text: 'sentence', textPair: 'other', label: 'sentiment', format: 'csv', skipBadRows: true, ...choice, metrics: [...choice.metrics] },
      { train: '/d/a.jsonl', text: '0', label: '1', taskKind: 'regression' },
      { dataset: 'brown-pos' }, { taskKind: 'tagging', train: '/d/t.conll', dev: '/d/d.conll', format: 'conll' }, { taskKind: 'qa', train: '/d/q.json', dev: '/d/r.json' },
    ];
    for (const f of flags) {
      const data = dataSpecFromFlags(f);
      assert.deepEqual(validateSweepJob({ ...good(), data }).data, data, JSON.stringify(f));
    }
  });

  test('anything else is refused with the path of the field', () => {
    const cases: [unknown, RegExp][] = [
      [null, /data must be an object, got null/],
      [{ ...good(), v: 2 }, /data\.v must be one of 1/],
      [{ ...good(), extra: 1 }, /data\.extra is not a field of the schema/],
      [{ ...good(), out: 'relative/dir' }, /data\.out must be an absolute path/],
      [{ ...good(), sweep: '0123456789abcdef' }, /data\.sweep does not match data\.out and data\.task/],
      [{ ...good(), task: '../x' }, /data\.task does not match/],
      [{ ...good(), batchSize: 0 }, /data\.batchSize must be >= 1/],
      [{ ...good(), maxLength: '16' }, /data\.maxLength must be a finite number, got string/],
      [{ ...good(), data: { files: { train: 'train.csv' }, columns: { text: 'a', label: 'b' }, kind: 'classification' } }, /data\.data\.files\.train must be an absolute path/],
      [{ ...good(), data: { files: { train: '/t.csv' }, columns: { text: 'a' }, kind: 'poetry' } }, /data\.data\.kind must be one of/],
      [{ ...good(), data: { url: 'http://x' } }, /data\.data must be a data spec/],
      [{ ...good(), data: { builtin: 'spam', selectOn: 'loss' } }, /data\.data\.selectOn must be one of "accuracy"/],
      [{ ...good(), run: { ...run, lr: -1 } }, /data\.run\.lr must be > 0/],
      [{ ...good(), run: { ...run, size: 64 } }, /names method adapters-m8 and run lr1e-3_ep2_seed1, but its values make adapters-m64/],
      [{ ...good(), run: { ...run, kind: 'full' } }, /values make full/],
      [{ ...good(), run: { ...run, preset: 'nope' } }, /data\.run is not a run of a sweep grid: .*unknown adapter method "nope"/],
      [{ ...good(), run: { ...run, cmd: 'rm -rf /' } }, /data\.run\.cmd is not a field of the schema/],
      [{ ...good(), frozen: { frozenPrecision: 'int8', int8Tolerance: 0.03 } }, /data\.sweep does not match data\.out and data\.task and data\.frozen/],
      [{ ...good(), frozen: { frozenPrecision: 'fp16', int8Tolerance: 0.03 } }, /data\.frozen\.frozenPrecision must be "int8"/],
      [{ ...good(), frozen: { frozenPrecision: 'int8' } }, /data\.frozen\.int8Tolerance is missing/],
      [{ ...good(), frozen: { frozenPrecision: 'int8', int8Tolerance: 2 } }, /data\.frozen\.int8Tolerance must be <= 1/],
      [{ ...good(), frozen: { frozenPrecision: 'int8', int8Tolerance: 0.03, int8Adapters: true } }, /data\.frozen\.int8Adapters must be false/],
    ];
    for (const [v, re] of cases) assert.throws(() => validateSweepJob(v), (e: Error & { code?: string }) => e.code === 'BAD_CONFIG' && /^job payload refused: /.test(e.message) && re.test(e.message), JSON.stringify(v)?.slice(0, 120));
  });
});

describe('sweep --status text', () => {
  const status = (o: Partial<SweepStatus> = {}): SweepStatus => ({
    meta: { id: '0123456789abcdef', out: '/shared/s', task: 'toy', data: { builtin: 'spam' }, base: 'use-lite', batchSize: 16, maxLength: 16, metric: 'accuracy', createdAt: '2026-12-01T00:00:00.000Z' },
    planned: 8, counts: { done: 4, running: 1, waiting: 2, failed: 1, missing: 0 }, workers: ['w1'], etaSeconds: 95, results: [],
    runs: [
      { job: 'j1', method: 'adapters-m8', run: 'lr1e-3_ep3_seed1', state: 'running', progress: { worker: 'w1', step: 20, totalSteps: 48, epoch: 1, resumedAt: 16, startedAt: '' } },
      { job: 'j2', method: 'full', run: 'lr1e-4_ep3_seed1', state: 'failed', attempts: 1, reason: '[BAD_DATA] dev.csv line 3: no label' },
    ],
    ...o,
  });

  test('counts, ETA, the running runs with their worker and step, the failed ones with their reason', () => {
    assert.equal(statusText(status()), [
      'sweep 0123456789abcdef: toy on use-lite -> /shared/s',
      '4/8 done, 1 running, 2 waiting, 1 failed; ETA 1m 35s',
      '  running  adapters-m8 lr1e-3_ep3_seed1 on w1, step 20/48 (resumed at 16)',
      '  failed   full lr1e-4_ep3_seed1 after 1 attempt(s): [BAD_DATA] dev.csv line 3: no label',
      '',
    ].join('\n'));
  });

  test('a progress bar on a terminal; no worker, nothing left, finished', () => {
    assert.match(statusText(status(), { tty: true }).split('\n')[1]!, /^\[#{15}\.{15}\] 4\/8 done/);
    const idle = statusText(status({ counts: { done: 4, running: 0, waiting: 4, failed: 0, missing: 0 }, runs: [] }));
    assert.match(idle, /no worker is running this sweep/);
    assert.match(statusText(status({ counts: { done: 7, running: 0, waiting: 0, failed: 1, missing: 0 } })), /; nothing left to run/);
    assert.match(statusText(status({ counts: { done: 8, running: 0, waiting: 0, failed: 0, missing: 0 }, runs: [] })), /8\/8 done.*; finished\n$/);
  });
});

test('docs/distributed.md names the environment variables, the codes failed at once, the attempts and the keys', () => {
  const doc = readFileSync(new URL('../../../docs/distributed.md', import.meta.url), 'utf8');
  for (const name of [PASSWORD_ENV, CA_ENV, `${BULL_PREFIX}:<queue>:*`]) assert.ok(doc.includes(name), name);
  const row = doc.split('\n').find((l) => l.startsWith('| an error retrying cannot fix')) ?? '';
  assert.deepEqual([...row.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]).sort(), [...NON_RETRYABLE].sort());
  assert.match(doc, new RegExp(`retried up to ${JOB_OPTIONS.attempts} attempts`));
  assert.match(doc, new RegExp(`found stalled more than ${MAX_STALLED} times`));
});
