// The readers under fuzz, each with the valid files its cases start from (test/fixtures/) and the
// mutations that suit each file.
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '../../src/util/random.js';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { loadBertModel } from '../../src/models/bert/load.js';
import { loadEncoderModel } from '../../src/models/registry.js';
import { loadTokenizer } from '../../src/models/tokenizers/index.js';
import { readTfjsWeights } from '../../src/models/use-lite/package-files.js';
import { readSafetensors, readSafetensorsHeader, readWeights } from '../../src/models/weights/index.js';
import { withFile } from '../../src/models/weights/file-io.js';
import { readZipDirectory, readZipEntry } from '../../src/models/weights/zip.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import type { CraftEntry } from '../weights/craft.js';
import { mutateBytes, mutateJson, mutatePickle, mutateSafetensors, mutateZip, pick } from './mutators.js';
import { tempDir } from '../temp-dir.js';

/** A mutation of one file's bytes. */
export type Mutator = (rng: Rng, bytes: Buffer) => { bytes: Buffer; what: string };

/** The files a case starts from, and which of them to mutate how. */
export interface Seed {
  readonly label: string;
  readonly files: ReadonlyMap<string, Buffer>;
  readonly mutable: ReadonlyArray<{ file: string; mutate: Mutator }>;
}

/** One reader under fuzz. `read` gets the case directory. */
export interface FuzzTarget {
  readonly name: string;
  readonly seeds: readonly Seed[];
  read(dir: string): Promise<unknown>;
}

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

function dirFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isFile() && name !== 'reference.json') out.set(name, readFileSync(p));
  }
  return out;
}

const json: Mutator = (rng, b) => mutateJson(rng, b.toString('utf8'));
const bytes: Mutator = (rng, b) => mutateBytes(rng, b);
const safetensors: Mutator = (rng, b) => mutateSafetensors(rng, b);
/** Legacy checkpoints: mostly the pickles at the front (their header), sometimes anywhere. */
const legacy: Mutator = (rng, b) => {
  if (rng.int(3) === 0) return mutateBytes(rng, b);
  const head = Math.min(b.length, 4096);
  const r = mutatePickle(rng, b.subarray(0, head));
  return { bytes: Buffer.concat([r.bytes, b.subarray(head)]), what: `header: ${r.what}` };
};

async function zipEntries(path: string): Promise<CraftEntry[]> {
  return withFile(path, async (file) => {
    const dir = await readZipDirectory(file);
    const out: CraftEntry[] = [];
    for (const e of dir.values()) out.push({ name: e.name, data: await readZipEntry(file, e), deflate: e.method === 8 });
    return out;
  });
}

/** Zip checkpoints: usually one record rebuilt (content, compression, sizes), sometimes raw bytes. */
function zipMutator(entries: CraftEntry[]): Mutator {
  return (rng, b) => (rng.int(4) === 0 ? mutateBytes(rng, b) : mutateZip(rng, entries));
}

/** A tiny TF.js graph model: float32, int32, uint8-quantized and float16-quantized tensors over two shards. */
function tfjsSeed(): Seed {
  const a = Buffer.from(Float32Array.of(1, 2, 3, 4, 5, 6).buffer);
  const b = Buffer.from(Int32Array.of(7, -8).buffer);
  const c = Buffer.from([0, 64, 128, 255]);
  const d = Buffer.from(Uint16Array.of(0x3c00, 0xc000, 0x7bff).buffer);
  const data = Buffer.concat([a, b, c, d]);
  const manifest = {
    format: 'graph-model',
    weightsManifest: [{
      paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'],
      weights: [
        { name: 'a', shape: [2, 3], dtype: 'float32' },
        { name: 'b', shape: [2], dtype: 'int32' },
        { name: 'c', shape: [4], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
        { name: 'd', shape: [3], dtype: 'float32', quantization: { dtype: 'float16' } },
      ],
    }],
  };
  return {
    label: 'tfjs',
    files: new Map([
      ['model.json', Buffer.from(JSON.stringify(manifest))],
      ['group1-shard1of2.bin', data.subarray(0, 20)],
      ['group1-shard2of2.bin', data.subarray(20)],
    ]),
    mutable: [{ file: 'model.json', mutate: json }, { file: 'model.json', mutate: json }, { file: 'group1-shard1of2.bin', mutate: bytes }, { file: 'group1-shard2of2.bin', mutate: bytes }],
  };
}

/** A model directory whose weights are listed by an index (all in one shard). */
function indexedSeed(label: string, from: string, weights: string, index: string, keys: readonly string[]): Seed {
  const files = dirFiles(join(FIXTURES, 'models', from));
  const keep = new Map([...files].filter(([name]) => name === 'config.json' || name === weights));
  keep.set(index, Buffer.from(JSON.stringify({ metadata: { total_size: keep.get(weights)!.length }, weight_map: Object.fromEntries(keys.map((k) => [k, weights])) }, null, 2)));
  return { label, files: keep, mutable: [{ file: index, mutate: json }] };
}

/**
 * Saved Compacter task directories on tiny-bert: two as `saveTask` writes them (adapterkit.json
 * beside AdapterHub's files: adapter_config.json, adapter.safetensors, pytorch_adapter.bin, the
 * head's), and AdapterHub's own folder (test/fixtures/methods/compacter, no adapterkit.json). With
 * a manifest the adapter's config comes from it, so adapter_config.json is mutated only in the last.
 */
async function compacterTaskSeeds(base: BaseModel): Promise<Seed[]> {
  const root = tempDir('adapterkit-fuzz-seed-');
  try {
    const saved = async (preset: 'compacter' | 'compacter++', fields: Record<string, unknown>): Promise<Map<string, Buffer>> => {
      const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig(preset, { reduction_factor: 4, ...fields }) }, head: headConfig({ kind: 'classification', labels: ['neg', 'pos'] }), seed: 3 });
      const dir = join(root, preset);
      await saveTask(m, dir, { name: 'sst', maxLength: 32 });
      await m.dispose();
      return dirFiles(dir);
    };
    const plain = await saved('compacter', {});
    // Per-layer factorised rules with shared W, read from pytorch_adapter.bin (no adapter.safetensors).
    const options = await saved('compacter++', { shared_phm_rule: false, factorized_phm_rule: true, shared_W_phm: true, phm_rank: 2 });
    options.delete('adapter.safetensors');
    const hubDir = join(FIXTURES, 'methods', 'compacter');
    return [
      {
        label: 'compacter',
        files: plain,
        mutable: [{ file: 'adapterkit.json', mutate: json }, { file: 'adapterkit.json', mutate: json }, { file: 'adapter.safetensors', mutate: safetensors }, { file: 'model_head.safetensors', mutate: safetensors }],
      },
      {
        label: 'compacter++-bin',
        files: options,
        mutable: [{ file: 'adapterkit.json', mutate: json }, { file: 'pytorch_adapter.bin', mutate: zipMutator(await zipEntries(join(root, 'compacter++', 'pytorch_adapter.bin'))) }],
      },
      {
        label: 'adapterhub-compacter',
        files: dirFiles(hubDir),
        mutable: [{ file: 'adapter_config.json', mutate: json }, { file: 'adapter_config.json', mutate: json }, { file: 'head_config.json', mutate: json }, { file: 'adapter.safetensors', mutate: safetensors }],
      },
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Every reader with its seeds. */
export async function fuzzTargets(): Promise<FuzzTarget[]> {
  const w = (name: string): Buffer => readFileSync(join(FIXTURES, 'weights', name));
  const st = (label: string, buf: Buffer): Seed => ({ label, files: new Map([['x.safetensors', buf]]), mutable: [{ file: 'x.safetensors', mutate: safetensors }] });
  const zipSeed = async (label: string, path: string): Promise<Seed> => ({
    label,
    files: new Map([['x.bin', readFileSync(path)]]),
    mutable: [{ file: 'x.bin', mutate: zipMutator(await zipEntries(path)) }],
  });
  const legacySeed = (label: string, buf: Buffer): Seed => ({ label, files: new Map([['x.bin', buf]]), mutable: [{ file: 'x.bin', mutate: legacy }] });
  const modelSeed = (name: string): Seed => {
    const files = dirFiles(join(FIXTURES, 'models', name));
    const keep = new Map([...files].filter(([f]) => f === 'config.json' || f === 'model.safetensors'));
    return { label: name, files: keep, mutable: [{ file: 'config.json', mutate: json }] };
  };
  const tokSeed = (name: string, main: string, from = join(FIXTURES, 'tokenizers', name)): Seed => {
    const files = new Map([...dirFiles(from)].filter(([f]) => !/\.(safetensors|bin)$/.test(f) && f !== 'config.json'));
    const mutable = [{ file: main, mutate: main.endsWith('.json') ? json : bytes }, { file: main, mutate: main.endsWith('.json') ? json : bytes }];
    if (files.has('tokenizer_config.json')) mutable.push({ file: 'tokenizer_config.json', mutate: json });
    return { label: name, files, mutable };
  };
  const taskBase = await loadBase(join(FIXTURES, 'models', 'tiny-bert'));
  const tinyKeys = [...(await readSafetensorsHeader(join(FIXTURES, 'models', 'tiny-bert', 'model.safetensors'))).tensors.map((t) => t.name)];
  const sample = ['Hello, world! Héllo wörld 你好', 'a'];
  const tokenize = async (dir: string): Promise<unknown> => {
    const tok = await loadTokenizer(dir);
    tok.tokenize(sample[0]!);
    return tok.encode([sample[0]!, [sample[1]!, 'second text']], { maxLength: 16 });
  };
  return [
    {
      name: 'safetensors',
      seeds: [st('plain', w('plain.safetensors')), st('mixed', w('mixed.safetensors')), st('adapter', readFileSync(join(FIXTURES, 'models', 'tiny-bert-adapter', 'adapter.safetensors')))],
      read: async (dir) => {
        await readSafetensorsHeader(join(dir, 'x.safetensors'));
        return readSafetensors(join(dir, 'x.safetensors'));
      },
    },
    {
      name: 'pytorch-zip',
      seeds: [await zipSeed('state_dict', join(FIXTURES, 'weights', 'state_dict.bin')), await zipSeed('deflated', join(FIXTURES, 'weights', 'state_dict_deflated.bin')), await zipSeed('tiny-bert', join(FIXTURES, 'models', 'tiny-bert', 'pytorch_model.bin'))],
      read: (dir) => readWeights(join(dir, 'x.bin')),
    },
    {
      name: 'pytorch-legacy',
      seeds: [legacySeed('state_dict_legacy', w('state_dict_legacy.bin')), legacySeed('tiny-bert-legacy', readFileSync(join(FIXTURES, 'models', 'tiny-bert-legacy', 'pytorch_model.bin')))],
      read: (dir) => readWeights(join(dir, 'x.bin')),
    },
    { name: 'tfjs', seeds: [tfjsSeed()], read: (dir) => readTfjsWeights(join(dir, 'model.json')) },
    // Through the encoder registry, as loadBase reads a model directory (BERT family and ALBERT).
    { name: 'config.json', seeds: ['tiny-bert', 'tiny-roberta', 'tiny-distilbert', 'tiny-electra', 'tiny-xlmr', 'tiny-albert'].map(modelSeed), read: (dir) => loadEncoderModel(dir) },
    {
      name: 'safetensors-index',
      seeds: [
        indexedSeed('safetensors-index', 'tiny-bert', 'model.safetensors', 'model.safetensors.index.json', tinyKeys),
        indexedSeed('bin-index', 'tiny-bert', 'pytorch_model.bin', 'pytorch_model.bin.index.json', tinyKeys),
      ],
      read: (dir) => loadBertModel(dir),
    },
    {
      name: 'tokenizer.json',
      // WordPiece, byte-level BPE, and Unigram (XLM-R's and ALBERT's, each with its tokenizer_config.json)
      seeds: [tokSeed('bert-json', 'tokenizer.json'), tokSeed('roberta-json', 'tokenizer.json'), tokSeed('xlmr-unigram', 'tokenizer.json', join(FIXTURES, 'models', 'tiny-xlmr')), tokSeed('albert-unigram', 'tokenizer.json', join(FIXTURES, 'models', 'tiny-albert'))],
      read: tokenize,
    },
    { name: 'vocab.txt', seeds: [tokSeed('bert-uncased', 'vocab.txt')], read: tokenize },
    {
      name: 'task-dir',
      seeds: await compacterTaskSeeds(taskBase),
      read: async (dir) => (await loadSavedTask(taskBase, dir)).model.dispose(),
    },
  ];
}

/** The files of one case: a seed with one to three mutations. */
export function makeCase(rng: Rng, target: FuzzTarget): { seed: string; files: Map<string, Buffer>; what: string[] } {
  const seed = pick(rng, target.seeds);
  const files = new Map(seed.files);
  const what: string[] = [];
  const count = 1 + rng.int(3);
  for (let i = 0; i < count; i++) {
    const { file, mutate } = pick(rng, seed.mutable);
    const r = mutate(rng, files.get(file)!);
    files.set(file, r.bytes);
    what.push(`${file}: ${r.what}`);
  }
  return { seed: seed.label, files, what };
}
