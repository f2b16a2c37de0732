/**
 * Static shapes with symbolic dimensions.
 *
 * A dimension is a number (known size) or a string naming a size known only at run time
 * (`'batch'`, `'seq'`, or a product such as `'batch*seq'`). Two equal strings are the same size.
 */
import { fail } from '../errors.js';

/** One dimension: a size, or the name of a run-time size. */
export type Dim = number | string;
/** A shape: one {@link Dim} per axis. */
export type Shape = readonly Dim[];

/** Formats a shape for error messages: `[batch, seq, 768]`. */
export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** True when every dimension is a number. */
export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

/** Same dims, position by position. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A dim as a factorisation: a number times named run-time sizes. */
export interface DimTerm {
  n: number;
  syms: string[];
}

/** Splits `'batch*seq*2'` into `{ n: 2, syms: ['batch', 'seq'] }`. */
export function parseDim(d: Dim): DimTerm {
  if (typeof d === 'number') return { n: d, syms: [] };
  let n = 1;
  const syms: string[] = [];
  for (const part of d.split('*')) {
    if (/^\d+$/.test(part)) n *= Number(part);
    else syms.push(part);
  }
  return { n, syms: syms.sort() };
}

/** Canonical dim from a factorisation (symbols sorted, number last). */
export function formatDim(t: DimTerm): Dim {
  if (t.syms.length === 0 || t.n === 0) return t.n;
  const sym = [...t.syms].sort().join('*');
  return t.n === 1 ? sym : `${sym}*${t.n}`;
}

/** Product of dims; symbolic dims multiply into a string such as `'batch*seq'`. */
export function dimProduct(dims: readonly Dim[]): Dim {
  const acc: DimTerm = { n: 1, syms: [] };
  for (const d of dims) {
    const t = parseDim(d);
    acc.n *= t.n;
    acc.syms.push(...t.syms);
  }
  return formatDim(acc);
}

/** `a / b` for dims when it divides exactly (symbols cancel), else undefined. */
export function dimDivide(a: Dim, b: Dim): Dim | undefined {
  const A = parseDim(a);
  const B = parseDim(b);
  if (B.n === 0 || A.n % B.n !== 0) return undefined;
  const syms = [...A.syms];
  for (const s of B.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return undefined;
    syms.splice(i, 1);
  }
  return formatDim({ n: A.n / B.n, syms });
}

/** Normalises a possibly negative axis against a rank; errors name the op. */
export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) fail('SHAPE_MISMATCH', `${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/**
 * Numpy-style broadcast of several shapes. A symbolic dim against 1 gives the symbolic dim;
 * against a number > 1 it gives the number (the builder cannot check it; ONNX Runtime will).
 */
export function broadcastShapes(op: string, shapes: readonly { name: string; shape: Shape }[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.shape.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s.shape.length);
      if (k < 0) continue;
      const e = s.shape[k] as Dim;
      if (e === 1 || e === d) continue;
      if (d === 1) d = e;
      else if (typeof d === 'number' && typeof e === 'number') {
        const others = shapes.map((x) => `${x.name} ${fmtShape(x.shape)}`).join(' and ');
        fail('SHAPE_MISMATCH', `${op}: cannot broadcast ${others} (axis ${i - rank}: ${d} vs ${e})`, {
          op, shapes: shapes.map((x) => x.shape),
        });
      } else if (typeof d === 'string' && typeof e === 'number') d = e;
      // d number, e string: keep the number
    }
    out.push(d);
  }
  return out;
}
