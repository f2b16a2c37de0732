/**
 * Adapter compositions as data: which of a model's named adapters run, and how they combine.
 * The blocks and their nesting rules are AdapterHub's (adapters @ 88f18eb `composition.py`:
 * `Stack`, `Fuse`, `Split`, `BatchSplit`, `Parallel`, `Average`, `ALLOWED_NESTINGS`,
 * `validate_composition`); what each block computes for each method is in `compose.ts`.
 *
 *     Stack(a, b)                       a's output is b's input
 *     Fuse(a, b, c)                     AdapterFusion over the adapters' outputs (fusion.ts)
 *     Split(a, b, { splits: [k, m] })   tokens 0..k-1 through a, the next m through b
 *     BatchSplit(a, b, { batch_sizes })  rows of the batch to each adapter
 *     Parallel(a, b)                    the batch replicated, one copy per adapter (outputs per adapter)
 *     Average(a, b, { weights })        weighted average of the adapters' outputs (weights normalised)
 *
 * A bare name at the top is `Stack(name)`. A nesting AdapterHub does not allow is an error naming
 * the outer and the inner block; so is a block below the second level other than a Stack, and a
 * block inside a nested Stack (AdapterHub's "too deep").
 *
 * @example
 * ```ts
 * parseComposition('Stack(lang, Average(a, b, weights=[1, 3]))');
 * // { type: 'Stack', children: ['lang', { type: 'Average', children: ['a', 'b'], weights: [0.25, 0.75] }] }
 * formatComposition(Stack('lang', 'task'));   // 'Stack(lang, task)'
 * ```
 */
import { fail } from '../errors.js';
import { ADAPTER_NAME } from './names.js';

/** The block types (AdapterHub's class names). */
export type BlockType = 'Stack' | 'Fuse' | 'Split' | 'BatchSplit' | 'Parallel' | 'Average';

/** A composition block. */
export type Block =
  | { readonly type: 'Stack'; readonly children: readonly Composition[] }
  | { readonly type: 'Fuse'; readonly children: readonly Composition[]; readonly name?: string }
  | { readonly type: 'Split'; readonly children: readonly Composition[]; readonly splits: readonly number[] }
  | { readonly type: 'BatchSplit'; readonly children: readonly Composition[]; readonly batch_sizes: readonly number[] }
  | { readonly type: 'Parallel'; readonly children: readonly Composition[] }
  /** `weights` as used: normalised to sum 1 unless made with `normalize_weights: false`. */
  | { readonly type: 'Average'; readonly children: readonly Composition[]; readonly weights: readonly number[] };

/** An adapter name or a block. */
export type Composition = string | Block;

/** What a block may hold (AdapterHub's `ALLOWED_NESTINGS`; `name` is an adapter name). */
export const ALLOWED_NESTINGS: Readonly<Record<BlockType, readonly ('name' | BlockType)[]>> = {
  Stack: ['name', 'Fuse', 'Split', 'Parallel', 'BatchSplit', 'Average'],
  Fuse: ['name', 'Stack'],
  Split: ['name', 'Split', 'Stack', 'BatchSplit', 'Average'],
  Parallel: ['name', 'Stack', 'BatchSplit', 'Average'],
  BatchSplit: ['name', 'Stack', 'Split', 'BatchSplit', 'Average'],
  Average: ['name', 'Stack', 'Split', 'BatchSplit'],
};

const BLOCK_TYPES = Object.keys(ALLOWED_NESTINGS) as BlockType[];

type Options<T> = T & { readonly type?: never };

function isOptions(v: unknown): boolean {
  return !!v && typeof v === 'object' && !Array.isArray(v) && !('type' in v);
}

function splitArgs<O>(args: readonly unknown[], block: BlockType): { children: Composition[]; options: O | undefined } {
  const last = args[args.length - 1];
  const options = isOptions(last) ? (last as O) : undefined;
  const children = (options === undefined ? args : args.slice(0, -1)) as Composition[];
  if (children.some((c) => isOptions(c))) fail('BAD_CONFIG', `${block}: options must come last`);
  return { children, options };
}

/** A per-child list from a number (repeated for every child, as AdapterHub does) or a list. */
function perChild(v: number | readonly number[] | undefined, n: number, block: BlockType, field: string): number[] {
  if (v === undefined) fail('BAD_CONFIG', `${block} needs ${field}`);
  const list = typeof v === 'number' ? Array.from({ length: n }, () => v) : [...v];
  if (list.length !== n) fail('BAD_CONFIG', `${block}: ${field} has ${list.length} entries for ${n} children`);
  for (const x of list) if (!(Number.isInteger(x) && x >= 1)) fail('BAD_CONFIG', `${block}: ${field} must be positive integers, got ${JSON.stringify(v)}`);
  return list;
}

/** `Stack(a, b, …)`: a's output is the next one's input. */
export function Stack(...children: Composition[]): Block {
  return checkComposition({ type: 'Stack', children });
}

/** `Fuse(a, b, …, { name })`: the model's AdapterFusion layer `name` (default `a,b,…`) over the adapters' outputs (see fusion.ts). */
export function Fuse(...args: [...Composition[], Options<{ name?: string }>] | Composition[]): Block {
  const { children, options } = splitArgs<{ name?: string }>(args, 'Fuse');
  return checkComposition({ type: 'Fuse', children, ...(options?.name !== undefined ? { name: options.name } : {}) });
}

/** `Split(a, b, { splits })`: the sequence cut into consecutive token ranges, one per child. */
export function Split(...args: [...Composition[], Options<{ splits: number | readonly number[] }>]): Block {
  const { children, options } = splitArgs<{ splits: number | readonly number[] }>(args, 'Split');
  return checkComposition({ type: 'Split', children, splits: perChild(options?.splits, children.length, 'Split', 'splits') });
}

/** `BatchSplit(a, b, { batch_sizes })`: consecutive rows of the batch, one range per child. */
export function BatchSplit(...args: [...Composition[], Options<{ batch_sizes: number | readonly number[] }>]): Block {
  const { children, options } = splitArgs<{ batch_sizes: number | readonly number[] }>(args, 'BatchSplit');
  return checkComposition({ type: 'BatchSplit', children, batch_sizes: perChild(options?.batch_sizes, children.length, 'BatchSplit', 'batch_sizes') });
}

/** `Parallel(a, b, …)`: the batch replicated once per child; the outputs come per child, channel after channel. */
export function Parallel(...children: Composition[]): Block {
  return checkComposition({ type: 'Parallel', children });
}

/**
 * `Average(a, b, { weights, normalize_weights })`: the weighted average of the children's
 * outputs. Weights default to 1/n each and are normalised to sum 1 (AdapterHub's default).
 */
export function Average(...args: [...Composition[], Options<{ weights?: readonly number[]; normalize_weights?: boolean }>] | Composition[]): Block {
  const { children, options } = splitArgs<{ weights?: readonly number[]; normalize_weights?: boolean }>(args, 'Average');
  return checkComposition({ type: 'Average', children, weights: averageWeights(children.length, options?.weights, options?.normalize_weights ?? true) });
}

function averageWeights(n: number, weights: readonly number[] | undefined, normalize: boolean): number[] {
  if (weights === undefined) return Array.from({ length: n }, () => 1 / n);
  if (weights.length !== n) fail('BAD_CONFIG', `Average: weights has ${weights.length} entries for ${n} children`);
  if (weights.some((w) => typeof w !== 'number' || !Number.isFinite(w))) fail('BAD_CONFIG', `Average: weights must be finite numbers, got ${JSON.stringify(weights)}`);
  if (!normalize) return [...weights];
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum === 0) fail('BAD_CONFIG', `Average: weights ${JSON.stringify(weights)} sum to 0 and cannot be normalised`);
  return weights.map((w) => w / sum);
}

/** The block type of a child, or `name`. */
function kindOf(c: Composition): 'name' | BlockType {
  return typeof c === 'string' ? 'name' : c.type;
}

/** A short description of a child for messages: the name, or the block with its children. */
function describe(c: Composition): string {
  return typeof c === 'string' ? `adapter ${c}` : formatComposition(c);
}

/**
 * Validates a composition and freezes it: names are adapter names, every block has children,
 * nestings are AdapterHub's, no block is too deep, at most one Parallel.
 *
 * @throws AdapterkitError BAD_CONFIG naming the outer and inner block of a nesting AdapterHub does not allow.
 */
export function checkComposition(c: Composition): Block {
  const top: Block = typeof c === 'string' ? { type: 'Stack', children: [c] } : c;
  const frozen = freeze(top, 0, false) as Block;
  const parallels = countBlocks(frozen, 'Parallel');
  if (parallels > 1) fail('BAD_CONFIG', `${formatComposition(frozen)} has ${parallels} Parallel blocks; a composition replicates the batch once (one Parallel block)`);
  return frozen;
}

function countBlocks(c: Composition, type: BlockType): number {
  if (typeof c === 'string') return 0;
  return (c.type === type ? 1 : 0) + c.children.reduce((n, ch) => n + countBlocks(ch, type), 0);
}

function freeze(c: Composition, level: number, inNestedStack: boolean): Composition {
  if (typeof c === 'string') {
    if (!ADAPTER_NAME.test(c)) fail('BAD_CONFIG', `${JSON.stringify(c)} is not an adapter name (letters, digits, _ and -)`);
    return c;
  }
  if (!c || typeof c !== 'object' || !BLOCK_TYPES.includes(c.type)) fail('BAD_CONFIG', `not a composition block: ${JSON.stringify(c)} (blocks: ${BLOCK_TYPES.join(', ')})`);
  if (!Array.isArray(c.children) || c.children.length === 0) fail('BAD_CONFIG', `${c.type} has no children`);
  // AdapterHub validate_composition: below level 1 only Stacks; compose_stack: a nested Stack holds names only
  if (level > 1 && c.type !== 'Stack') fail('BAD_CONFIG', `the composition is too deep: ${formatComposition(c)} at level ${level} (only a Stack or an adapter name may sit below the second level)`);
  if (inNestedStack) fail('BAD_CONFIG', `the composition is too deep: ${formatComposition(c)} inside a nested Stack (a Stack below the top level holds adapter names only)`);
  for (const child of c.children) {
    const k = kindOf(child);
    if (!ALLOWED_NESTINGS[c.type].includes(k)) {
      const allowed = ALLOWED_NESTINGS[c.type].map((a) => (a === 'name' ? 'adapter names' : a)).join(', ');
      fail('BAD_CONFIG', `cannot nest ${k === 'name' ? describe(child) : k} inside ${c.type}: ${c.type} may hold ${allowed} (AdapterHub's ALLOWED_NESTINGS), got ${formatComposition(c)}`);
    }
  }
  const nested = c.type === 'Stack' && level >= 1;
  const children = Object.freeze(c.children.map((ch) => freeze(ch, level + 1, nested && typeof ch !== 'string')));
  switch (c.type) {
    case 'Split':
      return Object.freeze({ type: c.type, children, splits: Object.freeze(perChild(c.splits, children.length, 'Split', 'splits')) });
    case 'BatchSplit':
      return Object.freeze({ type: c.type, children, batch_sizes: Object.freeze(perChild(c.batch_sizes, children.length, 'BatchSplit', 'batch_sizes')) });
    case 'Average': {
      const w = c.weights as readonly number[] | undefined;
      if (!Array.isArray(w) || w.length !== children.length || w.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
        fail('BAD_CONFIG', `Average: weights must be ${children.length} finite numbers, got ${JSON.stringify(w)}`);
      }
      return Object.freeze({ type: c.type, children, weights: Object.freeze([...w]) });
    }
    case 'Fuse':
      return Object.freeze({ type: c.type, children, ...(c.name !== undefined ? { name: c.name } : {}) });
    default:
      return Object.freeze({ type: c.type, children });
  }
}

/** Every adapter name a composition uses, in first-use order. */
export function compositionNames(c: Composition): string[] {
  if (typeof c === 'string') return [c];
  return [...new Set(c.children.flatMap(compositionNames))];
}

/** The first adapter of a composition (AdapterHub's `first()`). */
export function firstAdapter(c: Composition): string {
  return typeof c === 'string' ? c : firstAdapter(c.children[0] as Composition);
}

/** The last adapter of a composition (AdapterHub's `last()`). */
export function lastAdapter(c: Composition): string {
  return typeof c === 'string' ? c : lastAdapter(c.children[c.children.length - 1] as Composition);
}

/** Number of output channels: the children of the Parallel block, else 1. */
export function parallelChannels(c: Composition): number {
  if (typeof c === 'string') return 1;
  if (c.type === 'Parallel') return c.children.length;
  return Math.max(1, ...c.children.map(parallelChannels));
}

/** The canonical text of a composition (what {@link parseComposition} reads back). */
export function formatComposition(c: Composition): string {
  if (typeof c === 'string') return c;
  const kids = c.children.map(formatComposition);
  switch (c.type) {
    case 'Split':
      return `Split(${[...kids, `splits=[${c.splits.join(', ')}]`].join(', ')})`;
    case 'BatchSplit':
      return `BatchSplit(${[...kids, `batch_sizes=[${c.batch_sizes.join(', ')}]`].join(', ')})`;
    case 'Average': {
      const uniform = c.weights.every((w) => w === 1 / c.weights.length);
      const normalised = Math.abs(c.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12;
      const kw = [...(uniform ? [] : [`weights=[${c.weights.map(String).join(', ')}]`]), ...(normalised ? [] : ['normalize_weights=false'])];
      return `Average(${[...kids, ...kw].join(', ')})`;
    }
    case 'Fuse':
      return `Fuse(${[...kids, ...(c.name !== undefined ? [`name=${c.name}`] : [])].join(', ')})`;
    default:
      return `${c.type}(${kids.join(', ')})`;
  }
}

/**
 * Parses the text form `Stack(lang, task)`, as the CLI takes it: blocks by AdapterHub's names
 * (optionally `ac.`-prefixed, as Python code writes them), adapter names bare or quoted, and the
 * keyword arguments `splits=`, `batch_sizes=` (a number or a list), `weights=[…]`,
 * `normalize_weights=true|false` and Fuse's `name=`. A bare name is `Stack(name)`.
 *
 * @throws AdapterkitError BAD_CONFIG with the position of a syntax error, or a nesting error.
 */
export function parseComposition(text: string): Block {
  const p = new Parser(text);
  const c = p.composition();
  p.skip();
  if (p.pos < text.length) p.error(`unexpected ${JSON.stringify(text[p.pos])}`);
  return checkComposition(c);
}

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  error(msg: string): never {
    return fail('BAD_CONFIG', `composition ${JSON.stringify(this.s)}: ${msg} at position ${this.pos}`);
  }

  skip(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos] as string)) this.pos++;
  }

  private peek(): string | undefined {
    this.skip();
    return this.s[this.pos];
  }

  private expect(ch: string): void {
    if (this.peek() !== ch) this.error(`expected ${JSON.stringify(ch)}`);
    this.pos++;
  }

  private word(): string {
    this.skip();
    const q = this.s[this.pos];
    if (q === '"' || q === "'") {
      const end = this.s.indexOf(q, this.pos + 1);
      if (end < 0) this.error('unterminated quote');
      const w = this.s.slice(this.pos + 1, end);
      this.pos = end + 1;
      return w;
    }
    const m = /^[A-Za-z0-9_.-]+/.exec(this.s.slice(this.pos));
    if (!m) this.error('expected an adapter name or a block');
    this.pos += m[0].length;
    return m[0];
  }

  composition(): Composition {
    const start = this.pos;
    const w = this.word();
    const quoted = /["']/.test(this.s.slice(start, this.pos).trim()[0] ?? '');
    if (quoted || this.peek() !== '(') return w;
    const type = (w.startsWith('ac.') ? w.slice(3) : w) as BlockType;
    if (!BLOCK_TYPES.includes(type)) this.error(`unknown block ${JSON.stringify(w)} (blocks: ${BLOCK_TYPES.join(', ')})`);
    this.expect('(');
    const children: Composition[] = [];
    const kw: Record<string, unknown> = {};
    while (this.peek() !== ')') {
      const save = this.pos;
      const m = /^\s*([A-Za-z_]+)\s*=/.exec(this.s.slice(this.pos));
      if (m) {
        this.pos += m[0].length;
        const key = m[1] as string;
        if (key in kw) this.error(`${key} is given twice`);
        kw[key] = this.value(key);
      } else {
        if (Object.keys(kw).length) this.error('adapters must come before keyword arguments');
        this.pos = save;
        children.push(this.composition());
      }
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== ')') this.error('expected "," or ")"');
    }
    this.pos++;
    const known: Record<BlockType, string[]> = {
      Stack: [], Parallel: [], Fuse: ['name'], Split: ['splits'], BatchSplit: ['batch_sizes'], Average: ['weights', 'normalize_weights'],
    };
    for (const k of Object.keys(kw)) if (!known[type].includes(k)) this.error(`${type} has no argument ${k}${known[type].length ? ` (it takes ${known[type].join(', ')})` : ''}`);
    switch (type) {
      case 'Split':
        return { type, children, splits: perChild(kw.splits as number | number[] | undefined, children.length, type, 'splits') };
      case 'BatchSplit':
        return { type, children, batch_sizes: perChild(kw.batch_sizes as number | number[] | undefined, children.length, type, 'batch_sizes') };
      case 'Average':
        return { type, children, weights: averageWeights(children.length, kw.weights as number[] | undefined, kw.normalize_weights !== false) };
      case 'Fuse':
        return { type, children, ...(kw.name !== undefined ? { name: String(kw.name) } : {}) };
      default:
        return { type, children };
    }
  }

  private value(key: string): unknown {
    const c = this.peek();
    if (c === '[') {
      this.pos++;
      const out: number[] = [];
      while (this.peek() !== ']') {
        out.push(this.number(key));
        if (this.peek() === ',') this.pos++;
        else if (this.peek() !== ']') this.error('expected "," or "]"');
      }
      this.pos++;
      return out;
    }
    if (key === 'name') return this.word();
    const m = /^(true|false|True|False)\b/.exec(this.s.slice(this.pos));
    if (m) {
      this.pos += m[0].length;
      return m[0].toLowerCase() === 'true';
    }
    return this.number(key);
  }

  private number(key: string): number {
    this.skip();
    const m = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(this.s.slice(this.pos));
    if (!m) this.error(`${key}: expected a number`);
    this.pos += m[0].length;
    return Number(m[0]);
  }
}

/**
 * AdapterHub's `to_dict()` of a composition (the `adapter_setup` of its `adapter_setup.json`).
 * A Fuse's own `name` goes in its `kwargs` (AdapterHub's `to_dict` drops it; its `from_dict`
 * passes it back to `Fuse(name=…)`).
 */
export function compositionToDict(c: Composition): Record<string, unknown> {
  if (typeof c === 'string') return { type: 'single', children: [c] };
  const kwargs = c.type === 'Split' ? { splits: [...c.splits] } : c.type === 'BatchSplit' ? { batch_sizes: [...c.batch_sizes] } : c.type === 'Average' ? { weights: [...c.weights] }
    : c.type === 'Fuse' && c.name !== undefined ? { name: c.name } : undefined;
  return { type: c.type, children: c.children.map(compositionToDict), ...(kwargs ? { kwargs } : {}) };
}

/** Reads AdapterHub's `to_dict()` form back (weights are taken as given: they were normalised when saved). */
export function compositionFromDict(d: unknown, where = 'composition'): Block {
  const read = (x: unknown): Composition => {
    if (!x || typeof x !== 'object' || Array.isArray(x)) fail('BAD_CONFIG', `${where}: a block must be an object, got ${JSON.stringify(x)}`);
    const o = x as { type?: unknown; children?: unknown; kwargs?: Record<string, unknown> };
    if (!Array.isArray(o.children)) fail('BAD_CONFIG', `${where}: block ${JSON.stringify(o.type)} has no children list`);
    if (o.type === 'single') {
      if (o.children.length !== 1 || typeof o.children[0] !== 'string') fail('BAD_CONFIG', `${where}: a "single" entry holds one adapter name`);
      return o.children[0];
    }
    if (!BLOCK_TYPES.includes(o.type as BlockType)) fail('BAD_CONFIG', `${where}: unknown block type ${JSON.stringify(o.type)} (blocks: ${BLOCK_TYPES.join(', ')})`);
    const type = o.type as BlockType;
    const children = o.children.map(read);
    const kw = o.kwargs ?? {};
    switch (type) {
      case 'Split':
        return { type, children, splits: perChild(kw.splits as number[], children.length, type, 'splits') };
      case 'BatchSplit':
        return { type, children, batch_sizes: perChild(kw.batch_sizes as number[], children.length, type, 'batch_sizes') };
      case 'Average':
        return { type, children, weights: averageWeights(children.length, kw.weights as number[] | undefined, false) };
      case 'Fuse':
        if (kw.name !== undefined && typeof kw.name !== 'string') fail('BAD_CONFIG', `${where}: a Fuse's kwargs.name must be a string, got ${JSON.stringify(kw.name)}`);
        return { type, children, ...(kw.name !== undefined ? { name: kw.name } : {}) };
      default:
        return { type, children } as Block;
    }
  };
  return checkComposition(read(d));
}
