/**
 * `adapterkit info <model>`: a base model's architecture, parameter counts by group and tokenizer.
 */
import type { Command } from 'commander';
import type { WeightSpec } from '../../models/encoder.js';
import { loadBase } from '../../models/base.js';
import { formatInt, keyValues, printJson, table } from '../format.js';
import { baseSource } from '../saved-task.js';
import { cliBaseOptions } from '../download-progress.js';

const EXAMPLES = `
Examples:
  $ adapterkit info use-lite
  $ adapterkit info ./models/bert-base-uncased --json
  $ adapterkit info google-bert/bert-base-uncased --revision main`;

/** Sub-groups of a layer's weights. */
export const LAYER_PARTS = ['attention', 'feed-forward', 'norms', 'other'] as const;
/** One of {@link LAYER_PARTS}. */
export type LayerPart = (typeof LAYER_PARTS)[number];

/** Parameter counts of a base, grouped by where the weights sit. */
export interface ParamGroups {
  embeddings: number;
  /** Per layer, by part. */
  layers: Record<LayerPart | 'total', number>[];
  /** Totals over all layers, by part. */
  layerTotals: Record<LayerPart | 'total', number>;
  pooler: number;
  /** Weights outside layers that are neither embeddings nor pooler. */
  other: number;
  total: number;
}

function partOf(s: WeightSpec): LayerPart {
  if (s.role === 'norm') return 'norms';
  if (/attention|attn/i.test(s.name)) return 'attention';
  if (/ffn|intermediate|\.output\.dense|mlp/i.test(s.name)) return 'feed-forward';
  return 'other';
}

const emptyParts = (): Record<LayerPart | 'total', number> => ({ attention: 0, 'feed-forward': 0, norms: 0, other: 0, total: 0 });

/** Groups weight specs by role and layer. */
export function paramGroups(specs: readonly WeightSpec[], numLayers: number): ParamGroups {
  const g: ParamGroups = { embeddings: 0, layers: Array.from({ length: numLayers }, emptyParts), layerTotals: emptyParts(), pooler: 0, other: 0, total: 0 };
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    g.total += n;
    if (s.layer !== undefined) {
      const row = g.layers[s.layer] ?? (g.layers[s.layer] = emptyParts());
      const part = partOf(s);
      row[part] += n;
      row.total += n;
      g.layerTotals[part] += n;
      g.layerTotals.total += n;
    } else if (s.role === 'pooler') g.pooler += n;
    else if (s.role === 'embedding' || /embed/i.test(s.name)) g.embeddings += n;
    else g.other += n;
  }
  return g;
}

/** A value as plain text: integers with separators, other numbers as is, strings unquoted. */
function plain(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? formatInt(v) : String(v);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Registers `adapterkit info`. */
export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('Describe a base model: architecture, parameter counts by group, tokenizer.')
    .argument('<model>', 'base source: "use-lite" (embedded), a local model directory, or a Hugging Face hub id')
    .option('--revision <rev>', 'hub revision (branch, tag or commit)')
    .option('--json', 'print everything as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (model: string, flags: { revision?: string; json?: boolean }) => {
      const base = await loadBase(await baseSource(model), cliBaseOptions(flags.revision));
      const enc = base.encoder;
      const groups = paramGroups(enc.weightSpecs, enc.numLayers);
      const architecture = enc.describe();
      const tokenizer = base.tokenizer.summary();
      if (flags.json) {
        printJson({ id: base.id, family: enc.family, architecture, attachmentPoints: enc.attachmentPoints, parameters: groups, tokenizer, sources: base.sources });
        return;
      }
      const out = process.stdout;
      out.write(`${base.id} (${enc.family})\n\narchitecture\n`);
      out.write(keyValues(Object.entries(architecture).map(([k, v]) => [`  ${k}`, plain(v)])));
      out.write(`  adapter points: ${enc.attachmentPoints.join(', ')}\n\nparameters\n`);
      const rows: (string | number)[][] = [['embeddings', '', '', '', '', groups.embeddings]];
      groups.layers.forEach((l, i) => rows.push([`layer ${i}`, l.attention, l['feed-forward'], l.norms, l.other, l.total]));
      const t = groups.layerTotals;
      rows.push(['all layers', t.attention, t['feed-forward'], t.norms, t.other, t.total]);
      rows.push(['pooler', '', '', '', '', groups.pooler]);
      if (groups.other) rows.push(['other', '', '', '', '', groups.other]);
      rows.push(['total', '', '', '', '', groups.total]);
      out.write(table(['group', 'attention', 'feed-forward', 'norms', 'other', 'parameters'], rows));
      out.write(`\ntokenizer\n`);
      out.write(keyValues(Object.entries(tokenizer).map(([k, v]) => [`  ${k}`, plain(v)])));
    });
}
