// Shared helpers for the weights tests: fixture paths, expected values, temp dirs, a tiny zip writer.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { WeightTensor } from '../../src/models/weights/index.js';
import { disposableTempDir } from '../temp-dir.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'weights');
export const fixture = (name: string): string => join(FIXTURES, name);

export interface ExpectedTensor {
  dtype: string;
  sourceDtype: string;
  shape: number[];
  values: Array<number | string>;
}
export interface Expected {
  state_dict: Record<string, ExpectedTensor>;
  state_dict_order: string[];
  mixed_safetensors: Record<string, ExpectedTensor>;
  plain_safetensors: Record<string, ExpectedTensor>;
  pickles: Array<{ protocol: number; hex: string; value: unknown }>;
}
export const expected: Expected = JSON.parse(readFileSync(fixture('expected.json'), 'utf8'));

/** Asserts a tensor equals what Python wrote, element for element (exactly). */
export function assertTensor(t: WeightTensor | undefined, want: ExpectedTensor, name: string): void {
  assert.ok(t, `missing tensor ${name}`);
  assert.equal(t.name, name);
  assert.equal(t.dtype, want.dtype, `${name} dtype`);
  assert.equal(t.sourceDtype, want.sourceDtype, `${name} sourceDtype`);
  assert.deepEqual(t.shape, want.shape, `${name} shape`);
  const got = Array.from(t.data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? String(v) : v));
  assert.deepEqual(got, want.values, `${name} values`);
}

/** A fresh temp dir; call the returned function to remove it (or it goes when the test process exits). */
export function tempDir(): { dir: string; cleanup: () => void } {
  return disposableTempDir('adapterkit-weights-');
}

/** Builds a STORED zip archive from name -> content (enough to craft broken checkpoints). */
export function makeZip(files: ReadonlyArray<[string, Uint8Array]>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of files) {
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, Buffer.from(data));
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
