/**
 * Python regular expressions (the `re` module's syntax, as PEFT's `target_modules` strings are
 * written) run in JavaScript. The two dialects agree on everything module names need except a few
 * spellings, which are translated: named groups `(?P<name>…)` and back-references `(?P=name)`,
 * the anchors `\A` and `\Z`, and global inline flags at the start (`(?i)`, `(?s)`, `(?m)`, `(?a)`,
 * `(?u)`). What cannot be translated (verbose `(?x)`, locale `(?L)`, scoped flags `(?i:…)`,
 * conditionals `(?(1)…)`) or does not compile is a BAD_CONFIG error naming the field.
 */
import { fail } from '../errors.js';

/** Global inline flags of Python that have a JavaScript equivalent (`a`, `u`: ASCII or Unicode classes, the same for module names). */
const FLAGS: Readonly<Record<string, string>> = { i: 'i', s: 's', m: 'm', a: '', u: '' };

/**
 * A JavaScript RegExp that matches exactly what Python's `re.fullmatch(pattern, s)` matches.
 * `field` names the pattern in errors (e.g. `adapter_config.json: target_modules`).
 *
 * @example
 * pythonFullMatch('(?i).*\\.(?P<m>QUERY|value)', 'target_modules').test('encoder.layer.0.attention.self.query'); // true
 */
export function pythonFullMatch(pattern: string, field: string): RegExp {
  const refuse: (why: string) => never = (why) => fail('BAD_CONFIG', `${field} ${JSON.stringify(pattern)} ${why}`);
  let flags = '';
  let src = pattern;
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1]!) {
      const js = FLAGS[f];
      if (js === undefined) refuse(`uses Python's inline flag (?${f}), which adapterkit cannot run (it runs (?${Object.keys(FLAGS).join('), (?')}))`);
      if (!flags.includes(js)) flags += js;
    }
    src = src.slice(lead[0].length);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const n = src[i + 1];
      if (n === undefined) refuse('ends with a lone backslash');
      if (!inClass && n === 'A') out += '^';
      else if (!inClass && n === 'Z') out += '$';
      else out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // a ']' right after '[' or '[^' is a literal in Python
      if (src[i + 1] === '^') out += src[++i];
      if (src[i + 1] === ']') out += `\\${src[++i]}`;
      continue;
    }
    if (c === '(' && src[i + 1] === '?') {
      const rest = src.slice(i + 2);
      if (rest.startsWith('P<')) { out += '(?<'; i += 3; continue; }
      const back = /^P=(\w+)\)/.exec(rest);
      if (back) { out += `\\k<${back[1]}>`; i += 1 + back[0].length; continue; }
      if (/^[a-zA-Z]/.test(rest)) refuse('uses inline flags inside the pattern, which adapterkit cannot run (only at its start)');
      if (rest.startsWith('(')) refuse('uses a conditional group (?(…)…), which adapterkit cannot run');
    }
    out += c;
  }
  try {
    return new RegExp(`^(?:${out})$`, flags);
  } catch (e) {
    return refuse(`is not a regular expression adapterkit can run (${(e as Error).message.replace(/^Invalid regular expression: /, '')})`);
  }
}
