/**
 * The state of a distributed sweep, from Redis alone (plus `<out>/results.jsonl` where this
 * machine sees it): each run done, running (on which worker, at which step), waiting, failed
 * (with the reason) or missing from the queue, and an estimate of the time left.
 */
import { join } from 'node:path';
import { readSweepResults, resultKey, RESULTS_FILE, type SweepResult } from '../sweep-results.js';
import type { SweepQueue } from './sweep-queue.js';
import type { PlanEntry, SweepMeta } from './store.js';
import type { RunProgress } from './worker.js';

/** Where one run of a sweep is. */
export type RunState = 'done' | 'running' | 'waiting' | 'failed' | 'missing';

/** One run of a sweep's plan and its state. */
export interface RunStatus {
  readonly job: string;
  readonly method: string;
  readonly run: string;
  readonly state: RunState;
  /** Running: the worker's name and the run's progress. */
  readonly progress?: RunProgress;
  /** Failed: why (the last attempt's message). */
  readonly reason?: string;
  /** Attempts made (failed runs). */
  readonly attempts?: number;
}

/** What {@link sweepStatus} reports. */
export interface SweepStatus {
  readonly meta: SweepMeta;
  readonly planned: number;
  readonly counts: Readonly<Record<RunState, number>>;
  /** Every run of the plan, cheapest first. */
  readonly runs: readonly RunStatus[];
  /** Workers running this sweep's jobs now. */
  readonly workers: readonly string[];
  /** Seconds left for the runs not done (undefined before the first result). */
  readonly etaSeconds?: number;
  /** The finished rows, in plan order (what `report` reads). */
  readonly results: readonly SweepResult[];
}

/** Sweeps of the queue whose output directory is `out` or whose id is `id` (every sweep when neither is given). */
export async function findSweeps(q: SweepQueue, o: { out?: string; id?: string } = {}): Promise<SweepMeta[]> {
  const metas: SweepMeta[] = [];
  for (const id of await q.store.sweepIds()) {
    if (o.id !== undefined && id !== o.id) continue;
    const m = await q.store.meta(id);
    if (m && (o.out === undefined || m.out === o.out)) metas.push(m);
  }
  return metas.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** The state of sweep `id`; undefined when the queue has no such sweep. */
export async function sweepStatus(q: SweepQueue, id: string): Promise<SweepStatus | undefined> {
  const meta = await q.store.meta(id);
  if (!meta) return undefined;
  const plan = await q.store.plan(id);
  const rows = await q.store.results(id);
  try {
    for (const r of await readSweepResults(join(meta.out, RESULTS_FILE))) if (r.task === meta.task) rows.set(resultKey(r), rows.get(resultKey(r)) ?? r);
  } catch {
    // the shared directory is not readable here: Redis alone
  }
  const mine = new Set(plan.map((p) => p.job));
  const byState = async (states: Parameters<SweepQueue['queue']['getJobs']>[0]) =>
    new Map((await q.queue.getJobs(states)).filter((j) => j && mine.has(j.id as string)).map((j) => [j.id as string, j]));
  const active = await byState(['active']);
  const failed = await byState(['failed']);
  const waiting = await byState(['waiting', 'delayed', 'prioritized', 'waiting-children']);
  const runs: RunStatus[] = plan.map((p) => {
    const base = { job: p.job, method: p.method, run: p.run };
    if (rows.has(p.key)) return { ...base, state: 'done' };
    const a = active.get(p.job);
    if (a) return { ...base, state: 'running', ...(isProgress(a.progress) ? { progress: a.progress } : {}) };
    const f = failed.get(p.job);
    if (f) return { ...base, state: 'failed', reason: f.failedReason, attempts: f.attemptsMade };
    return { ...base, state: waiting.has(p.job) ? 'waiting' : 'missing' };
  });
  const counts: Record<RunState, number> = { done: 0, running: 0, waiting: 0, failed: 0, missing: 0 };
  for (const r of runs) counts[r.state]++;
  const workers = [...new Set(runs.flatMap((r) => (r.progress ? [r.progress.worker] : [])))].sort();
  const results = plan.flatMap((p) => {
    const r = rows.get(p.key);
    return r ? [r] : [];
  });
  const eta = estimate(plan, runs, rows, workers.length);
  return { meta, planned: plan.length, counts, runs, workers, ...(eta !== undefined ? { etaSeconds: eta } : {}), results };
}

function isProgress(p: unknown): p is RunProgress {
  return typeof p === 'object' && p !== null && typeof (p as RunProgress).worker === 'string';
}

/**
 * Seconds left: the remaining cost (waiting runs whole, running ones by their steps left) at the
 * seconds per unit of cost the finished runs took, shared by the workers running now (at least one).
 */
function estimate(plan: readonly PlanEntry[], runs: readonly RunStatus[], rows: ReadonlyMap<string, SweepResult>, workers: number): number | undefined {
  let cost = 0;
  let seconds = 0;
  let left = 0;
  plan.forEach((p, i) => {
    const r = runs[i] as RunStatus;
    const row = rows.get(p.key);
    if (row) {
      cost += p.cost;
      seconds += row.seconds;
    } else if (r.state === 'waiting' || r.state === 'missing') left += p.cost;
    else if (r.state === 'running') {
      const pr = r.progress;
      left += pr && pr.totalSteps > 0 ? p.cost * Math.max(0, 1 - pr.step / pr.totalSteps) : p.cost;
    }
  });
  if (cost <= 0) return undefined;
  return ((seconds / cost) * left) / Math.max(1, workers);
}
