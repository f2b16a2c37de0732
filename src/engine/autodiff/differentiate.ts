/**
 * Reverse-mode differentiation on a {@link Graph}: `gradients(loss, params)` appends the backward
 * graph and returns one gradient value per parameter.
 *
 * The driver owns everything rules must not: which nodes lie between the parameters and the loss
 * (nothing is differentiated into frozen constants or inputs), the reverse walk, reducing
 * broadcast gradients back to each input's shape, summing contributions, and deterministic names
 * (every backward node lives in the `grad` scope and is numbered in creation order).
 */
import { fail } from '../../errors.js';
import type { Graph, Node, Value } from '../graph.js';
import { add } from '../ops/elementwise.js';
import { reduceSum } from '../ops/reduce.js';
import { fill, reshapeLike } from '../ops/shape.js';
import { fmtShape, sameShape } from '../shape.js';
import { isFloat } from '../tensor.js';
import { gradientEntry } from './registry.js';
import './rules/index.js';

/** Options of {@link gradients}. */
export interface GradientOptions {
  /** Gradient of the final quantity w.r.t. `loss` (defaults to 1 for a scalar loss). */
  seed?: Value;
  /** Return zeros for parameters the loss does not depend on (default) or throw. */
  unused?: 'zeros' | 'error';
}

/** Reduces a broadcast gradient `g` back to the shape of `x`. */
export function unbroadcast(g: Value, x: Value): Value {
  if (sameShape(g.shape, x.shape)) return g;
  const lead = g.rank - x.rank;
  if (lead < 0) fail('GRAPH_ERROR', `gradient ${g.describe()} has lower rank than its input ${x.describe()}`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead) axes.push(i);
    else if (x.shape[i - lead] === 1 && g.shape[i] !== 1) axes.push(i);
  }
  if (axes.length === 0) return g;
  if (axes.every((a) => a < lead) && axes.length === lead) return reduceSum(g, axes, false);
  return reshapeLike(reduceSum(g, axes, true), x);
}

/** Nodes in creation order whose outputs depend on any of `from` (float outputs only). */
function forwardReach(graph: Graph, from: Set<Value>, nodes: readonly Node[]): Set<Value> {
  const dep = new Set<Value>(from);
  for (const n of nodes) {
    if (n.inputs.some((i) => i && dep.has(i))) for (const o of n.outputs) if (isFloat(o.dtype)) dep.add(o);
  }
  return dep;
}

/**
 * Appends the backward graph of `loss` and returns d loss / d p for each `p` in `wrt`, in order.
 *
 * @example
 * ```ts
 * const g = new Graph();
 * const x = g.input('x', 'float32', ['batch', 4]);
 * const w = g.param('w', f32([4, 1], [1, 2, 3, 4]));
 * const loss = reduceMean(matmul(x, w));
 * const [dw] = gradients(loss, [w]);
 * g.output(loss, dw!);
 * ```
 */
export function gradients(loss: Value, wrt: readonly Value[], o: GradientOptions = {}): Value[] {
  const graph = loss.graph;
  for (const p of wrt) {
    graph.own(p, 'gradients');
    if (!isFloat(p.dtype)) fail('DTYPE_MISMATCH', `gradients: cannot differentiate with respect to ${p.describe()}: not a float tensor`);
  }
  if (!isFloat(loss.dtype)) fail('DTYPE_MISMATCH', `gradients: loss ${loss.describe()} is not a float tensor`);
  if (!o.seed && loss.rank !== 0) {
    fail('SHAPE_MISMATCH', `gradients: loss ${loss.describe()} must be a scalar (shape []) or a seed gradient must be given`);
  }
  const nodes = [...graph.nodes]; // snapshot: the backward nodes appended below are not walked
  const dep = forwardReach(graph, new Set(wrt), nodes);
  if (!dep.has(loss)) {
    if (o.unused === 'error') fail('GRAPH_ERROR', `gradients: ${loss.name} does not depend on any of the parameters`);
  }
  // Values between the parameters and the loss.
  const needed = new Set<Value>([loss]);
  const active: Node[] = [];
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k] as Node;
    if (!n.outputs.some((v) => needed.has(v))) continue;
    active.push(n);
    for (const i of n.inputs) if (i && dep.has(i)) needed.add(i);
  }
  return graph.scope('grad', () => {
    const contrib = new Map<Value, Value[]>();
    const push = (v: Value, g: Value) => {
      const list = contrib.get(v);
      if (list) list.push(g);
      else contrib.set(v, [g]);
    };
    const total = (v: Value): Value | undefined => {
      const list = contrib.get(v);
      if (!list || list.length === 0) return undefined;
      let s = list[0] as Value;
      for (let i = 1; i < list.length; i++) s = add(s, list[i] as Value);
      contrib.set(v, [s]);
      return s;
    };
    push(loss, o.seed ?? graph.literal(loss.dtype, 1));
    for (const n of active) {
      const dy = n.outputs.map(total);
      if (dy.every((d) => d === undefined)) continue;
      const needs = n.inputs.map((i) => !!i && dep.has(i) && needed.has(i) && isFloat(i.dtype));
      if (!needs.some(Boolean)) continue;
      const entry = gradientEntry(n.opType);
      if (!entry) fail('NO_GRADIENT', `no gradient rule for op ${n.opType} (node ${n.name}); cannot differentiate through it`, { op: n.opType, node: n.name });
      if (entry.kind === 'none') {
        fail('NO_GRADIENT', `op ${n.opType} (node ${n.name}) is not differentiable: ${entry.reason}`, { op: n.opType, node: n.name });
      }
      const dx = entry.rule({ node: n, x: n.inputs, y: n.outputs, dy, needs });
      n.inputs.forEach((inp, i) => {
        const d = dx[i];
        if (!inp || !needs[i] || !d) return;
        if (d.dtype !== inp.dtype) fail('GRAPH_ERROR', `gradient rule of ${n.opType} returned ${d.describe()} for input ${inp.describe()}`);
        const r = unbroadcast(d, inp);
        if (r.rank !== inp.rank) {
          fail('GRAPH_ERROR', `gradient rule of ${n.opType} returned shape ${fmtShape(d.shape)} for input ${inp.describe()}`);
        }
        push(inp, r);
      });
    }
    return wrt.map((p) => {
      const g = total(p);
      if (g) return g;
      if (o.unused === 'error') fail('GRAPH_ERROR', `gradients: the loss does not depend on parameter ${p.name}`);
      return fill(p, 0, p.dtype);
    });
  });
}
