/**
 * Turns a raw RFC 822 e-mail into plain text for classification: the decoded Subject plus the
 * readable body. Headers other than Subject are dropped; MIME multiparts are walked and their
 * text/plain parts kept (text/html parts, with tags removed, only when no text/plain exists);
 * quoted-printable and base64 bodies are decoded; attachments and other types are ignored.
 */

interface Part {
  headers: Map<string, string>;
  body: string;
}

/** Splits a message or MIME part into unfolded, lower-cased headers and the body. */
function splitPart(raw: string): Part {
  const text = raw.replace(/\r\n/g, '\n');
  const cut = text.indexOf('\n\n');
  const head = cut < 0 ? text : text.slice(0, cut);
  const body = cut < 0 ? '' : text.slice(cut + 2);
  const headers = new Map<string, string>();
  let last: string | undefined;
  for (const line of head.split('\n')) {
    if (/^[ \t]/.test(line) && last !== undefined) {
      headers.set(last, `${headers.get(last) ?? ''} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(last)) headers.set(last, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function charsetOf(contentType: string): BufferEncoding {
  const m = /charset="?([^";\s]+)/i.exec(contentType);
  return m && /^utf-?8$/i.test(m[1] as string) ? 'utf8' : 'latin1';
}

/** Decodes a body by its Content-Transfer-Encoding. */
function decodeBody(body: string, encoding: string, charset: BufferEncoding): string {
  const enc = encoding.toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString(charset);
  if (enc === 'quoted-printable') {
    const bytes = body.replace(/=\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString(charset);
  }
  return body;
}

/** Decodes RFC 2047 encoded words (`=?charset?B|Q?...?=`) in a header value. */
export function decodeHeader(value: string): string {
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, cs: string, how: string, data: string) => {
    const charset: BufferEncoding = /^utf-?8$/i.test(cs) ? 'utf8' : 'latin1';
    if (how.toUpperCase() === 'B') return Buffer.from(data, 'base64').toString(charset);
    const bytes = data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString(charset);
  });
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '(c)', reg: '(R)' };

/** Removes tags, comments, style and script blocks from HTML and decodes common entities. */
export function htmlToText(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(style|script)[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<(br|p|div|tr|li|h\d)\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Math.min(Number(n), 0x10ffff)))
    .replace(/&([a-z]+);/gi, (m, name: string) => ENTITIES[name.toLowerCase()] ?? m);
}

/** Collects the readable text of a part: text/plain first, else text/html stripped of tags. */
function partTexts(part: Part, depth: number): { plain: string[]; html: string[] } {
  const type = part.headers.get('content-type') ?? 'text/plain';
  const out = { plain: [] as string[], html: [] as string[] };
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary && depth < 5) {
    const pieces = part.body.split(`--${boundary}`).slice(1);
    for (const piece of pieces) {
      if (piece.startsWith('--')) break;
      const sub = partTexts(splitPart(piece.replace(/^\n/, '')), depth + 1);
      out.plain.push(...sub.plain);
      out.html.push(...sub.html);
    }
    return out;
  }
  const decoded = decodeBody(part.body, part.headers.get('content-transfer-encoding') ?? '', charsetOf(type));
  if (/^text\/html/i.test(type)) out.html.push(htmlToText(decoded));
  else if (/^text\//i.test(type) || !/\//.test(type)) out.plain.push(decoded);
  return out;
}

/** Subject and body text of a raw e-mail, whitespace collapsed. */
export function emailText(raw: string): { subject: string; body: string } {
  const message = splitPart(raw);
  const subject = decodeHeader(message.headers.get('subject') ?? '').replace(/\s+/g, ' ').trim();
  const texts = partTexts(message, 0);
  const chosen = texts.plain.length > 0 ? texts.plain : texts.html;
  // A text/plain part that is really HTML (common in spam) is stripped too.
  const body = chosen
    .map((t) => (/<(html|body|p|div|font|table|a)\b/i.test(t) ? htmlToText(t) : t))
    .join('\n')
    .replace(/\s+/g, ' ')
    .trim();
  return { subject, body };
}
