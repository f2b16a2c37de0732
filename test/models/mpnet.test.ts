/**
 * MPNet (sentence-transformers' all-mpnet-base-v2 family) and the mean-pooling head. Parity with the
 * independent PyTorch implementation (scripts/fixtures/make_mpnet_fixtures.py, reference_mpnet.py):
 * hidden states, pooler and mean-pooled output to 1e-4 from both checkpoint files and key variants;
 * the relative-position buckets against PyTorch's float computation; logits, loss and every gradient
 * with a Houlsby adapter (pooler head) and with LoRA (mean-pooling head), and with LoRA + mean pooling
 * on a BERT base (MiniLM's type); WordPiece tokenizer.json ids worked out by hand.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterHubAdapterConfig, adapterHubKeys, headKey } from '../../src/adapters/adapterhub.js';
import { peftAdapterConfig } from '../../src/adapters/peft.js';
import type { FileTensorKey } from '../../src/adapters/method.js';
import { methodConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import { Session, concat, f32, type Value } from '../../src/engine/index.js';
import { AdapterkitError } from '../../src/errors.js';
import { headConfig } from '../../src/heads/head.js';
import { pooledInput } from '../../src/heads/pooling.js';
import { loadBase } from '../../src/models/base.js';
import { buildEncoderGraph } from '../../src/models/build.js';
import { parseMpnetConfig, relativeBucket } from '../../src/models/mpnet/config.js';
import { MPNET_NAMES } from '../../src/models/mpnet/names.js';
import { loadEncoderModel } from '../../src/models/registry.js';
import { loadTokenizer, type EncodedBatch } from '../../src/models/tokenizers/index.js';
import { readWeights, writeSafetensors } from '../../src/models/weights/index.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { cli, tempDir, TINY_BERT, writeToyCsv } from '../cli/harness.js';
import { gradcheck } from '../engine/gradcheck.js';
import { fakeCommit, startFakeHub, type FakeFile } from '../hub/fake-hub.js';
import { close, fileIndex } from '../util/reference-compare.js';
import { ids, maxAbsDiff } from './encoder-parity.js';

const DIR = 'test/fixtures/models/tiny-mpnet';

interface Rec { shape: number[]; data: number[] }
interface Inputs { texts?: string[][]; input_ids: number[][]; attention_mask: number[][]; token_type_ids?: number[][] }
interface ModelRef {
  inputs: Inputs;
  relative_buckets: { from: number; buckets: number[] };
  last_hidden_state: Rec;
  pooler_output: Rec;
  mean_pooled: Rec;
}
interface MethodRef {
  inputs: Inputs;
  pooling: 'pooler' | 'mean';
  labels: number[];
  trainable: string[];
  logits: Rec;
  loss: number;
  gradients: Record<string, Rec>;
}

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** A temp model directory with `files` of the fixture. */
function only(files: readonly string[]): string {
  const dir = tempDir('adapterkit-mpnet-');
  temps.push(dir);
  for (const f of files) copyFileSync(join(DIR, f), join(dir, f));
  return dir;
}


function batchOf(inp: Inputs): EncodedBatch {
  const B = inp.input_ids.length;
  return {
    batchSize: B, seqLen: inp.input_ids[0]!.length,
    inputIds: Int32Array.from(inp.input_ids.flat()), attentionMask: Int32Array.from(inp.attention_mask.flat()),
    tokenTypeIds: Int32Array.from((inp.token_type_ids ?? inp.input_ids.map((r) => r.map(() => 0))).flat()),
    lengths: inp.attention_mask.map((r) => r.reduce((a, b) => a + b, 0)), truncated: new Array(B).fill(false),
  };
}

/** Runs the bare encoder of `dir` on the reference inputs: max abs errors of hidden, pooled and the mean pooling. */
async function parity(dir: string, ref: ModelRef): Promise<{ hidden: number; pooled: number; mean: number; describe: Record<string, unknown> }> {
  const m = await loadEncoderModel(dir);
  const eg = buildEncoderGraph(m.encoder, m.weights);
  const mean = pooledInput('mean', eg.outputs, eg.attentionMask);
  eg.graph.output(eg.outputs.hidden, eg.outputs.pooled, mean);
  assert.equal(eg.tokenTypeIds, undefined, 'MPNet reads no token types');
  const s = await Session.create(eg.graph);
  const out = await s.run({ input_ids: ids(ref.inputs.input_ids), attention_mask: ids(ref.inputs.attention_mask) });
  await s.dispose();
  assert.deepEqual(out[eg.outputs.hidden.name]!.shape, ref.last_hidden_state.shape);
  return {
    hidden: maxAbsDiff(out[eg.outputs.hidden.name]!.data as Float32Array, ref.last_hidden_state.data),
    pooled: maxAbsDiff(out[eg.outputs.pooled.name]!.data as Float32Array, ref.pooler_output.data),
    mean: maxAbsDiff(out[mean.name]!.data as Float32Array, ref.mean_pooled.data),
    describe: m.encoder.describe(),
  };
}

describe('tiny-mpnet: parity with the PyTorch reference (max abs error <= 1e-4)', () => {
  const ref = readJson<ModelRef>(join(DIR, 'reference.json'));

  test('the relative-position buckets equal PyTorch\'s float computation for |r| <= 600', () => {
    const got = ref.relative_buckets.buckets.map((_, i) => relativeBucket(ref.relative_buckets.from + i));
    assert.deepEqual(got, ref.relative_buckets.buckets);
    // keys after the query use the upper half; distances 0..7 exact, then logarithmic up to 15 (31)
    assert.deepEqual([0, -1, 1, -8, -16, -64, -90, -91, -1000].map(relativeBucket), [0, 1, 17, 8, 10, 14, 14, 15, 15]);
  });

  test('model.safetensors with mpnet.-prefixed keys and MPNetForMaskedLM\'s lm_head', async () => {
    const r = await parity(DIR, ref);
    assert.ok(r.hidden <= 1e-4, `hidden ${r.hidden}`);
    assert.ok(r.pooled <= 1e-4, `pooled ${r.pooled}`);
    assert.ok(r.mean <= 1e-4, `mean ${r.mean}`);
    assert.match(String(r.describe.checkpoint), /^mpnet\.-prefixed keys in model\.safetensors; 6 unused: lm_head\./);
    assert.match(String(r.describe.relativeBias), /^32 buckets \(max distance 128\) of a 32 x 4 table, shared by every layer$/);
  });

  test('pytorch_model.bin with unprefixed keys and the position_ids buffer (sentence-transformers\' layout)', async () => {
    const r = await parity(only(['config.json', 'pytorch_model.bin']), ref);
    assert.ok(r.hidden <= 1e-4, `hidden ${r.hidden}`);
    assert.ok(r.pooled <= 1e-4, `pooled ${r.pooled}`);
    assert.match(String(r.describe.checkpoint), /^unprefixed keys in pytorch_model\.bin; 1 unused: embeddings\.position_ids/);
  });

  test('without a pooler (MPNetForMaskedLM alone) the pooled output is the first token', async () => {
    const dir = only(['config.json']);
    const all = await readWeights(join(DIR, 'model.safetensors'));
    const kept = new Map([...all].filter(([k]) => !k.includes('pooler')).map(([k, t]) => [k, { dtype: 'float32' as const, shape: [...t.shape], data: t.data as Float32Array }]));
    await writeSafetensors(join(dir, 'model.safetensors'), kept);
    const m = await loadEncoderModel(dir);
    assert.equal(m.encoder.describe().pooler, false);
    const eg = buildEncoderGraph(m.encoder, m.weights);
    eg.graph.output(eg.outputs.pooled);
    const s = await Session.create(eg.graph);
    const out = await s.run({ input_ids: ids(ref.inputs.input_ids), attention_mask: ids(ref.inputs.attention_mask) });
    await s.dispose();
    const [B, T, D] = ref.last_hidden_state.shape as [number, number, number];
    const first = Array.from({ length: B * D }, (_, i) => ref.last_hidden_state.data[Math.floor(i / D) * T * D + (i % D)]!);
    assert.ok(maxAbsDiff(out[eg.outputs.pooled.name]!.data as Float32Array, first) <= 1e-4);
  });

  test('the relative bias table\'s gradient (Gather over the bucket table) matches finite differences', async () => {
    const m = await loadEncoderModel(DIR);
    const rel = MPNET_NAMES.relativeBias;
    const bias = m.weights.get(rel)!;
    // the two shortest rows keep it quick: distances up to 13, so buckets 0..10 and 16..26 are used
    const rows = [ref.inputs.input_ids[0]!, ref.inputs.input_ids[1]!].map((r) => r.slice(0, 14));
    const masks = [ref.inputs.attention_mask[0]!, ref.inputs.attention_mask[1]!].map((r) => r.slice(0, 14));
    await gradcheck({
      params: { [rel]: f32([...bias.shape], Float32Array.from(bias.data)) },
      feeds: { input_ids: ids(rows), attention_mask: ids(masks) },
      shapes: { input_ids: ['batch', 'seq'], attention_mask: ['batch', 'seq'] },
      build: (p, x, g) => {
        const constants = new Map<string, Value>();
        const ctx = {
          graph: g, nextSeed: () => 1,
          weight: (n: string): Value => {
            if (n === rel) return p[rel]!;
            let v = constants.get(n);
            if (!v) constants.set(n, (v = g.constant(n, m.weights.get(n)!)));
            return v;
          },
        };
        return m.encoder.build(ctx, { inputIds: x.input_ids!, attentionMask: x.attention_mask! }).hidden;
      },
      eps: 1e-2, atol: 2e-3, rtol: 1e-2,
    });
  });

  test('keys an attention hook prepends get no position bias: masked out, they leave the outputs as they were', async () => {
    const m = await loadEncoderModel(DIR);
    const [B, T, D] = ref.last_hidden_state.shape as [number, number, number];
    const H = 4;
    const P = 3;
    const run = async (prefixMask: number): Promise<Float32Array> => {
      const eg = buildEncoderGraph(m.encoder, m.weights, {
        hooks: {
          attention: (site, kv) => {
            const g = kv.keys.graph;
            const keys = g.constant(`prefix_k_${site.layer}`, f32([B, H, P, D / H], Float32Array.from({ length: B * H * P * (D / H) }, (_, i) => Math.sin(i + site.layer))));
            const values = g.constant(`prefix_v_${site.layer}`, f32([B, H, P, D / H], Float32Array.from({ length: B * H * P * (D / H) }, (_, i) => Math.cos(i * 3 + site.layer))));
            const mask = g.constant(`prefix_m_${site.layer}`, f32([B, 1, 1, P], new Float32Array(B * P).fill(prefixMask)));
            return { keys: concat([keys, kv.keys], 2), values: concat([values, kv.values], 2), maskBias: concat([mask, kv.maskBias], 3) };
          },
        },
      });
      eg.graph.output(eg.outputs.hidden);
      const s = await Session.create(eg.graph);
      const out = await s.run({ input_ids: ids(ref.inputs.input_ids), attention_mask: ids(ref.inputs.attention_mask) });
      await s.dispose();
      assert.deepEqual(out[eg.outputs.hidden.name]!.shape, [B, T, D]);
      return out[eg.outputs.hidden.name]!.data as Float32Array;
    };
    assert.ok(maxAbsDiff(await run(-3.4028234663852886e38), ref.last_hidden_state.data) <= 1e-4, 'masked prefix keys change nothing');
    assert.ok(maxAbsDiff(await run(0), ref.last_hidden_state.data) > 1e-2, 'attended prefix keys do change the outputs');
  });

  test('adapterkit info shows the family, its relative bias and the key variant', async () => {
    const r = await cli('info', DIR, '--json');
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout) as { family: string; architecture: Record<string, unknown>; tokenizer: Record<string, unknown> };
    assert.equal(info.family, 'mpnet');
    assert.match(String(info.architecture.checkpoint), /^mpnet\.-prefixed keys in model\.safetensors/);
    assert.equal(info.architecture.positions, 'offset by padding_idx 1 + 1');
    assert.equal(info.tokenizer.kind, 'hf-wordpiece');
  });

  test('configs that cannot run are refused by name', () => {
    const base = { model_type: 'mpnet', vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 6 };
    assert.equal(parseMpnetConfig(base).relativeBuckets, 32);
    assert.equal(parseMpnetConfig({ ...base, max_position_embeddings: 514 }).maxLength, 512);
    assert.throws(() => parseMpnetConfig({ ...base, relative_attention_num_buckets: 16 }), /relative_attention_num_buckets 16 must be between 32 and 65536: MPNet looks up 32 relative-position buckets/);
    assert.throws(() => parseMpnetConfig({ ...base, hidden_size: 9 }), /hidden size 9 is not divisible by the number of attention heads 2/);
    assert.throws(() => parseMpnetConfig({ ...base, max_position_embeddings: 2 }), /max_position_embeddings 2 leaves no room for any token \(positions start at 2\)/);
    assert.throws(() => parseMpnetConfig({ ...base, hidden_act: 'mish' }), (e: unknown) => e instanceof AdapterkitError && e.code === 'UNSUPPORTED_MODEL' && /hidden_act "mish" is not supported/.test(e.message));
  });
});

test('the hub path: tiny-mpnet downloads (tokenizer.json, unprefixed .bin) and loads as from its directory', async () => {
  const commit = fakeCommit('mpnet');
  const file = (name: string, lfs = false): FakeFile => ({ content: readFileSync(join(DIR, name)), lfs });
  const hub = await startFakeHub({
    'org/tiny-mpnet': {
      refs: { main: commit },
      commits: { [commit]: { 'config.json': file('config.json'), 'pytorch_model.bin': file('pytorch_model.bin', true), 'tokenizer.json': file('tokenizer.json'), 'tokenizer_config.json': file('tokenizer_config.json') } },
    },
  });
  const cacheDir = tempDir('adapterkit-mpnet-cache-');
  temps.push(cacheDir);
  try {
    const fromHub = await loadBase('org/tiny-mpnet', { endpoint: hub.endpoint, cacheDir, token: false, offline: false, timeoutMs: 5000 });
    const fromDir = await loadBase(DIR);
    assert.equal(fromHub.encoder.family, 'mpnet');
    assert.deepEqual([...fromHub.weights.keys()], [...fromDir.weights.keys()]);
    for (const [k, t] of fromDir.weights) assert.deepEqual(fromHub.weights.get(k)?.data, t.data, k);
    assert.deepEqual(fromHub.tokenizer.encode(['the cats sat.'], 16).inputIds, fromDir.tokenizer.encode(['the cats sat.'], 16).inputIds);
  } finally {
    await hub.close();
  }
});

describe('MPNet\'s WordPiece tokenizer.json', () => {
  // Vocabulary of tiny-mpnet: 0 <s>, 1 <pad>, 2 </s>, 3 <unk>, 4 [UNK], 5 the, 6 cat, 7 ##s, 8 sat, 9 .,
  // 10 on, 11 mat, 12 hello, 13 ",", 14 world, 15 !, 16 is, 17 it, 18 ?, 19 a, 20 dog, 21 ##gy, 22 run,
  // 23 ##ning, 24 fast, 25 and, 26 then, 27 slow, 28 ##ly, 29 <mask>. BertNormalizer lowercases and (with
  // strip_accents null and lowercase true) strips accents: "Thé" -> "the"; BertPreTokenizer splits
  // punctuation off; greedy longest-match WordPiece: "cats" -> cat ##s, "doggy" -> dog ##gy,
  // "running" -> run ##ning, "slowly" -> slow ##ly; "xyz" has no pieces: [UNK] (4, not <unk> 3).
  // MPNet's template: <s> A </s> and <s> A </s></s> B </s>.
  const want = [
    [0, 5, 6, 7, 8, 9, 2],
    [0, 12, 13, 14, 15, 2, 2, 16, 17, 10, 5, 11, 18, 2],
    [0, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 10, 5, 11, 13, 5, 4, 6, 8, 9, 2],
  ];

  test('ids equal the ones worked out by hand and the model fixture\'s inputs; <pad> is 1', async () => {
    const base = await loadBase(DIR);
    assert.equal((await loadTokenizer(DIR)).kind, 'hf-wordpiece');
    const ref = readJson<ModelRef>(join(DIR, 'reference.json'));
    const texts = ref.inputs.texts!.map((t) => (t.length === 1 ? t[0]! : [t[0]!, t[1]!] as [string, string]));
    const b = base.tokenizer.encode(texts, 38);
    const rows = want.map((_, i) => Array.from(b.inputIds.subarray(i * b.seqLen, i * b.seqLen + b.lengths[i]!)));
    assert.deepEqual(rows, want);
    assert.deepEqual(Array.from(b.inputIds), ref.inputs.input_ids.flat());
    assert.deepEqual(Array.from(b.attentionMask), ref.inputs.attention_mask.flat());
    assert.deepEqual(base.tokenizer.specialIds, { cls: 0, sep: 2, unk: 4 });
    assert.equal(base.encoder.maxLength, 38, 'max_position_embeddings 40 less padding_idx + 1');
  });
});

/** Checks a method fixture: logits, loss and every gradient of `model` against `ref`. */
async function checkGradients(model: TaskModel, ref: MethodRef, keyOf: (t: { name: string; origin: string; shape: readonly number[] }) => { key: string; k?: FileTensorKey }): Promise<void> {
  assert.deepEqual(model.trainable.map((t) => keyOf(t).key).sort(), [...ref.trainable].sort(), 'the trainable tensors are the reference\'s');
  const out = await model.trainStep(batchOf(ref.inputs), ref.labels);
  assert.ok(close(out.loss, ref.loss, 1e-5, 1e-6), `loss ${out.loss} vs ${ref.loss}`);
  assert.ok(maxAbsDiff(out.logits, ref.logits.data) <= 1e-4, 'logits within 1e-4');
  model.trainable.forEach((t, j) => {
    const { key, k } = keyOf(t);
    const r = ref.gradients[key] as Rec;
    const g = out.grads[j]!;
    assert.equal(g.length, r.data.length, key);
    for (let i = 0; i < g.length; i++) {
      const want = r.data[fileIndex(k, t.shape, i)]!;
      assert.ok(close(g[i]!, want, 1e-3, 2e-6), `${key}[${i}]: ${g[i]} vs ${want}`);
    }
  });
}

/** A task model of the AdapterHub-layout fixture `dir` on `base` with the reference's pooling, and its file keys. */
async function fixtureModel(baseDir: string, dir: string, ref: MethodRef) {
  const base = await loadBase(baseDir);
  const loaded = await loadSavedTask(base, dir);
  const head = headConfig({ ...loaded.model.head, dropout: 0, pooling: ref.pooling === 'mean' ? 'mean' : 'encoder' });
  const model = TaskModel.create(base, { mode: loaded.model.mode, head, seed: 1, dropout: 0, weights: loaded.model.owned });
  await loaded.model.dispose();
  const c = (model.mode as { adapter: MethodConfig }).adapter;
  const keys = new Map<string, FileTensorKey>();
  for (const k of adapterHubKeys(c, base.encoder, model.adapterName, 'tiny_task')) if (!keys.has(k.internal)) keys.set(k.internal, k);
  const keyOf = (t: { name: string; origin: string; shape: readonly number[] }): { key: string; k?: FileTensorKey } => {
    if (t.origin === 'adapter') return { key: (keys.get(t.name) as FileTensorKey).key, k: keys.get(t.name) };
    const key = headKey('tiny_task', t.name, 1);
    return { key, k: t.shape.length === 2 ? { internal: t.name, key, shape: [...t.shape].reverse(), transpose: true } : undefined };
  };
  return { base, model, keyOf };
}

test('an AdapterHub head with use_pooler false reads the first token (pooling cls) on a base with a pooler, the pooler with use_pooler true', async () => {
  const base = await loadBase(DIR);
  const [lora, houlsby] = [await loadSavedTask(base, join(DIR, 'adapters', 'lora')), await loadSavedTask(base, join(DIR, 'adapters', 'houlsby'))];
  assert.equal(lora.model.head.pooling, 'cls');
  assert.equal(houlsby.model.head.pooling, undefined);
  await Promise.all([lora.model.dispose(), houlsby.model.dispose()]);
});

for (const method of ['houlsby', 'lora']) {
  test(`tiny-mpnet + ${method} (${method === 'lora' ? 'mean-pooling' : 'pooler'} head): logits, loss and every gradient match PyTorch`, async () => {
    const dir = join(DIR, 'adapters', method);
    const ref = readJson<MethodRef>(join(dir, 'reference.json'));
    const { model, keyOf } = await fixtureModel(DIR, dir, ref);
    await checkGradients(model, ref, keyOf);
    await model.dispose();
  });
}

test('tiny-bert (MiniLM\'s type) + LoRA with a mean-pooling head: logits, loss and every gradient match PyTorch', async () => {
  const dir = 'test/fixtures/pooling/bert-mean-lora';
  const ref = readJson<MethodRef>(join(dir, 'reference.json'));
  const { model, keyOf } = await fixtureModel(TINY_BERT, dir, ref);
  assert.equal(model.head.pooling, 'mean');
  await checkGradients(model, ref, keyOf);
  await model.dispose();
});

describe('MPNet adapters in the Python libraries\' layouts', () => {
  test('AdapterHub has no MPNet model: no adapter_config.json, a note saying why; PEFT keys follow the module paths', async () => {
    const base = await loadBase(DIR);
    const lora = methodConfig('lora', { r: 2 });
    const hub = adapterHubAdapterConfig(lora, base.encoder, 'a');
    assert.ok('unsupported' in hub && hub.unsupported === 'AdapterHub has no MPNet model', JSON.stringify(hub));
    const peft = peftAdapterConfig(lora, base.encoder, headConfig({ kind: 'classification', labels: ['a', 'b'] }), 'tiny-mpnet');
    assert.ok('json' in peft, JSON.stringify(peft));
    const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: lora }, head: headConfig({ kind: 'classification', labels: ['a', 'b'], pooling: 'mean' }), seed: 3 });
    const out = tempDir('ak-mpnet-save-');
    temps.push(out);
    const notes = await saveTask(model, join(out, 't'), { name: 't', maxLength: 16 });
    await model.dispose();
    assert.ok(notes.some((n) => /^AdapterHub cannot load this adapter \(AdapterHub has no MPNet model\)/.test(n)), notes.join('\n'));
    assert.ok(notes.some((n) => /AdapterHub's heads have no mean pooling/.test(n)), notes.join('\n'));
    assert.equal(existsSync(join(out, 't', 'adapter_config.json')), false);
    assert.ok(existsSync(join(out, 't', 'adapter.safetensors')));
    const peftFile = await readWeights(join(out, 't', 'peft', 'adapter_model.safetensors'));
    assert.ok(peftFile.has('base_model.model.mpnet.encoder.layer.0.attention.attn.q.lora_A.weight'), [...peftFile.keys()].slice(0, 4).join(', '));
    // read back: the pooling comes from adapterkit.json
    const again = await loadSavedTask(base, join(out, 't'));
    assert.equal(again.model.head.pooling, 'mean');
    await again.model.dispose();
  });
});

describe('head pooling', () => {
  test('token heads take no pooling; an unknown pooling is refused listing the known ones', () => {
    assert.throws(() => headConfig({ kind: 'tagging', labels: ['O', 'B'], pooling: 'mean' }), /head: a tagging head reads every position; pooling mean is for sentence-level heads \(classification, regression, multilabel\)/);
    assert.throws(() => headConfig({ kind: 'classification', labels: ['a', 'b'], pooling: 'max' as never }), /head: unknown pooling "max"; known: encoder, cls, mean/);
    assert.equal(headConfig({ kind: 'classification', labels: ['a', 'b'], pooling: 'encoder' }).pooling, undefined, 'the default is not stored');
  });

  test('a mixed-task batch runs heads of different poolings, each example with its task\'s', async () => {
    const base = await loadBase(DIR);
    const ref = readJson<ModelRef>(join(DIR, 'reference.json'));
    const make = (pooling: 'encoder' | 'cls' | 'mean', seed: number) => TaskModel.create(base, { mode: { kind: 'head-only' }, head: headConfig({ kind: 'classification', labels: ['a', 'b', 'c'], pooling }), seed });
    const models = { encoder: make('encoder', 1), cls: make('cls', 2), mean: make('mean', 3) };
    const batch = batchOf(ref.inputs);
    const alone = new Map<string, Float32Array>();
    for (const [k, m] of Object.entries(models)) alone.set(k, await m.predict(batch));
    const mixed = new MultiTaskModel(base);
    for (const [k, m] of Object.entries(models)) mixed.add(k, m);
    const tasks = ['mean', 'encoder', 'cls'];
    const out = await mixed.predict(batch, tasks);
    tasks.forEach((t, i) => assert.ok(maxAbsDiff(out[i]!, Array.from(alone.get(t)!.subarray(i * 3, i * 3 + 3))) <= 1e-5, t));
    assert.ok(maxAbsDiff(alone.get('mean')!, Array.from(alone.get('cls')!)) > 1e-3, 'the poolings differ');
    await mixed.dispose();
    for (const m of Object.values(models)) await m.dispose();
  });

  describe('adapterkit train --pooling', () => {
    const dir = tempDir('ak-cli-pooling-');
    temps.push(dir);
    const data = ['--train', join(dir, 'train.csv'), '--text', 'sentence', '--label', 'sentiment', '--epochs', '1', '--batch-size', '16', '--max-length', '16', '--seed', '3'];
    before(() => writeToyCsv(join(dir, 'train.csv'), 32, 1));

    test('trains an MPNet base with a mean-pooling head; the saved task keeps it (info, predict, export)', async () => {
      const r = await cli('train', ...data, '--base', DIR, '--method', 'lora', '--pooling', 'mean', '--out', join(dir, 'run'), '--name', 'pooled');
      assert.equal(r.code, 0, r.stderr);
      const manifest = readJson<{ head: { pooling?: string } }>(join(dir, 'run', 'best', 'adapterkit.json'));
      assert.equal(manifest.head.pooling, 'mean');
      const info = await cli('info', join(dir, 'run', 'best'));
      assert.equal(info.code, 0, info.stderr);
      assert.match(info.stdout, /head:\s+classification \(neg, pos\), 1 layer, pooling mean/);
      writeFileSync(join(dir, 'texts.txt'), 'the cat sat\nhello world\n');
      const p = await cli('predict', join(dir, 'run', 'best'), '--input', join(dir, 'texts.txt'));
      assert.equal(p.code, 0, p.stderr);
      assert.equal(p.stdout.trim().split('\n').length, 2, p.stdout);
      const resumed = await cli('train', ...data, '--base', DIR, '--method', 'lora', '--out', join(dir, 'run'), '--name', 'pooled', '--resume');
      assert.notEqual(resumed.code, 0);
      assert.match(resumed.stderr, /cannot resume .*: the run was started with different pooling \("mean" then, "encoder" now\)/);
      const ex = await cli('export', join(dir, 'run', 'best'), '--out', join(dir, 'export'));
      assert.equal(ex.code, 0, ex.stderr);
      assert.match(ex.stdout, /MPNetForSequenceClassification/);
      assert.match(ex.stdout, /inputs:\s+input_ids, attention_mask\n/);
    });

    test('--pooling is refused for a token-level head and for an unknown value; --help explains it', async () => {
      const bad = await cli('train', ...data, '--base', TINY_BERT, '--pooling', 'max');
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /--pooling <how>.*argument 'max' is invalid\. Allowed choices are encoder, cls, mean/s);
      const help = await cli('train', '--help');
      assert.match(help.stdout.replace(/\s+/g, ' '), /--pooling <how> what a sentence-level head \(classification, regression, multilabel\) reads: encoder = the base's own sentence vector/);
      assert.match(help.stdout.replace(/\s+/g, ' '), /mean = the mean of the last hidden state over the real \(unpadded\) tokens, as sentence-transformers pool/);
    });
  });
});
