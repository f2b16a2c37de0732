// Well-formedness of the parity fixtures in test/fixtures/models/ (made by
// scripts/fixtures/make_parity_fixtures.py and make_adapter_fixture.py). These tests do not run any
// model: they check that the files parse, that every tensor has the shape its config implies, and
// that the reference arrays hold as many float32 values as their shapes declare.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';
import { Tokenizer } from '@huggingface/tokenizers';

const ROOT = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
const MODELS = ['tiny-bert', 'tiny-bert-prefixed', 'tiny-bert-legacy', 'tiny-roberta', 'tiny-distilbert', 'tiny-electra'];
const BYTES_PER_ELEMENT: Record<string, number> = { F32: 4, I64: 8 };

interface TensorEntry { dtype: string; shape: number[]; begin: number; end: number }
interface Safetensors { tensors: Map<string, TensorEntry>; metadata: Record<string, string> | undefined; headerLength: number }
interface Recorded { shape: number[]; data: number[] }
type Json = Record<string, unknown>;

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Parses and validates a safetensors buffer: header length, padding, dtypes, contiguous offsets. */
function parseSafetensors(buf: Buffer, what: string): Safetensors {
  assert.ok(buf.length >= 8, `${what}: shorter than the 8-byte header length`);
  const headerLength = Number(buf.readBigUInt64LE(0));
  assert.ok(8 + headerLength <= buf.length, `${what}: header length ${headerLength} runs past the end`);
  assert.equal(headerLength % 8, 0, `${what}: header not padded to a multiple of 8`);
  const text = buf.subarray(8, 8 + headerLength).toString('utf8');
  assert.match(text, /^\{.*\} *$/s, `${what}: header is not one JSON object padded with spaces`);
  const header = JSON.parse(text) as Record<string, unknown>;
  const dataLength = buf.length - 8 - headerLength;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> | undefined;
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = raw as Record<string, string>; continue; }
    const info = raw as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const size = BYTES_PER_ELEMENT[info.dtype];
    assert.ok(size !== undefined, `${what}: tensor ${name} has unexpected dtype ${info.dtype}`);
    const [begin, end] = info.data_offsets;
    assert.equal(end - begin, product(info.shape) * size, `${what}: tensor ${name} byte range does not fit shape ${JSON.stringify(info.shape)}`);
    tensors.set(name, { dtype: info.dtype, shape: info.shape, begin, end });
  }
  const names = [...tensors.keys()];
  assert.deepEqual(names, [...names].sort(), `${what}: tensor names are not sorted`);
  let offset = 0;
  for (const [name, t] of tensors) {
    assert.equal(t.begin, offset, `${what}: tensor ${name} does not start where the previous one ends`);
    offset = t.end;
  }
  assert.equal(offset, dataLength, `${what}: tensors cover ${offset} bytes of a ${dataLength}-byte data section`);
  return { tensors, metadata, headerLength };
}

function readSafetensors(path: string): Safetensors {
  return parseSafetensors(readFileSync(path), path);
}

function readJson(path: string): Json {
  return JSON.parse(readFileSync(path, 'utf8')) as Json;
}

/** Every tensor a Hugging Face encoder of this config stores (LayerNorm as weight/bias), by name. */
function expectedEncoderShapes(config: Json, prefix: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const add = (name: string, shape: number[]): void => { out.set(prefix + name, shape); };
  const linear = (name: string, outF: number, inF: number): void => { add(`${name}.weight`, [outF, inF]); add(`${name}.bias`, [outF]); };
  const norm = (name: string, n: number): void => { add(`${name}.weight`, [n]); add(`${name}.bias`, [n]); };
  const vocab = config.vocab_size as number;
  const maxPos = config.max_position_embeddings as number;
  if (config.model_type === 'distilbert') {
    const c = config.dim as number;
    const inter = config.hidden_dim as number;
    add('embeddings.word_embeddings.weight', [vocab, c]);
    add('embeddings.position_embeddings.weight', [maxPos, c]);
    norm('embeddings.LayerNorm', c);
    for (let i = 0; i < (config.n_layers as number); i++) {
      const l = `transformer.layer.${i}.`;
      for (const n of ['q_lin', 'k_lin', 'v_lin', 'out_lin']) linear(`${l}attention.${n}`, c, c);
      norm(`${l}sa_layer_norm`, c);
      linear(`${l}ffn.lin1`, inter, c);
      linear(`${l}ffn.lin2`, c, inter);
      norm(`${l}output_layer_norm`, c);
    }
    return out;
  }
  const c = config.hidden_size as number;
  const e = (config.embedding_size as number | undefined) ?? c;
  const inter = config.intermediate_size as number;
  add('embeddings.word_embeddings.weight', [vocab, e]);
  add('embeddings.position_embeddings.weight', [maxPos, e]);
  add('embeddings.token_type_embeddings.weight', [config.type_vocab_size as number, e]);
  norm('embeddings.LayerNorm', e);
  if (e !== c) linear('embeddings_project', c, e);
  for (let i = 0; i < (config.num_hidden_layers as number); i++) {
    const l = `encoder.layer.${i}.`;
    for (const n of ['query', 'key', 'value']) linear(`${l}attention.self.${n}`, c, c);
    linear(`${l}attention.output.dense`, c, c);
    norm(`${l}attention.output.LayerNorm`, c);
    linear(`${l}intermediate.dense`, inter, c);
    linear(`${l}output.dense`, c, inter);
    norm(`${l}output.LayerNorm`, c);
  }
  if (config.model_type !== 'electra') linear('pooler.dense', c, c);
  return out;
}

/** Old checkpoints name LayerNorm parameters gamma/beta. */
const legacyName = (name: string): string => name.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta');

const HEAD_PREFIXES = ['cls.', 'lm_head.', 'vocab_transform.', 'vocab_layer_norm.', 'vocab_projector.', 'discriminator_predictions.'];

/** Lists a zip archive's entries with their uncompressed sizes, and reads the one named `*\/data.pkl`. */
function readZip(path: string): Promise<{ entries: Map<string, number>; pickle: Buffer }> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (err, zip) => {
      if (err) { reject(err); return; }
      const entries = new Map<string, number>();
      let pickle: Buffer | undefined;
      zip.on('entry', (entry: yauzl.Entry) => {
        entries.set(entry.fileName, entry.uncompressedSize);
        if (!entry.fileName.endsWith('/data.pkl')) { zip.readEntry(); return; }
        zip.openReadStream(entry, (e2, stream) => {
          if (e2) { reject(e2); return; }
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => { pickle = Buffer.concat(chunks); zip.readEntry(); });
          stream.on('error', reject);
        });
      });
      zip.on('end', () => (pickle ? resolve({ entries, pickle }) : reject(new Error(`${path}: no data.pkl entry`))));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

function assertRecord(value: unknown, shape: readonly number[], what: string): Recorded {
  const rec = value as Recorded;
  assert.ok(rec && Array.isArray(rec.shape) && Array.isArray(rec.data), `${what}: not a {shape, data} record`);
  assert.deepEqual(rec.shape, shape, `${what}: shape`);
  assert.equal(rec.data.length, product(shape), `${what}: data length does not match shape`);
  for (const [i, x] of rec.data.entries()) {
    assert.ok(Number.isFinite(x) && Math.fround(x) === x, `${what}[${i}] = ${x} is not a finite float32 value`);
  }
  assert.ok(rec.data.some((x) => x !== 0), `${what}: all zeros`);
  return rec;
}

test('parseSafetensors rejects a truncated file and a misaligned header', () => {
  const good = readFileSync(join(ROOT, 'tiny-bert', 'model.safetensors'));
  assert.throws(() => parseSafetensors(good.subarray(0, good.length - 4), 'cut'), /tensors cover .* bytes/);
  const bad = Buffer.from(good);
  bad.writeBigUInt64LE(BigInt(Number(good.readBigUInt64LE(0)) - 1), 0);
  assert.throws(() => parseSafetensors(bad, 'shifted'), /multiple of 8/);
});

test('every model fixture folder is present and the set is under 1.5 MB', () => {
  let total = 0;
  for (const name of [...MODELS, 'tiny-bert-adapter']) {
    const dir = join(ROOT, name);
    assert.ok(existsSync(join(dir, 'reference.json')), `${name}/reference.json missing`);
    for (const f of readdirSync(dir)) total += readFileSync(join(dir, f)).length;
  }
  assert.ok(total < 1.5e6, `fixtures take ${total} bytes`);
});

for (const name of MODELS) {
  test(`${name}: weights match the config`, async () => {
    const dir = join(ROOT, name);
    const config = readJson(join(dir, 'config.json'));
    const reference = readJson(join(dir, 'reference.json'));
    assert.ok(Array.isArray(config.architectures) && config.architectures.length === 1, 'architectures');
    assert.equal(reference.model_type, config.model_type);
    assert.equal(typeof config.pad_token_id, 'number');
    const prefix = reference.weights_prefix as string;
    const st = readSafetensors(join(dir, 'model.safetensors'));
    assert.deepEqual(st.metadata, { format: 'pt' });
    const legacy = st.tensors.has(`${prefix}embeddings.LayerNorm.gamma`);
    assert.equal(legacy, name === 'tiny-bert-legacy', 'only tiny-bert-legacy uses gamma/beta');
    const expected = expectedEncoderShapes(config, prefix);
    for (const [key, shape] of expected) {
      const stored = legacy ? legacyName(key) : key;
      const t = st.tensors.get(stored);
      assert.ok(t, `${name}: tensor ${stored} missing`);
      assert.deepEqual(t.shape, shape, `${name}: tensor ${stored} shape`);
      assert.equal(t.dtype, 'F32', `${name}: tensor ${stored} dtype`);
    }
    const storedExpected = new Set([...expected.keys()].map((k) => (legacy ? legacyName(k) : k)));
    for (const [key, t] of st.tensors) {
      if (storedExpected.has(key)) continue;
      if (key === `${prefix}embeddings.position_ids`) {
        assert.equal(t.dtype, 'I64');
        assert.deepEqual(t.shape, [1, config.max_position_embeddings]);
        continue;
      }
      assert.ok(HEAD_PREFIXES.some((p) => key.startsWith(p)), `${name}: unexpected tensor ${key}`);
    }
    const bin = join(dir, 'pytorch_model.bin');
    if (existsSync(bin)) {
      const { entries, pickle } = await readZip(bin);
      const storageSizes = [...entries].filter(([f]) => /\/data\/\d+$/.test(f)).map(([, n]) => n).sort((a, b) => a - b);
      const tensorSizes = [...st.tensors.values()].map((t) => t.end - t.begin).sort((a, b) => a - b);
      assert.deepEqual(storageSizes, tensorSizes, `${name}: pytorch_model.bin storages differ from the safetensors tensors`);
      for (const key of st.tensors.keys()) assert.ok(pickle.includes(Buffer.from(key)), `${name}: pickle lacks key ${key}`);
    }
  });

  test(`${name}: reference arrays have their declared sizes`, () => {
    const dir = join(ROOT, name);
    const config = readJson(join(dir, 'config.json'));
    const reference = readJson(join(dir, 'reference.json'));
    const inputs = reference.inputs as Record<string, number[][]>;
    const ids = inputs.input_ids!;
    const mask = inputs.attention_mask!;
    assert.equal(ids.length, 3);
    const width = ids[0]!.length;
    const lengths = mask.map((row) => row.reduce((a, b) => a + b, 0));
    assert.equal(new Set(lengths).size, 3, 'sequences have different lengths');
    assert.ok(Math.max(...lengths) === width && Math.min(...lengths) < width, 'batch is padded to the longest');
    for (const [b, row] of ids.entries()) {
      assert.equal(row.length, width);
      for (const [t, id] of row.entries()) {
        assert.ok(Number.isInteger(id) && id >= 0 && id < (config.vocab_size as number), `input_ids[${b}][${t}]`);
        assert.equal(mask[b]![t], t < lengths[b]! ? 1 : 0, `attention_mask[${b}][${t}] is not 1s then 0s`);
        if (t >= lengths[b]!) assert.equal(id, config.pad_token_id, `input_ids[${b}][${t}] is not the pad id`);
      }
    }
    const types = inputs.token_type_ids;
    if (config.model_type === 'distilbert') assert.equal(types, undefined);
    else {
      assert.ok(types && types.every((r) => r.length === width && r.every((x) => x < (config.type_vocab_size as number))));
      if (config.model_type !== 'roberta') assert.ok(types.some((r) => r.includes(1)), 'a pair example has token type 1');
    }
    if (config.model_type === 'roberta') {
      const pad = config.pad_token_id as number;
      const positions = ids.map((row) => { let n = 0; return row.map((id) => (id === pad ? pad : pad + ++n)); });
      assert.deepEqual(inputs.position_ids, positions);
      assert.ok(Math.max(...positions.flat()) < (config.max_position_embeddings as number));
    }
    const hidden = (config.hidden_size ?? config.dim) as number;
    assertRecord(reference.last_hidden_state, [3, width, hidden], `${name} last_hidden_state`);
    if (config.model_type === 'bert' || config.model_type === 'roberta') assertRecord(reference.pooler_output, [3, hidden], `${name} pooler_output`);
    else assert.equal(reference.pooler_output, undefined);
    if (config.model_type === 'electra') assertRecord(reference.discriminator_logits, [3, width], `${name} discriminator_logits`);
  });
}

test('WordPiece fixtures ship a vocabulary of vocab_size lines with the special tokens', () => {
  for (const name of MODELS.filter((n) => n !== 'tiny-roberta')) {
    const dir = join(ROOT, name);
    const vocab = readFileSync(join(dir, 'vocab.txt'), 'utf8').split('\n');
    assert.equal(vocab.pop(), '', `${name}: vocab.txt ends with a newline`);
    assert.equal(vocab.length, readJson(join(dir, 'config.json')).vocab_size);
    assert.deepEqual(vocab.slice(0, 5), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    assert.ok(vocab.some((t) => t.startsWith('##')), `${name}: no continuation pieces`);
    const tok = readJson(join(dir, 'tokenizer_config.json'));
    assert.match(tok.tokenizer_class as string, /Tokenizer$/);
    assert.equal(tok.do_lower_case, true);
  }
});

/** A BERT tokenizer.json for a vocab.txt: BertNormalizer (lowercase), BertPreTokenizer, WordPiece, [CLS] A [SEP] B [SEP]. */
function bertTokenizerJson(vocab: string[]): Json {
  const id = (t: string): number => vocab.indexOf(t);
  const special = (t: string, typeId: number): Json => ({ SpecialToken: { id: t, type_id: typeId } });
  const seq = (s: string, typeId: number): Json => ({ Sequence: { id: s, type_id: typeId } });
  return {
    version: '1.0',
    added_tokens: vocab.slice(0, 5).map((t, i) => ({ id: i, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]', 0), seq('A', 0), special('[SEP]', 0)],
      pair: [special('[CLS]', 0), seq('A', 0), special('[SEP]', 0), seq('B', 1), special('[SEP]', 1)],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }])),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])) },
  };
}

test('reference input ids are what a Hugging Face WordPiece tokenizer makes of the texts', () => {
  for (const name of MODELS.filter((n) => n !== 'tiny-roberta')) {
    const dir = join(ROOT, name);
    const vocab = readFileSync(join(dir, 'vocab.txt'), 'utf8').split('\n').slice(0, -1);
    const tokenizer = new Tokenizer(bertTokenizerJson(vocab), readJson(join(dir, 'tokenizer_config.json')));
    const inputs = (readJson(join(dir, 'reference.json')).inputs) as { texts: string[][]; input_ids: number[][]; token_type_ids?: number[][]; attention_mask: number[][] };
    for (const [b, [a, pair]] of inputs.texts.entries()) {
      const enc = tokenizer.encode(a!, { text_pair: pair ?? null, return_token_type_ids: true });
      const n = inputs.attention_mask[b]!.reduce((x, y) => x + y, 0);
      assert.deepEqual(enc.ids, inputs.input_ids[b]!.slice(0, n), `${name}: input_ids[${b}] for ${JSON.stringify(inputs.texts[b])}`);
      if (inputs.token_type_ids) assert.deepEqual(enc.token_type_ids, inputs.token_type_ids[b]!.slice(0, n), `${name}: token_type_ids[${b}]`);
    }
  }
});

test('tiny-bert-adapter: adapter, head and reference gradients line up', () => {
  const dir = join(ROOT, 'tiny-bert-adapter');
  const base = readSafetensors(join(ROOT, 'tiny-bert', 'model.safetensors'));
  const baseConfig = readJson(join(ROOT, 'tiny-bert', 'config.json'));
  const adapter = readSafetensors(join(dir, 'adapter.safetensors'));
  const head = readSafetensors(join(dir, 'model_head.safetensors'));
  const adapterConfig = readJson(join(dir, 'adapter_config.json'));
  const reference = readJson(join(dir, 'reference.json'));
  const c = baseConfig.hidden_size as number;
  const name = reference.adapter_name as string;
  const m = (reference.adapter as Json).bottleneck as number;
  assert.equal(((adapterConfig.config as Json).reduction_factor as number) * m, c);
  const wanted = new Map<string, number[]>();
  for (let i = 0; i < (baseConfig.num_hidden_layers as number); i++) {
    for (const site of ['attention.output', 'output']) {
      const p = `bert.encoder.layer.${i}.${site}.adapters.${name}.`;
      wanted.set(`${p}adapter_down.0.weight`, [m, c]);
      wanted.set(`${p}adapter_down.0.bias`, [m]);
      wanted.set(`${p}adapter_up.weight`, [c, m]);
      wanted.set(`${p}adapter_up.bias`, [c]);
    }
  }
  assert.deepEqual(new Map([...adapter.tensors].map(([k, t]) => [k, t.shape])), wanted);
  assert.deepEqual(new Map([...head.tensors].map(([k, t]) => [k, t.shape])),
    new Map([[`heads.${name}.1.bias`, [3]], [`heads.${name}.1.weight`, [3, c]]]));
  const shapeOf = (k: string): number[] => {
    const t = adapter.tensors.get(k) ?? head.tensors.get(k) ?? base.tensors.get(k);
    assert.ok(t, `trainable ${k} is in none of the files`);
    return t.shape;
  };
  const trainable = reference.trainable as string[];
  assert.equal(trainable.length, wanted.size + 2 + [...base.tensors.keys()].filter((k) => k.includes('LayerNorm')).length);
  const gradients = reference.gradients as Record<string, unknown>;
  const after = reference.params_after_steps as Record<string, unknown>;
  assert.deepEqual(Object.keys(gradients), trainable);
  assert.deepEqual(Object.keys(after), trainable);
  for (const k of trainable) {
    assertRecord(gradients[k], shapeOf(k), `gradient ${k}`);
    assertRecord(after[k], shapeOf(k), `params_after_steps ${k}`);
  }
  const width = (reference.inputs as Record<string, number[][]>).input_ids![0]!.length;
  assertRecord(reference.last_hidden_state, [3, width, c], 'last_hidden_state');
  assertRecord(reference.pooler_output, [3, c], 'pooler_output');
  assertRecord(reference.logits, [3, 3], 'logits');
  const losses = reference.step_losses as number[];
  assert.equal(losses.length, 3);
  assert.equal(reference.loss, losses[0]);
  assert.ok(losses[0]! > losses[1]! && losses[1]! > losses[2]! && losses[2]! > (reference.loss_after_steps as number));
  assert.deepEqual(reference.labels, [2, 0, 1]);
});
