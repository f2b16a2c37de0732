/**
 * Element-wise ops with numpy broadcasting: arithmetic, unary math, activations, comparisons.
 */
import { fail } from '../../errors.js';
import { attr, type Value } from '../graph.js';
import { broadcastShapes } from '../shape.js';
import type { DType } from '../tensor.js';
import { expectFloat, expectSameDtype, lift, type Operand } from './check.js';

function graphOf(op: string, ...xs: Operand[]): Value {
  const v = xs.find((x): x is Value => typeof x !== 'number');
  if (!v) fail('GRAPH_ERROR', `${op}: at least one operand must be a graph value`);
  return v;
}

function binary(op: string, a: Operand, b: Operand, outDtype?: DType): Value {
  const ref = graphOf(op, a, b);
  const A = lift(a, ref);
  const B = lift(b, ref);
  expectSameDtype(op, A, B);
  const shape = broadcastShapes(op, [{ name: `A (${A.name})`, shape: A.shape }, { name: `B (${B.name})`, shape: B.shape }]);
  return ref.graph.addNode(op, [A, B], {}, [{ dtype: outDtype ?? A.dtype, shape }])[0] as Value;
}

function unary(op: string, x: Value, float = true, attrs = {}): Value {
  if (float) expectFloat(op, 'X', x);
  return x.graph.addNode(op, [x], attrs, [{ dtype: x.dtype, shape: x.shape }])[0] as Value;
}

/** a + b (broadcasting). */
export const add = (a: Operand, b: Operand): Value => binary('Add', a, b);
/** a - b (broadcasting). */
export const sub = (a: Operand, b: Operand): Value => binary('Sub', a, b);
/** a * b (broadcasting). */
export const mul = (a: Operand, b: Operand): Value => binary('Mul', a, b);
/** a / b (broadcasting). */
export const div = (a: Operand, b: Operand): Value => binary('Div', a, b);
/** a ** b (broadcasting). */
export const pow = (a: Operand, b: Operand): Value => binary('Pow', a, b);
/** a > b, bool. */
export const greater = (a: Operand, b: Operand): Value => binary('Greater', a, b, 'bool');
/** a < b, bool. */
export const less = (a: Operand, b: Operand): Value => binary('Less', a, b, 'bool');
/** a == b, bool. */
export const equal = (a: Operand, b: Operand): Value => binary('Equal', a, b, 'bool');

/** -x */
export const neg = (x: Value): Value => unary('Neg', x);
/** |x| */
export const abs = (x: Value): Value => unary('Abs', x);
/** sign(x) (zero gradient). */
export const sign = (x: Value): Value => unary('Sign', x);
/** sqrt(x) */
export const sqrt = (x: Value): Value => unary('Sqrt', x);
/** e^x */
export const exp = (x: Value): Value => unary('Exp', x);
/** ln x */
export const log = (x: Value): Value => unary('Log', x);
/** erf(x) */
export const erf = (x: Value): Value => unary('Erf', x);
/** tanh(x) */
export const tanh = (x: Value): Value => unary('Tanh', x);
/** max(x, 0) */
export const relu = (x: Value): Value => unary('Relu', x);
/** 1 / (1 + e^-x) */
export const sigmoid = (x: Value): Value => unary('Sigmoid', x);
/** Identity (a named pass-through). */
export const identity = (x: Value): Value => unary('Identity', x, false);
/** Logical not of a bool tensor. */
export const not = (x: Value): Value => {
  if (x.dtype !== 'bool') fail('DTYPE_MISMATCH', `Not: input X (${x.describe()}) must be bool`);
  return unary('Not', x, false);
};

/** GELU, exact (erf) or the tanh approximation (ONNX Gelu, opset 20). */
export function gelu(x: Value, approximate: 'none' | 'tanh' = 'none'): Value {
  return unary('Gelu', x, true, { approximate: attr.str(approximate) });
}

/** x * sigmoid(x) (SiLU / swish), composed from primitives. */
export function silu(x: Value): Value {
  return mul(x, sigmoid(x));
}

/** Where(cond, a, b): a where cond is true, else b (broadcasting). */
export function where(cond: Value, a: Operand, b: Operand): Value {
  if (cond.dtype !== 'bool') fail('DTYPE_MISMATCH', `Where: input condition (${cond.describe()}) must be bool`);
  const ref = graphOf('Where', a, b);
  const A = lift(a, ref);
  const B = lift(b, ref);
  expectSameDtype('Where', A, B);
  const shape = broadcastShapes('Where', [
    { name: `condition (${cond.name})`, shape: cond.shape },
    { name: `X (${A.name})`, shape: A.shape },
    { name: `Y (${B.name})`, shape: B.shape },
  ]);
  return cond.graph.addNode('Where', [cond, A, B], {}, [{ dtype: A.dtype, shape }])[0] as Value;
}
