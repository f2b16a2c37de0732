/**
 * What a distributed sweep keeps in Redis beside BullMQ's own keys: the sweeps of a queue, each
 * sweep's description and plan (which job ids it has, their result keys and relative costs), and
 * its result rows — the same rows as `<out>/results.jsonl`, one hash field per result key, first
 * writer wins — so that `sweep --status` and `sweep --download` work from any machine.
 *
 * Keys (`<q>` the queue name): `adapterkit-sweeps:<q>:index` (set of sweep ids),
 * `adapterkit-sweeps:<q>:<id>:meta` (hash: `meta` JSON), `…:<id>:plan` (hash: job id -> plan entry
 * JSON), `…:<id>:results` (hash: result key -> result row JSON).
 */
import type { Redis } from 'ioredis';
import { fail } from '../../../errors.js';
import type { TaskSpec } from '../../data/index.js';
import type { TokenTaskSpec } from '../../token-tasks/index.js';
import type { FrozenRecord } from '../../frozen-precision.js';
import { resultKey, type SweepResult } from '../sweep-results.js';

/** What a sweep records about itself (the same as `sweep.json` records per task, and more). */
export interface SweepMeta {
  readonly id: string;
  /** Output directory (absolute, shared). */
  readonly out: string;
  readonly task: string;
  readonly data: TaskSpec | TokenTaskSpec;
  readonly base: string;
  readonly revision?: string;
  readonly batchSize: number;
  readonly maxLength: number;
  /** The task's main metric. */
  readonly metric: string;
  readonly createdAt: string;
  /** The frozen base's precision of every run, when int8 (absent: fp32). */
  readonly frozen?: FrozenRecord;
}

/** One run of a sweep's plan. */
export interface PlanEntry {
  readonly job: string;
  /** Result key ({@link resultKey}). */
  readonly key: string;
  readonly method: string;
  readonly run: string;
  /** Relative cost (`runCost`), for the ETA. */
  readonly cost: number;
  /** Position in the plan (cheapest first). */
  readonly order: number;
}

function parse<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fail('BAD_FILE', `Redis holds a malformed ${what}`);
  }
}

/** Reads and writes a queue's sweep records; see the module comment. */
export class SweepStore {
  private readonly root: string;

  constructor(private readonly redis: Redis, queueName: string) {
    this.root = `adapterkit-sweeps:${queueName}`;
  }

  private key(id: string, part: 'meta' | 'plan' | 'results'): string {
    return `${this.root}:${id}:${part}`;
  }

  /** Records a sweep and adds `plan` to its plan (entries already there are kept). */
  async saveSweep(meta: SweepMeta, plan: readonly PlanEntry[]): Promise<void> {
    const m = this.redis.multi().sadd(`${this.root}:index`, meta.id).hset(this.key(meta.id, 'meta'), 'meta', JSON.stringify(meta));
    for (const p of plan) m.hsetnx(this.key(meta.id, 'plan'), p.job, JSON.stringify(p));
    await m.exec();
  }

  /** Ids of every sweep of the queue. */
  async sweepIds(): Promise<string[]> {
    return (await this.redis.smembers(`${this.root}:index`)).sort();
  }

  /** A sweep's record, or undefined. */
  async meta(id: string): Promise<SweepMeta | undefined> {
    const m = await this.redis.hget(this.key(id, 'meta'), 'meta');
    return m === null ? undefined : parse<SweepMeta>(m, `record of sweep ${id}`);
  }

  /** A sweep's plan, cheapest first. */
  async plan(id: string): Promise<PlanEntry[]> {
    const all = await this.redis.hvals(this.key(id, 'plan'));
    return all.map((p) => parse<PlanEntry>(p, `plan entry of sweep ${id}`)).sort((a, b) => a.cost - b.cost || a.order - b.order || a.job.localeCompare(b.job));
  }

  /** Adds a result row unless one with its key is there; true when this call added it. */
  async addResult(id: string, row: SweepResult): Promise<boolean> {
    return (await this.redis.hsetnx(this.key(id, 'results'), resultKey(row), JSON.stringify(row))) === 1;
  }

  /** The result row of `key`, or undefined. */
  async result(id: string, key: string): Promise<SweepResult | undefined> {
    const r = await this.redis.hget(this.key(id, 'results'), key);
    return r === null ? undefined : parse<SweepResult>(r, `result row of sweep ${id}`);
  }

  /** Every result row of a sweep, by result key. */
  async results(id: string): Promise<Map<string, SweepResult>> {
    const all = await this.redis.hgetall(this.key(id, 'results'));
    return new Map(Object.entries(all).map(([k, v]) => [k, parse<SweepResult>(v, `result row of sweep ${id}`)]));
  }
}
