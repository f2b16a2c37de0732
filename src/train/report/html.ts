/**
 * A self-contained HTML report: inline CSS and inline SVG charts, no scripts, nothing fetched
 * from the network (a Content-Security-Policy forbids it), so the file can be mailed or archived
 * and opened anywhere. Rendering is deterministic: the generation time is passed in.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AdapterkitError } from '../../errors.js';
import { VERSION } from '../../version.js';
import { escapeXml } from './format.js';
import type { RunData } from './runs.js';
import {
  ablationSection, htmlTable, initScaleSection, notesSection, runsSection, tradeoffSection,
  type AblationInput, type InitScaleInput, type SummaryTable, type TradeoffInput,
} from './sections.js';

export type { AblationInput, InitScaleInput, SummaryTable, TradeoffInput } from './sections.js';

/** Everything a report can show; every part but the title and time is optional. */
export interface ReportInput {
  readonly title: string;
  readonly subtitle?: string;
  /** Shown in the footer; passed in so that the same input renders the same page. */
  readonly generatedAt: string;
  /** A results table. */
  readonly summary?: SummaryTable;
  /** Training runs: smoothed loss curves across runs, and the main dev metric of each run over steps. */
  readonly runs?: readonly RunData[];
  /** Score against trained parameters, one scatter chart per task (log x). */
  readonly tradeoff?: readonly TradeoffInput[];
  /** Layer ablations, one heat map per task. */
  readonly ablation?: readonly AblationInput[];
  /** Score against the adapters' initialisation std, one chart per task (log x). */
  readonly initScale?: readonly InitScaleInput[];
  /** Paragraphs of plain text (escaped). */
  readonly notes?: readonly string[];
}

/** The page's style sheet: system fonts, a readable measure, charts that shrink on narrow screens. */
const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #fafafa; color: #1f2328; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 20px 8px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header .subtitle { margin: 0; color: #57606a; }
section { margin-top: 28px; }
h2 { font-size: 19px; margin: 0 0 12px; padding-bottom: 4px; border-bottom: 1px solid #d0d7de; }
.table-wrap { max-width: 100%; overflow-x: auto; margin-bottom: 16px; }
table { border-collapse: collapse; background: #ffffff; font-size: 14px; }
caption { text-align: left; color: #57606a; padding: 4px 0; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e5e7eb; text-align: left; }
th { background: #f3f4f6; font-weight: 600; white-space: normal; vertical-align: bottom; min-width: 5ch; }
td { white-space: nowrap; }
td.wrap { white-space: normal; overflow-wrap: break-word; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #f9fafb; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 560px), 1fr)); gap: 16px; }
figure { margin: 0; padding: 8px; background: #ffffff; border: 1px solid #e5e7eb; border-radius: 6px; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { font-size: 13px; color: #57606a; padding: 4px 6px 0; }
section p { max-width: 75ch; }
footer { max-width: 1320px; margin: 24px auto 0; padding: 12px 20px 24px; color: #6e7781; font-size: 13px; border-top: 1px solid #e5e7eb; }
`.trim();

/** Forbids scripts and every network load; only inline styles and inline images may appear. */
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/** The body sections present in `input`, in page order. */
function sections(input: ReportInput): string[] {
  const out: string[] = [];
  if (input.summary) out.push(`<section><h2>Results</h2>${htmlTable(input.summary)}</section>`);
  if (input.runs && input.runs.length) out.push(runsSection(input.runs));
  if (input.tradeoff && input.tradeoff.length) out.push(tradeoffSection(input.tradeoff));
  if (input.ablation && input.ablation.length) out.push(ablationSection(input.ablation));
  if (input.initScale && input.initScale.length) out.push(initScaleSection(input.initScale));
  if (input.notes && input.notes.length) out.push(notesSection(input.notes));
  return out;
}

/**
 * Renders the report as one HTML string. Same input, same string: no clock, no random ids.
 * Throws BAD_CONFIG when a table row or an ablation grid does not match its labels.
 *
 * @example
 * ```ts
 * const html = renderReport({ title: 'GLUE dev', generatedAt: '2025-01-01T00:00:00Z',
 *   summary: { columns: ['task', 'accuracy'], rows: [['sst2', 0.912]] } });
 * html.startsWith('<!DOCTYPE html>'); // true
 * ```
 */
export function renderReport(input: ReportInput): string {
  const subtitle = input.subtitle ? `<p class="subtitle">${escapeXml(input.subtitle)}</p>` : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeXml(input.title)}</title>`,
    `<style>\n${CSS}\n</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<header><h1>${escapeXml(input.title)}</h1>${subtitle}</header>`,
    ...sections(input),
    '</main>',
    `<footer>Generated ${escapeXml(input.generatedAt)} by adapterkit ${escapeXml(VERSION)}.</footer>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/**
 * Renders the report and writes it to `path` atomically (a temporary file in the same folder,
 * then a rename), creating the folder when needed. Throws BAD_FILE when it cannot be written.
 */
export async function writeReport(path: string, input: ReportInput): Promise<void> {
  const html = renderReport(input);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, html);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new AdapterkitError('BAD_FILE', `cannot write the report to ${path}: ${(e as Error).message}`, undefined, { cause: e });
  }
}
