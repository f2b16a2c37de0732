// Shared helpers for the optimiser tests: the PyTorch reference fixture, error matching, temp dirs.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterkitError, type ErrorCode } from '../../src/errors.js';
import { tempDir } from '../temp-dir.js';

type Tensors = Record<string, number[]>;

/** test/fixtures/optim/adamw.json, written by scripts/fixtures/make_optim_fixture.py. */
export interface AdamWFixture {
  settings: {
    peak_lr: number; total_steps: number; warmup_steps: number; betas: [number, number];
    eps: number; weight_decay: number; max_norm: number; decayed: string[];
  };
  names: string[];
  shapes: number[][];
  initial: Tensors;
  steps: Array<{ lr: number; grads: Tensors; norm: number; clipped_grads: Tensors; params: Tensors }>;
}

export const fixture: AdamWFixture = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'fixtures', 'optim', 'adamw.json'), 'utf8'),
);

/** The fixture's gradients of step `k` as fresh float32 arrays, in parameter order. */
export const gradsOf = (k: number): Float32Array[] => fixture.names.map((n) => Float32Array.from(fixture.steps[k]!.grads[n]!));

/** Fresh float32 copies of the fixture's initial parameters. */
export const initialParams = (): Array<{ name: string; data: Float32Array }> =>
  fixture.names.map((name) => ({ name, data: Float32Array.from(fixture.initial[name]!) }));

/** Asserts `fn` throws an AdapterkitError with this code and a message matching `pattern`. */
export function throwsCoded(fn: () => unknown, code: ErrorCode, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AdapterkitError, `expected an AdapterkitError, got ${String(e)}`);
    assert.equal(e.code, code, `wrong code for: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

/** Async form of {@link throwsCoded}. */
export async function rejectsCoded(fn: () => Promise<unknown>, code: ErrorCode, pattern: RegExp): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof AdapterkitError, `expected an AdapterkitError, got ${String(e)}`);
    assert.equal(e.code, code, `wrong code for: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

/** Asserts every element of `actual` is within `rel` relative error of `expected`. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    assert.ok(Math.abs(a - e) <= rel * Math.abs(e), `${what}[${i}]: got ${a}, expected ${e} (relative error ${Math.abs(a - e) / Math.abs(e)})`);
  }
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = tempDir('adapterkit-optim-');
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
