/**
 * A tiny well-formedness checker for the markup the report emits: a scanner with a stack of open
 * elements. It checks that every tag is closed in order, attributes are quoted and not repeated,
 * and that text and attribute values hold no raw `<` and only known entities after `&`. In HTML
 * mode it accepts the doctype, void elements (`<meta>`) and raw `<style>` text.
 */

const VOID_HTML = new Set(['meta', 'br', 'hr', 'img', 'link', 'input']);
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_:.-]/;

/** Result of a check: the element names in document order (for counting). */
export interface CheckResult {
  readonly elements: string[];
}

class Scanner {
  i = 0;
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.i >= this.s.length;
  }
  peek(n = 0): string {
    return this.s[this.i + n] ?? '';
  }
  startsWith(t: string): boolean {
    return this.s.startsWith(t, this.i);
  }
  error(msg: string): never {
    const line = this.s.slice(0, this.i).split('\n').length;
    throw new Error(`not well-formed at line ${line}, offset ${this.i}: ${msg} (near ${JSON.stringify(this.s.slice(this.i, this.i + 40))})`);
  }
  name(): string {
    const start = this.i;
    if (!NAME_START.test(this.peek())) this.error('expected a name');
    while (NAME_CHAR.test(this.peek())) this.i++;
    return this.s.slice(start, this.i);
  }
  spaces(): void {
    while (/\s/.test(this.peek())) this.i++;
  }
  skipPast(t: string): void {
    const j = this.s.indexOf(t, this.i);
    if (j < 0) this.error(`unterminated, expected ${t}`);
    this.i = j + t.length;
  }
}

/** Checks that `text` (text content or an attribute value) has no raw `<` and only valid entities. */
function checkText(sc: Scanner, text: string): void {
  if (text.includes('<')) sc.error('raw < in text');
  for (let k = text.indexOf('&'); k >= 0; k = text.indexOf('&', k + 1)) {
    const end = text.indexOf(';', k);
    const ent = end < 0 ? '' : text.slice(k + 1, end);
    if (!(['amp', 'lt', 'gt', 'quot', 'apos'].includes(ent) || /^#\d+$/.test(ent) || /^#x[0-9a-fA-F]+$/.test(ent))) sc.error(`bad entity &${ent}`);
  }
}

/** Reads the attributes of a start tag up to `>` or `/>`; returns whether the tag self-closed. */
function attributes(sc: Scanner): boolean {
  const seen = new Set<string>();
  for (;;) {
    sc.spaces();
    if (sc.startsWith('/>')) {
      sc.i += 2;
      return true;
    }
    if (sc.peek() === '>') {
      sc.i++;
      return false;
    }
    const name = sc.name();
    if (seen.has(name)) sc.error(`attribute ${name} repeated`);
    seen.add(name);
    if (sc.peek() !== '=') sc.error(`attribute ${name} has no value`);
    sc.i++;
    const q = sc.peek();
    if (q !== '"' && q !== "'") sc.error(`attribute ${name} not quoted`);
    const end = sc.s.indexOf(q, sc.i + 1);
    if (end < 0) sc.error(`attribute ${name} unterminated`);
    checkText(sc, sc.s.slice(sc.i + 1, end));
    sc.i = end + 1;
  }
}

/**
 * Throws when `markup` is not well-formed; returns the element names found.
 * `html: true` allows a doctype, void elements and raw `<style>` content.
 */
export function checkWellFormed(markup: string, opts: { html?: boolean } = {}): CheckResult {
  const sc = new Scanner(markup);
  const stack: string[] = [];
  const elements: string[] = [];
  let roots = 0;
  while (!sc.done) {
    const lt = sc.s.indexOf('<', sc.i);
    const text = sc.s.slice(sc.i, lt < 0 ? undefined : lt);
    checkText(sc, text);
    if (stack.length === 0 && text.trim() !== '') sc.error('text outside the root element');
    if (lt < 0) break;
    sc.i = lt;
    if (sc.startsWith('<!--')) sc.skipPast('-->');
    else if (opts.html && sc.startsWith('<!DOCTYPE')) sc.skipPast('>');
    else if (sc.startsWith('</')) {
      sc.i += 2;
      const name = sc.name();
      sc.spaces();
      if (sc.peek() !== '>') sc.error(`bad end tag ${name}`);
      sc.i++;
      const open = stack.pop();
      if (open !== name) sc.error(`</${name}> closes <${open ?? 'nothing'}>`);
    } else {
      sc.i++;
      const name = sc.name();
      elements.push(name);
      if (stack.length === 0 && ++roots > 1) sc.error('more than one root element');
      const selfClosed = attributes(sc);
      if (opts.html && name === 'style') sc.skipPast('</style>');
      else if (!selfClosed && !(opts.html && VOID_HTML.has(name))) stack.push(name);
    }
  }
  if (stack.length) throw new Error(`not well-formed: unclosed ${stack.map((n) => `<${n}>`).join(' ')}`);
  if (roots !== 1) throw new Error('not well-formed: no root element');
  return { elements };
}
