/**
 * The bottleneck adapter module: adapter(h) = h + W_up f(W_down h + b_down) + b_up,
 * inserted at an encoder's attachment points through the build hook.
 *
 * Internal names: `adapters.{layer}.{point}.{down|up}.{weight|bias}`; linear weights [in, out].
 */
import { add, f32, gelu, linear, relu, silu, tanh, type HostTensor, type Value } from '../engine/index.js';
import type { AttachmentPoint, Encoder } from '../models/encoder.js';
import { Rng } from '../util/random.js';
import { bottleneckSize, type AdapterActivation, type AdapterConfig } from './config.js';

/** One adapter's location and sizes. */
export interface AdapterSite {
  readonly layer: number;
  readonly point: AttachmentPoint;
  /** Width d of the hidden state at this point. */
  readonly width: number;
  /** Bottleneck m. */
  readonly size: number;
  /** Name prefix of this adapter's four tensors. */
  readonly prefix: string;
}

/** Every adapter a config inserts into an encoder, in layer then point order. */
export function adapterSites(c: AdapterConfig, enc: Encoder): AdapterSite[] {
  const sites: AdapterSite[] = [];
  for (let layer = 0; layer < enc.numLayers; layer++) {
    if (c.leaveOut.includes(layer)) continue;
    for (const point of enc.attachmentPoints) {
      if (!c.points.includes(point)) continue;
      const width = enc.attachmentWidth(layer, point);
      sites.push({ layer, point, width, size: bottleneckSize(c, width), prefix: `adapters.${layer}.${point}` });
    }
  }
  return sites;
}

/** Names and shapes of the adapter weights of `sites` (projections [in, out], biases [out]). */
export function adapterWeightShapes(sites: readonly AdapterSite[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const s of sites) {
    m.set(`${s.prefix}.down.weight`, [s.width, s.size]);
    m.set(`${s.prefix}.down.bias`, [s.size]);
    m.set(`${s.prefix}.up.weight`, [s.size, s.width]);
    m.set(`${s.prefix}.up.bias`, [s.width]);
  }
  return m;
}

/** Freshly initialised adapter weights: truncated normal (2 std) projections, zero biases. */
export function initAdapterWeights(c: AdapterConfig, sites: readonly AdapterSite[], seed: number): Map<string, HostTensor<'float32'>> {
  const rng = new Rng(seed);
  const w = new Map<string, HostTensor<'float32'>>();
  for (const [name, shape] of adapterWeightShapes(sites)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.endsWith('.weight')) for (let i = 0; i < n; i++) data[i] = rng.truncatedNormal(c.initStd, 2);
    w.set(name, f32(shape, data));
  }
  return w;
}

/** Number of parameters of the adapters: sum of 2 m d + m + d. */
export function adapterParamCount(sites: readonly AdapterSite[]): number {
  return sites.reduce((n, s) => n + 2 * s.size * s.width + s.size + s.width, 0);
}

function activate(x: Value, a: AdapterActivation): Value {
  switch (a) {
    case 'gelu':
      return gelu(x);
    case 'relu':
      return relu(x);
    case 'swish':
      return silu(x);
    case 'tanh':
      return tanh(x);
  }
}

/** Applies one adapter to h [B, T, d] given its four weight values. */
export function applyAdapter(h: Value, w: (name: string) => Value, site: AdapterSite, act: AdapterActivation): Value {
  const down = activate(linear(h, w(`${site.prefix}.down.weight`), w(`${site.prefix}.down.bias`)), act); // [B, T, m]
  const up = linear(down, w(`${site.prefix}.up.weight`), w(`${site.prefix}.up.bias`)); // [B, T, d]
  return add(h, up); // skip connection inside the adapter
}

/** A build hook that inserts the configured adapters. */
export function adapterHook(
  c: AdapterConfig,
  sites: readonly AdapterSite[],
  w: (name: string) => Value,
): (point: AttachmentPoint, layer: number, h: Value) => Value {
  const byKey = new Map(sites.map((s) => [`${s.layer}.${s.point}`, s]));
  return (point, layer, h) => {
    const site = byKey.get(`${layer}.${point}`);
    return site ? h.graph.scope(`adapter${layer}_${point}`, () => applyAdapter(h, w, site, c.activation)) : h;
  };
}
