/**
 * Hostile model directories (issue 12): config.json, the safetensors index and tokenizer.json
 * crafted to exhaust memory, overflow the stack, crash on a wrong type, leave the directory or
 * echo another file. Each gives a coded error quickly, naming the field, quoting nothing.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AdapterkitError, type ErrorCode } from '../../src/errors.js';
import { loadBertModel } from '../../src/models/bert/load.js';
import { loadTokenizer } from '../../src/models/tokenizers/index.js';
import { cpuMsOfFailure } from '../util/cpu-time.js';
import { tempDir } from '../temp-dir.js';

const TINY_BERT = 'test/fixtures/models/tiny-bert';
const BERT_JSON = 'test/fixtures/tokenizers/bert-json';
const INTERNAL = /TypeError|RangeError|SyntaxError|Maximum call stack|is not a function|Cannot read properties|must be of type|Invalid (typed )?array length/;

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function copy(from: string): string {
  const dir = tempDir('adapterkit-hostile-');
  temps.push(dir);
  cpSync(from, dir, { recursive: true });
  return dir;
}

function editJson(path: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(j);
  writeFileSync(path, JSON.stringify(j));
}

/** Asserts `run` rejects with `code` matching `pattern` within `ms`, hiding no internal error. */
async function refuses(run: () => Promise<unknown>, code: ErrorCode, pattern: RegExp, ms = 2000): Promise<AdapterkitError> {
  const { error: err, ms: elapsed } = await cpuMsOfFailure(run);
  assert.ok(err instanceof AdapterkitError, `expected an AdapterkitError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.match(err.message, pattern);
  assert.doesNotMatch(err.message, INTERNAL);
  assert.ok(!(err.cause instanceof TypeError || err.cause instanceof RangeError), `hides ${String(err.cause)}`);
  assert.ok(elapsed < ms, `took ${elapsed.toFixed(0)} ms of CPU (limit ${ms})`);
  return err;
}

/** Loads `dir` in a child process with a 300 MB heap: an out-of-memory abort fails the test instead of the runner. */
function loadInChild(dir: string): { code?: string; message?: string; status: number | null; stderr: string } {
  const src = resolve('src/models/bert/load.ts');
  const script = `import { loadBertModel } from ${JSON.stringify(src)};
    try { await loadBertModel(${JSON.stringify(dir)}); console.log(JSON.stringify({ code: 'LOADED' })); }
    catch (e) { console.log(JSON.stringify({ code: e.code ?? e.name, message: e.message })); }`;
  const r = spawnSync(process.execPath, ['--max-old-space-size=300', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { ...(line.startsWith('{') ? JSON.parse(line) : {}), status: r.status, stderr: r.stderr.slice(-500) };
}

test('config.json with num_hidden_layers of 1e7 or 1e308 is refused, not a V8 out-of-memory abort', () => {
  for (const layers of [1e7, 1e308]) {
    const dir = copy(TINY_BERT);
    editJson(join(dir, 'config.json'), (c) => { c.num_hidden_layers = layers; });
    const r = loadInChild(dir);
    assert.equal(r.status, 0, `the child died: ${r.stderr}`);
    assert.equal(r.code, 'UNSUPPORTED_MODEL', r.message);
    assert.match(r.message ?? '', /numLayers \d.* is larger than adapterkit supports \(at most 1024\)/);
  }
});

test('every size field is bounded, and by what the weight files hold', async () => {
  const cases: Array<[Record<string, unknown>, ErrorCode, RegExp]> = [
    [{ vocab_size: 1e9 }, 'UNSUPPORTED_MODEL', /vocabSize 1000000000 is larger than adapterkit supports/],
    [{ intermediate_size: 2 ** 40 }, 'UNSUPPORTED_MODEL', /intermediateSize 1099511627776 is larger/],
    [{ max_position_embeddings: 1e12 }, 'UNSUPPORTED_MODEL', /maxPositions 1000000000000 is larger/],
    [{ type_vocab_size: -1 }, 'UNSUPPORTED_MODEL', /typeVocabSize must be a non-negative integer/],
    [{ pad_token_id: 5000 }, 'UNSUPPORTED_MODEL', /pad_token_id 5000 is not a token id of the 100-token vocabulary/],
    [{ hidden_dropout_prob: 7 }, 'UNSUPPORTED_MODEL', /hidden dropout 7 must be at least 0 and below 1/],
    // Within the limits but far beyond this checkpoint's 80 KB: refused before the encoder is built.
    [{ num_hidden_layers: 1000 }, 'BAD_WEIGHTS', /implies \d+ weight elements \(at least \d+ bytes\) but the weight files hold only \d+ bytes/],
  ];
  for (const [edit, code, pattern] of cases) {
    const dir = copy(TINY_BERT);
    editJson(join(dir, 'config.json'), (c) => Object.assign(c, edit));
    await refuses(() => loadBertModel(dir), code, pattern);
  }
});

test('prototype names are not activations: hidden_act "toString", "__proto__", "constructor"', async () => {
  for (const act of ['toString', '__proto__', 'constructor', 'hasOwnProperty']) {
    const dir = copy(TINY_BERT);
    editJson(join(dir, 'config.json'), (c) => { c.hidden_act = act; });
    await refuses(() => loadBertModel(dir), 'UNSUPPORTED_MODEL', new RegExp(`hidden_act "${act}" is not supported`));
  }
});

const deep = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;

test('deeply nested JSON in config.json, the index and tokenizer.json is refused without overflowing the stack', async () => {
  const dir = copy(TINY_BERT);
  writeFileSync(join(dir, 'config.json'), `{"model_type": "bert", "hidden_size": ${deep(100_000)}}`);
  await refuses(() => loadBertModel(dir), 'BAD_FILE', /config\.json is not valid JSON: nested more than 64 levels deep \(line 1, column \d+\)/);
  // Within the depth limit, a nested value is still described briefly, not stringified whole.
  writeFileSync(join(dir, 'config.json'), `{"model_type": "bert", "hidden_size": ${deep(60)}}`);
  const e = await refuses(() => loadBertModel(dir), 'UNSUPPORTED_MODEL', /"hidden_size" must be a number, got \[\[\[/);
  assert.ok(e.message.length < 300, e.message);

  const indexed = copy(TINY_BERT);
  writeFileSync(join(indexed, 'model.safetensors.index.json'), `{"weight_map": {"a": ${deep(100_000)}}}`);
  await refuses(() => loadBertModel(indexed), 'BAD_FILE', /model\.safetensors\.index\.json is not valid JSON: nested more than 8 levels deep/);

  const tok = copy(BERT_JSON);
  let pp = '{"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}';
  for (let i = 0; i < 100_000; i++) pp = `{"type": "Sequence", "processors": [${pp}]}`;
  const text = readFileSync(join(tok, 'tokenizer.json'), 'utf8');
  const j = JSON.parse(text) as Record<string, unknown>;
  j.post_processor = '__PP__';
  writeFileSync(join(tok, 'tokenizer.json'), JSON.stringify(j).replace('"__PP__"', pp));
  await refuses(() => loadTokenizer(tok), 'BAD_FILE', /tokenizer\.json: not valid JSON: nested more than 64 levels deep/);
});

test('a safetensors index of the wrong shape gives a clear BAD_FILE, never a TypeError', async () => {
  const cases: Array<[string, RegExp]> = [
    ['{"weight_map": {"embeddings.word_embeddings.weight": 5}}', /weight_map entry "embeddings\.word_embeddings\.weight" must be a shard file name, got a number/],
    ['{"weight_map": {"a": null}}', /weight_map entry "a" must be a shard file name, got null/],
    ['{"weight_map": ["model.safetensors"]}', /"weight_map" must be an object of tensor name -> shard file, got an array/],
    ['{"weight_map": "model.safetensors"}', /"weight_map" must be an object/],
    ['{"metadata": 5, "weight_map": {"a": "model.safetensors"}}', /"metadata" must be an object, got a number/],
    ['{"weight_map": {}}', /weight_map lists no shard files/],
    ['{"weight_map": {"a": "model.safetensors", "a": "other.safetensors"}}', /key "a" appears twice/],
    ['[1, 2]', /expected a JSON object, got an array/],
  ];
  for (const [index, pattern] of cases) {
    const dir = copy(TINY_BERT);
    writeFileSync(join(dir, 'model.safetensors.index.json'), index);
    await refuses(() => loadBertModel(dir), 'BAD_FILE', pattern);
  }
});

test('shard paths stay inside the model directory, links included, and nothing of another file is echoed', async () => {
  const outside = tempDir('adapterkit-outside-');
  temps.push(outside);
  const secret = join(outside, 'hostname');
  writeFileSync(secret, 'SECRET-host-name\n');
  const index = (file: string): string => JSON.stringify({ metadata: {}, weight_map: { 'embeddings.word_embeddings.weight': file } });
  for (const file of ['../../etc/hostname', '/etc/hostname', secret, 'sub/../../x.safetensors', './model.safetensors', 'a\\..\\b', '']) {
    const dir = copy(TINY_BERT);
    writeFileSync(join(dir, 'model.safetensors.index.json'), index(file));
    const e = await refuses(() => loadBertModel(dir), 'BAD_FILE', /is not a relative path inside the model directory/);
    assert.doesNotMatch(e.message, /SECRET/);
  }
  // A link inside the directory that leads out of it.
  const dir = copy(TINY_BERT);
  symlinkSync(secret, join(dir, 'shard-1.safetensors'));
  writeFileSync(join(dir, 'model.safetensors.index.json'), index('shard-1.safetensors'));
  const e = await refuses(() => loadBertModel(dir), 'BAD_FILE', /shard "shard-1\.safetensors" is a link that leads outside/);
  assert.doesNotMatch(e.message, /SECRET/);
  // A missing shard is named; a link that stays inside is fine.
  writeFileSync(join(dir, 'model.safetensors.index.json'), index('missing.safetensors'));
  await refuses(() => loadBertModel(dir), 'BAD_FILE', /shard "missing\.safetensors" is missing/);
  renameSync(join(dir, 'model.safetensors'), join(dir, 'real.safetensors'));
  symlinkSync('real.safetensors', join(dir, 'model.safetensors'));
  writeFileSync(join(dir, 'model.safetensors.index.json'), index('model.safetensors'));
  assert.equal((await loadBertModel(dir)).encoder.describe().family, 'bert');
  // A shard that is some other file gives no hint of its contents.
  const other = copy(TINY_BERT);
  writeFileSync(join(other, 'notes.txt'), 'SECRET-notes');
  writeFileSync(join(other, 'model.safetensors.index.json'), index('notes.txt'));
  const e2 = await refuses(() => loadBertModel(other), 'BAD_FILE', /notes\.txt: not a safetensors file or PyTorch checkpoint/);
  assert.doesNotMatch(e2.message, /SECRET|534543/);
});

test('a tokenizer.json vocabulary id of 1e9 is refused at once (it took 84 s)', async () => {
  for (const id of [1e9, -1, 1.5, '3', null]) {
    const dir = copy(BERT_JSON);
    editJson(join(dir, 'tokenizer.json'), (j) => { ((j.model as Record<string, unknown>).vocab as Record<string, unknown>)['hello'] = id; });
    await refuses(() => loadTokenizer(dir), 'BAD_FILE', /model\.vocab id of "hello" must be an integer from 0 to \d+/, 1000);
  }
  const dir = copy(BERT_JSON);
  editJson(join(dir, 'tokenizer.json'), (j) => { (j.added_tokens as Array<Record<string, unknown>>)[0]!.id = 1e9; });
  await refuses(() => loadTokenizer(dir), 'BAD_FILE', /added_tokens\[0\]: "id" must be an integer/, 1000);
});

test('tokenizer.json of the wrong shape gives a clear BAD_FILE naming the field, never a TypeError or a hang', async () => {
  const cases: Array<[(j: Record<string, unknown>) => void, RegExp]> = [
    [(j) => { (j.model as Record<string, unknown>).vocab = 'abc'; }, /model\.vocab must be an object of token -> id, got a string/],
    [(j) => { (j.model as Record<string, unknown>).unk_token = 7; }, /model\.unk_token must be a string, got 7/],
    [(j) => { j.added_tokens = { a: 1 }; }, /"added_tokens" must be an array, got an object/],
    [(j) => { j.added_tokens = [5]; }, /added_tokens\[0\] must be an object, got a number/],
    [(j) => { j.post_processor = 'TemplateProcessing'; }, /post_processor must be an object or null, got a string/],
    [(j) => { j.post_processor = { type: 'toString' }; }, /post_processor: type "toString" is not supported/],
    [(j) => { j.normalizer = { type: 'Sequence', normalizers: 'NFC' }; }, /normalizer \(Sequence\)\.normalizers must be an array/],
    [(j) => { j.pre_tokenizer = { type: 'FixedLength', length: 0 }; }, /pre_tokenizer \(FixedLength\)\.length must be a positive integer, got 0/],
    [(j) => { j.pre_tokenizer = { type: 'Split', pattern: 'x' }; }, /pre_tokenizer \(Split\)\.pattern must be \{ "Regex": "\.\.\." \}/],
    [(j) => { j.decoder = [] }, /decoder must be an object or null, got an array/],
    [(j) => { (j.post_processor as Record<string, unknown>).single = [{ Sequence: { id: 'C', type_id: 0 } }]; }, /post_processor \(TemplateProcessing\)\.single\[0\] must be/],
    [(j) => { j.padding = { pad_id: 1e9 }; }, /padding\.pad_id must be an integer/],
    [(j) => { j.model = { type: 'WordLevel', vocab: {} }; }, /model type "WordLevel" is not supported/],
  ];
  for (const [edit, pattern] of cases) {
    const dir = copy(BERT_JSON);
    editJson(join(dir, 'tokenizer.json'), edit);
    await refuses(() => loadTokenizer(dir), 'BAD_FILE', pattern, 1000);
  }
  // Settings of tokenizer_config.json the package reads are passed with the types it assumes.
  const dir = copy(BERT_JSON);
  editJson(join(dir, 'tokenizer_config.json'), (c) => { c.additional_special_tokens = 'oops'; });
  const tok = await loadTokenizer(dir);
  assert.equal(tok.encode(['hello world']).batchSize, 1);
});
