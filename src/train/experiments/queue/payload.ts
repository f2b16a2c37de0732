/**
 * The job payload of a distributed sweep: one run of a grid, with everything a worker on another
 * machine needs to train it (the data spec, the base, the output directory, the settings), and
 * the schema every worker checks before it touches anything. A payload that does not match is
 * refused with the path of the first offending field; the run spec must be exactly the run that
 * the sweep's grid planner makes of its own values, so a payload cannot smuggle in a different
 * configuration under a run's id.
 *
 * Job ids are deterministic: `<sweep id>.<method>.<run id>[_b<batch>_len<length>][_int8]`, the
 * sweep id a hash of the output directory, the task and, for an int8 frozen base, the precision,
 * so enqueueing the same sweep twice adds nothing, and an int8 sweep of a directory is a sweep of
 * its own beside the fp32 one (as their run directories and result rows are).
 */
import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { fail } from '../../../errors.js';
import type { TaskSpec } from '../../data/index.js';
import { METRICS, type MetricName } from '../../metrics/index.js';
import type { TokenTaskSpec } from '../../token-tasks/index.js';
import type { FrozenRecord } from '../../frozen-precision.js';
import { methodId, planRuns, SWEEP_METHODS, type SweepRunSpec } from '../sweep-grid.js';
import { runSuffix } from '../sweep.js';

/** Version of {@link SweepJobData}; a worker refuses any other. */
export const PAYLOAD_VERSION = 1;

/** The data of one job: one run of one sweep. */
export interface SweepJobData {
  readonly v: typeof PAYLOAD_VERSION;
  /** Sweep id ({@link sweepId}). */
  readonly sweep: string;
  /** The sweep's output directory, absolute, the same path on every machine (a shared directory). */
  readonly out: string;
  /** Task name (as in the results rows). */
  readonly task: string;
  /** Where the data comes from (file paths absolute). */
  readonly data: TaskSpec | TokenTaskSpec;
  /** Base: `use-lite`, an absolute model directory, or a hub id. */
  readonly base: string;
  readonly revision?: string;
  readonly run: SweepRunSpec;
  readonly batchSize: number;
  readonly maxLength: number;
  /**
   * The frozen base's precision in this run, as its results row records it (`frozenRecord`):
   * absent for fp32, so fp32 payloads are as they were before int8 existed.
   */
  readonly frozen?: FrozenRecord;
}

/**
 * The id of a sweep (16 hex digits): a hash of its output directory and task, and of `frozen`'s
 * precision for an int8 frozen base (with whether its adapters' matmuls stay fp32 when scored);
 * not of the guard's tolerance, which, as in a local sweep, does not make a run of its own.
 */
export function sweepId(out: string, task: string, frozen?: FrozenRecord): string {
  const int8 = frozen?.frozenPrecision === 'int8' ? `\u0000int8${frozen.int8Adapters === false ? '\u0000fp32-adapters' : ''}` : '';
  return createHash('sha256').update(`${out}\u0000${task}${int8}`).digest('hex').slice(0, 16);
}

/** The BullMQ job id of a run (no ":" — BullMQ refuses it — and never a plain integer). */
export function jobId(d: Pick<SweepJobData, 'sweep' | 'run' | 'batchSize' | 'maxLength' | 'frozen'>, defaultMaxLength: number): string {
  return `${d.sweep}.${d.run.method}.${d.run.id}${runSuffix(defaultMaxLength, d, d.frozen)}`;
}

// ---- a small schema language: each checker returns the value or throws with the field's path ----

type Check<T> = (v: unknown, path: string) => T;

function refuse(path: string, what: string): never {
  return fail('BAD_CONFIG', `job payload refused: ${path} ${what}`);
}

const MAX_STRING = 4096;

function str(o: { pattern?: RegExp; absolute?: boolean; max?: number } = {}): Check<string> {
  return (v, path) => {
    if (typeof v !== 'string') refuse(path, `must be a string, got ${typeOf(v)}`);
    if (v.length === 0 || v.length > (o.max ?? MAX_STRING)) refuse(path, `must hold 1 to ${o.max ?? MAX_STRING} characters`);
    if (v.includes('\u0000')) refuse(path, 'must not contain NUL');
    if (o.pattern && !o.pattern.test(v)) refuse(path, `does not match ${o.pattern}`);
    if (o.absolute && !isAbsolute(v)) refuse(path, 'must be an absolute path');
    return v;
  };
}

function num(o: { int?: boolean; min?: number; max?: number; exclusiveMin?: boolean } = {}): Check<number> {
  return (v, path) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) refuse(path, `must be a finite number, got ${typeOf(v)}`);
    if (o.int && !Number.isInteger(v)) refuse(path, 'must be an integer');
    if (o.min !== undefined && (o.exclusiveMin ? v <= o.min : v < o.min)) refuse(path, `must be ${o.exclusiveMin ? '>' : '>='} ${o.min}`);
    if (o.max !== undefined && v > o.max) refuse(path, `must be <= ${o.max}`);
    return v;
  };
}

function oneOf<T extends string | number>(values: readonly T[]): Check<T> {
  return (v, path) => {
    if (!values.includes(v as T)) refuse(path, `must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);
    return v as T;
  };
}

function literal<T extends string | number | boolean>(value: T): Check<T> {
  return (v, path) => {
    if (v !== value) refuse(path, `must be ${JSON.stringify(value)}`);
    return value;
  };
}

function list<T>(item: Check<T>, max = 1000): Check<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) refuse(path, `must be an array, got ${typeOf(v)}`);
    if (v.length > max) refuse(path, `must hold at most ${max} items`);
    return v.map((x, i) => item(x, `${path}[${i}]`));
  };
}

const column: Check<string | number> = (v, path) => (typeof v === 'number' ? num({ int: true, min: 0 })(v, path) : str({ max: 256 })(v, path));

type Shape = Record<string, { check: Check<unknown>; optional?: boolean }>;

function obj<T>(shape: Shape): Check<T> {
  return (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) refuse(path, `must be an object, got ${typeOf(v)}`);
    const rec = v as Record<string, unknown>;
    for (const k of Object.keys(rec)) if (!Object.hasOwn(shape, k)) refuse(`${path}.${k.slice(0, 64)}`, 'is not a field of the schema');
    const out: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(shape)) {
      if (rec[k] === undefined) {
        if (!f.optional) refuse(`${path}.${k}`, 'is missing');
        continue;
      }
      out[k] = f.check(rec[k], `${path}.${k}`);
    }
    return out as T;
  };
}

const req = (check: Check<unknown>) => ({ check });
const opt = (check: Check<unknown>) => ({ check, optional: true });

const metricName = oneOf(Object.keys(METRICS) as MetricName[]);
/** The metric choice every sentence-level spec may carry (`--metrics`, `--select-on`, `--positive-label`). */
const metricChoice: Shape = { metrics: opt(list(metricName, 32)), selectOn: opt(metricName), positiveLabel: opt(str({ max: 256 })) };

/** The union of the data specs `loadExperimentTask` takes, told apart by their discriminating field. */
const dataSpec: Check<TaskSpec | TokenTaskSpec> = (v, path) => {
  const rec = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const onBadRow = opt(oneOf(['fail', 'skip']));
  const path_ = str({ absolute: true });
  if ('tokenTask' in rec) {
    if (rec.tokenTask === 'tagging' && 'builtin' in rec) return obj<TokenTaskSpec>({ tokenTask: req(oneOf(['tagging'])), builtin: req(str({ max: 64 })) })(v, path);
    const files = req(obj({ train: req(path_), dev: opt(path_), test: opt(path_) }));
    return obj<TokenTaskSpec>({
      tokenTask: req(oneOf(['tagging', 'qa'])), files, name: opt(str({ max: 256 })), onBadRow,
      ...(rec.tokenTask === 'tagging' ? { format: opt(oneOf(['conll', 'jsonl'])) } : {}),
    })(v, path);
  }
  if ('builtin' in rec) return obj<TaskSpec>({ builtin: req(str({ max: 64 })), ...metricChoice })(v, path);
  if ('glue' in rec) return obj<TaskSpec>({ glue: req(str({ max: 16 })), dir: req(path_), onBadRow, ...metricChoice })(v, path);
  if ('files' in rec) {
    return obj<TaskSpec>({
      files: req(obj({ train: req(path_), dev: opt(path_), test: opt(path_) })),
      columns: req(obj({
        text: req(column), textPair: opt(column), label: opt(column), id: opt(column),
        labelType: opt(oneOf(['class', 'score', 'multilabel'])), delimiter: opt(str({ max: 4 })),
      })),
      kind: req(oneOf(['classification', 'regression', 'multilabel'])), name: opt(str({ max: 256 })),
      labels: opt(list(str({ max: 256 }), 100_000)), ...metricChoice,
      format: opt(oneOf(['csv', 'tsv', 'jsonl'])), onBadRow, description: opt(str()),
    })(v, path);
  }
  return refuse(path, 'must be a data spec: { builtin }, { glue, dir }, { files, columns, kind } or { tokenTask, ... }');
};

const runSpec: Check<SweepRunSpec> = obj<SweepRunSpec>({
  method: req(str({ max: 128, pattern: /^[A-Za-z0-9_.+-]+$/ })),
  kind: req(oneOf(SWEEP_METHODS)),
  preset: opt(str({ max: 64 })),
  size: opt(num({ int: true, min: 1, max: 1 << 20 })),
  k: opt(num({ int: true, min: 1, max: 1024 })),
  initStd: opt(num({ min: 0, max: 1, exclusiveMin: true })),
  lr: req(num({ min: 0, max: 10, exclusiveMin: true })),
  epochs: req(num({ int: true, min: 1, max: 100_000 })),
  seed: req(num({ int: true, min: 0, max: 2 ** 31 })),
  id: req(str({ max: 128, pattern: /^[A-Za-z0-9_.+-]+$/ })),
});

const payload: Check<SweepJobData> = obj<SweepJobData>({
  v: req(oneOf([PAYLOAD_VERSION])),
  sweep: req(str({ pattern: /^[0-9a-f]{16}$/ })),
  out: req(str({ absolute: true })),
  task: req(str({ max: 128, pattern: /^[A-Za-z0-9_-]+$/ })),
  data: req(dataSpec),
  base: req(str({ max: 1024 })),
  revision: opt(str({ max: 256 })),
  run: req(runSpec),
  batchSize: req(num({ int: true, min: 1, max: 1 << 16 })),
  maxLength: req(num({ int: true, min: 2, max: 1 << 16 })),
  frozen: opt(obj<FrozenRecord>({
    frozenPrecision: req(literal('int8')), int8Tolerance: req(num({ min: 0, max: 1, exclusiveMin: true })), int8Adapters: opt(literal(false)),
  })),
});

/**
 * Checks a job's data against the schema and returns it (unknown fields refused); BAD_CONFIG
 * `job payload refused: <path> <reason>` otherwise. Also checks that the run spec is the one the
 * grid planner makes of its values (method id, run id, mode) and that the sweep id fits the
 * output directory and task.
 */
export function validateSweepJob(v: unknown): SweepJobData {
  const d = payload(v, 'data');
  if (sweepId(d.out, d.task, d.frozen) !== d.sweep) refuse('data.sweep', `does not match data.out and data.task${d.frozen ? ' and data.frozen' : ''}`);
  const r = d.run;
  const adapterMethods = r.kind === 'adapters' ? [{ preset: r.preset ?? 'paper', ...(r.size !== undefined ? { sizes: [r.size] } : {}) }] : undefined;
  let planned: SweepRunSpec[];
  try {
    planned = planRuns({
      methods: [r.kind], lrs: [r.lr], epochs: [r.epochs], seeds: [r.seed], sizes: r.size !== undefined ? [r.size] : [1], topK: r.k !== undefined ? [r.k] : [1],
      ...(adapterMethods ? { adapterMethods } : {}), ...(r.initStd !== undefined ? { initStds: [r.initStd] } : {}),
    });
  } catch (e) {
    return refuse('data.run', `is not a run of a sweep grid: ${(e as Error).message}`);
  }
  const p = planned[0];
  if (planned.length !== 1 || !p) return refuse('data.run', 'is not one run of a sweep grid');
  if (p.method !== r.method || p.id !== r.id || methodId(r.kind, r) !== r.method) refuse('data.run', `names method ${r.method} and run ${r.id}, but its values make ${p.method} ${p.id}`);
  if ((p.preset ?? null) !== (r.preset ?? null) || (p.size ?? null) !== (r.size ?? null) || (p.k ?? null) !== (r.k ?? null)) {
    refuse('data.run', 'holds a size, k or preset its kind does not take');
  }
  return d;
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}
