/**
 * This process's CPU time, for tests that bound how much work an operation does (a quadratic
 * decode, a pathological input). Wall-clock bounds fail when other processes share the cores;
 * the CPU time a process spends is what the bound is about, and it does not grow with the load.
 */
import { cpuUsage } from 'node:process';

/** Milliseconds of CPU (user + system, all of this process's threads) that `run` took. */
export async function cpuMs<T>(run: () => Promise<T> | T): Promise<{ value: T; ms: number }> {
  const start = cpuUsage();
  const value = await run();
  const d = cpuUsage(start);
  return { value, ms: (d.user + d.system) / 1000 };
}

/** The same for code that is expected to throw: the error (or undefined) and the CPU milliseconds. */
export async function cpuMsOfFailure(run: () => Promise<unknown> | unknown): Promise<{ error: unknown; ms: number }> {
  const start = cpuUsage();
  let error: unknown;
  try {
    await run();
  } catch (e) {
    error = e;
  }
  const d = cpuUsage(start);
  return { error, ms: (d.user + d.system) / 1000 };
}
