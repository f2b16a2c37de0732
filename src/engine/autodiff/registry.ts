/**
 * The gradient-rule registry: ONNX op type -> rule. A rule receives the node, its inputs and
 * outputs and the gradients flowing into its outputs, and returns one gradient per input
 * (`undefined` where the input needs none or the gradient is zero). Rules return gradients in the
 * shape the op broadcast them to; the driver (`differentiate.ts`) reduces them to each input's
 * shape, sums contributions and names everything. Ops that have no gradient are marked with a reason.
 */
import { fail } from '../../errors.js';
import type { Attr, Node, Value } from '../graph.js';

/** What a gradient rule sees. */
export interface GradContext {
  readonly node: Node;
  /** The node's inputs (undefined for omitted optional inputs). */
  readonly x: readonly (Value | undefined)[];
  /** The node's outputs. */
  readonly y: readonly Value[];
  /** Gradient of the loss w.r.t. each output; undefined where none flows. */
  readonly dy: readonly (Value | undefined)[];
  /** Whether each input needs a gradient. */
  readonly needs: readonly boolean[];
}

/** A gradient rule. */
export type GradRule = (c: GradContext) => readonly (Value | undefined)[];

/** An op type's registry entry: its gradient rule, or the reason it has none. */
export type GradientEntry = { kind: 'rule'; rule: GradRule } | { kind: 'none'; reason: string };

const REGISTRY = new Map<string, GradientEntry>();

/** Registers the gradient rule of an op type. */
export function defineGradient(opType: string, rule: GradRule): void {
  if (REGISTRY.has(opType)) fail('GRAPH_ERROR', `gradient of ${opType} defined twice`);
  REGISTRY.set(opType, { kind: 'rule', rule });
}

/** Marks op types that have no gradient (integer/bool ops, shape queries), with the reason. */
export function markNonDifferentiable(reason: string, ...opTypes: string[]): void {
  for (const op of opTypes) {
    if (REGISTRY.has(op)) fail('GRAPH_ERROR', `gradient of ${op} defined twice`);
    REGISTRY.set(op, { kind: 'none', reason });
  }
}

/** The registry entry of an op type, if any. */
export function gradientEntry(opType: string): GradientEntry | undefined {
  return REGISTRY.get(opType);
}

/** All op types with an entry (rule or mark). */
export function registeredOps(): string[] {
  return [...REGISTRY.keys()].sort();
}

/** Reads an attribute, or the default. */
export function attrInt(n: Node, name: string, dflt: number): number {
  const a = n.attrs[name] as Attr | undefined;
  return a && 'i' in a ? a.i : dflt;
}

/** Reads a float attribute, or the default. */
export function attrFloat(n: Node, name: string, dflt: number): number {
  const a = n.attrs[name] as Attr | undefined;
  return a && 'f' in a ? a.f : dflt;
}

/** Reads an ints attribute. */
export function attrInts(n: Node, name: string): number[] | undefined {
  const a = n.attrs[name] as Attr | undefined;
  return a && 'ints' in a ? [...a.ints] : undefined;
}

/** Reads a string attribute, or the default. */
export function attrStr(n: Node, name: string, dflt: string): string {
  const a = n.attrs[name] as Attr | undefined;
  return a && 's' in a ? a.s : dflt;
}

/** The numbers held by a constant input (axes, starts, ratios...). */
export function constValues(v: Value | undefined, what: string): number[] {
  if (!v || v.kind !== 'constant') fail('NO_GRADIENT', `${what} must be a constant for its gradient to be built`);
  const t = v.graph.dataOf(v);
  return Array.from(t.data as ArrayLike<number | bigint>, (x) => Number(x));
}
