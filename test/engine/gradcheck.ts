/**
 * Finite-difference gradient checking for engine graphs.
 *
 * `gradcheck` builds y = f(params, inputs), forms loss = sum(y * r) with a fixed random r (so every
 * output element matters), asks the engine for d loss / d param, and compares every element with
 * the central difference (loss(p + eps) - loss(p - eps)) / (2 eps) computed by running the
 * forward graph again on ONNX Runtime.
 */
import assert from 'node:assert/strict';
import { Graph, Session, f32, gradients, mul, reduceSum, type HostTensor, type Value } from '../../src/engine/index.js';

/** Deterministic pseudo-random numbers in [-1, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

/** ‖a − b‖ / ‖b‖ over all elements (Frobenius): how far `a` is from the reference `b`. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += ((a[i] as number) - (b[i] as number)) ** 2;
    n += (b[i] as number) ** 2;
  }
  return Math.sqrt(d / n);
}

/** A float32 tensor of random values in [lo, hi). */
export function randn(shape: number[], seed: number, lo = -1, hi = 1): HostTensor<'float32'> {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return f32(shape, Float32Array.from({ length: n }, () => lo + ((r() + 1) / 2) * (hi - lo)));
}

export interface GradcheckCase {
  /** Trainable parameters: name -> initial value. */
  params: Record<string, HostTensor<'float32'>>;
  /** Runtime inputs (declared with these exact shapes unless `shapes` says otherwise). */
  feeds?: Record<string, HostTensor>;
  /** Symbolic shapes for inputs (to exercise dynamic dims). */
  shapes?: Record<string, (number | string)[]>;
  /** Builds the output from the params and inputs. */
  build: (p: Record<string, Value>, x: Record<string, Value>, g: Graph) => Value;
  eps?: number;
  atol?: number;
  rtol?: number;
  seed?: number;
}

/** Runs the finite-difference check; throws an assertion error naming the worst element. */
export async function gradcheck(c: GradcheckCase): Promise<void> {
  const g = new Graph('gradcheck');
  const feeds = c.feeds ?? {};
  const x: Record<string, Value> = {};
  for (const [name, t] of Object.entries(feeds)) x[name] = g.input(name, t.dtype, c.shapes?.[name] ?? [...t.shape]);
  const p: Record<string, Value> = {};
  for (const [name, t] of Object.entries(c.params)) p[name] = g.param(name, f32(t.shape, Float32Array.from(t.data)));
  const y = c.build(p, x, g);
  // Shape of y at run time.
  const fwd = await Session.create(g, { outputs: [y] });
  const yv = (await fwd.run(feeds))[y.name] as HostTensor;
  await fwd.dispose();
  const r = g.input('r_weights', 'float32', y.shape);
  const loss = reduceSum(mul(y, r));
  const params = Object.values(p);
  const grads = gradients(loss, params);
  const sess = await Session.create(g, { outputs: [loss, ...grads] });
  const allFeeds = { ...feeds, r_weights: randn([...yv.shape], (c.seed ?? 7) + 1) };
  const out = await sess.run(allFeeds);
  const eps = c.eps ?? 1e-2;
  const atol = c.atol ?? 5e-4;
  const rtol = c.rtol ?? 4e-3;
  let maxErr = 0;
  let checked = 0;
  for (let k = 0; k < params.length; k++) {
    const pv = params[k] as Value;
    const analytic = (out[(grads[k] as Value).name] as HostTensor).data as Float32Array;
    const data = g.dataOf(pv).data as Float32Array;
    assert.equal(analytic.length, data.length, `gradient of ${pv.name} has ${analytic.length} elements, parameter has ${data.length}`);
    for (let i = 0; i < data.length; i++) {
      const orig = data[i] as number;
      data[i] = orig + eps;
      const lp = ((await sess.run(allFeeds, [loss]))[loss.name]?.data as Float32Array)[0] as number;
      data[i] = orig - eps;
      const lm = ((await sess.run(allFeeds, [loss]))[loss.name]?.data as Float32Array)[0] as number;
      data[i] = orig;
      const numeric = (lp - lm) / (2 * eps);
      const a = analytic[i] as number;
      const err = Math.abs(a - numeric);
      maxErr = Math.max(maxErr, err / (atol + rtol * Math.abs(numeric)));
      checked++;
      if (!(err <= atol + rtol * Math.abs(numeric))) {
        await sess.dispose();
        assert.fail(`gradient of ${pv.name}[${i}]: analytic ${a}, numeric ${numeric} (|diff| ${err})`);
      }
    }
  }
  await sess.dispose();
  assert.ok(checked > 0 && maxErr <= 1, 'gradcheck checked no element');
}
