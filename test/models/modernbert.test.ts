/**
 * ModernBERT. Parity with the independent PyTorch implementation
 * (scripts/fixtures/make_modernbert_fixtures.py, reference_modernbert.py): hidden states and the
 * prediction-head pooled output (masked mean and first token) to 1e-4 on inputs longer than the
 * local window, so the global/local alternation is exercised (and an encoder that ignores the
 * window is far off); logits, loss and every gradient with a Houlsby adapter and with LoRA (on the
 * column blocks of Wqkv, on Wi and Wo); rotary tables against their formula; the full fine-tuning
 * gradient of the embeddings and a Wqkv block (rotary and the window mask are built from Gather /
 * Slice / Concat / Where, no new gradient rule) against finite differences; byte-level BPE
 * tokenizer.json ids worked out by hand.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterHubKeys, headKey } from '../../src/adapters/adapterhub.js';
import type { FileTensorKey } from '../../src/adapters/method.js';
import { methodConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import { Session, concat, f32, type Value } from '../../src/engine/index.js';
import { AdapterkitError } from '../../src/errors.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { buildEncoderGraph } from '../../src/models/build.js';
import { parseModernBertConfig } from '../../src/models/modernbert/config.js';
import { ModernBertEncoder, rotaryTables } from '../../src/models/modernbert/encoder.js';
import { loadEncoderModel } from '../../src/models/registry.js';
import { loadTokenizer, type EncodedBatch } from '../../src/models/tokenizers/index.js';
import { readWeights, writeSafetensors } from '../../src/models/weights/index.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { cli } from '../cli/harness.js';
import { gradcheck } from '../engine/gradcheck.js';
import { close, fileIndex } from '../util/reference-compare.js';
import { ids, maxAbsDiff } from './encoder-parity.js';
import { tempDir } from '../temp-dir.js';

const DIR = 'test/fixtures/models/tiny-modernbert';

interface Rec { shape: number[]; data: number[] }
interface Inputs { texts?: string[][]; input_ids: number[][]; attention_mask: number[][] }
interface ModelRef { inputs: Inputs; last_hidden_state: Rec; pooled: Rec; pooled_cls: Rec; last_hidden_state_no_window: Rec }
interface MethodRef { inputs: Inputs; labels: number[]; trainable: string[]; logits: Rec; loss: number; gradients: Record<string, Rec> }

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;


/** A temp copy of the fixture with config.json fields replaced by `patch`. */
function patched(patch: Record<string, unknown>): string {
  const dir = tempDir('adapterkit-modernbert-');
  temps.push(dir);
  for (const f of ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(DIR, f), join(dir, f));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...readJson<Record<string, unknown>>(join(DIR, 'config.json')), ...patch }));
  return dir;
}

/** Hidden states and pooled output of the bare encoder of `dir` on the reference inputs. */
async function run(dir: string, ref: ModelRef): Promise<{ hidden: Float32Array; pooled: Float32Array; describe: Record<string, unknown> }> {
  const m = await loadEncoderModel(dir);
  const eg = buildEncoderGraph(m.encoder, m.weights);
  eg.graph.output(eg.outputs.hidden, eg.outputs.pooled);
  assert.equal(eg.tokenTypeIds, undefined, 'ModernBERT reads no token types');
  const s = await Session.create(eg.graph);
  const out = await s.run({ input_ids: ids(ref.inputs.input_ids), attention_mask: ids(ref.inputs.attention_mask) });
  await s.dispose();
  assert.deepEqual(out[eg.outputs.hidden.name]!.shape, ref.last_hidden_state.shape);
  return { hidden: out[eg.outputs.hidden.name]!.data as Float32Array, pooled: out[eg.outputs.pooled.name]!.data as Float32Array, describe: m.encoder.describe() };
}

describe('tiny-modernbert: parity with the PyTorch reference (max abs error <= 1e-4)', () => {
  const ref = readJson<ModelRef>(join(DIR, 'reference.json'));

  test('the inputs are longer than the local window, and the window matters', () => {
    const longest = Math.max(...ref.inputs.attention_mask.map((r) => r.reduce((a, b) => a + b, 0)));
    assert.equal(longest, 15);
    assert.ok(maxAbsDiff(ref.last_hidden_state.data, ref.last_hidden_state_no_window.data) > 0.5);
  });

  test('model.safetensors (ModernBertForMaskedLM): hidden states and the head over the masked mean', async () => {
    const r = await run(DIR, ref);
    const dh = maxAbsDiff(r.hidden, ref.last_hidden_state.data);
    const dp = maxAbsDiff(r.pooled, ref.pooled.data);
    assert.ok(dh <= 1e-4, `hidden ${dh}`);
    assert.ok(dp <= 1e-4, `pooled ${dp}`);
    assert.ok(maxAbsDiff(r.hidden, ref.last_hidden_state_no_window.data) > 0.5, 'and far from an encoder without the local window');
    // the encoder's keys carry model., the prediction head's (head.dense, head.norm) do not, as ModernBertForMaskedLM saves them
    assert.match(String(r.describe.checkpoint), /^mixed \(some model\.-prefixed\) keys in model\.safetensors; 1 unused: decoder\.bias/);
    assert.equal(r.describe.attention, 'global every 2 layers (rope theta 160000), local ±2 otherwise (rope theta 10000)');
    assert.deepEqual(r.describe.biases, { attention: false, mlp: false, norm: false });
  });

  test('classifier_pooling "cls": the head over the first token', async () => {
    const r = await run(patched({ classifier_pooling: 'cls' }), ref);
    assert.ok(maxAbsDiff(r.pooled, ref.pooled_cls.data) <= 1e-4);
  });

  test('a window wide enough for every input gives what global attention everywhere gives', async () => {
    const r = await run(patched({ local_attention: 64 }), ref);
    assert.ok(maxAbsDiff(r.hidden, ref.last_hidden_state_no_window.data) <= 1e-4);
  });

  test('without the prediction head (a bare ModernBertModel) the pooled output is the first token', async () => {
    const dir = patched({});
    const all = await readWeights(join(DIR, 'model.safetensors'));
    const kept = new Map([...all].filter(([k]) => !k.startsWith('head.')).map(([k, t]) => [k.replace(/^model\./, ''), { dtype: 'float32' as const, shape: [...t.shape], data: t.data as Float32Array }]));
    await writeSafetensors(join(dir, 'model.safetensors'), kept);
    const r = await run(dir, ref);
    assert.equal(r.describe.pooler, false);
    assert.match(String(r.describe.checkpoint), /^unprefixed keys/);
    const [B, T, D] = ref.last_hidden_state.shape as [number, number, number];
    const first = Array.from({ length: B * D }, (_, i) => ref.last_hidden_state.data[Math.floor(i / D) * T * D + (i % D)]!);
    assert.ok(maxAbsDiff(r.pooled, first) <= 1e-4);
  });

  test('keys an attention hook prepends lie inside every window: masked out, they leave the outputs as they were', async () => {
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
    // real tokens only: a padding query of a local layer far from every real token sees nothing but
    // masked keys, so its softmax is uniform over all of them, the prepended ones included
    const real = (x: ArrayLike<number>) => Array.from(x).filter((_, i) => ref.inputs.attention_mask.flat()[Math.floor(i / D)] === 1);
    assert.ok(maxAbsDiff(real(await run(-3.4028234663852886e38)), real(ref.last_hidden_state.data)) <= 1e-4, 'masked prefix keys change nothing');
    assert.ok(maxAbsDiff(real(await run(0)), real(ref.last_hidden_state.data)) > 1e-2, 'attended prefix keys do change the outputs');
  });

  test('rotary tables: cos/sin of p / theta^(2j/Dh), repeated over both halves of the head', () => {
    const { cos, sin } = rotaryTables(5, 8, 10000);
    for (let p = 0; p < 5; p++) {
      for (let j = 0; j < 4; j++) {
        const a = p / 10000 ** ((2 * j) / 8);
        for (const k of [j, j + 4]) {
          assert.ok(Math.abs(cos[p * 8 + k]! - Math.cos(a)) < 1e-6);
          assert.ok(Math.abs(sin[p * 8 + k]! - Math.sin(a)) < 1e-6);
        }
      }
    }
  });

  test('layer-norm gradients through rotary, the window mask and the GeGLU match finite differences', async () => {
    const m = await loadEncoderModel(DIR);
    // gains in front of the local layer's rotary attention and of the last layer's GeGLU: every element is
    // perturbed, so small tensors keep it quick (the adapter tests below check the rest against PyTorch)
    const names = ['layers.1.attn_norm.weight', 'layers.2.mlp_norm.weight', 'embeddings.norm.weight'];
    const rows = [ref.inputs.input_ids[2]!.slice(0, 9), ref.inputs.input_ids[0]!.slice(0, 9)];
    const masks = [ref.inputs.attention_mask[2]!.slice(0, 9), ref.inputs.attention_mask[0]!.slice(0, 9)];
    await gradcheck({
      params: Object.fromEntries(names.map((n) => [n, f32([...m.weights.get(n)!.shape], Float32Array.from(m.weights.get(n)!.data))])),
      feeds: { input_ids: ids(rows), attention_mask: ids(masks) },
      shapes: { input_ids: ['batch', 'seq'], attention_mask: ['batch', 'seq'] },
      build: (p, x, g) => {
        const constants = new Map<string, Value>();
        const ctx = {
          graph: g, nextSeed: () => 1,
          weight: (n: string): Value => {
            if (p[n]) return p[n]!;
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

  test('adapterkit info shows the family, its attention pattern and the key variant', async () => {
    const r = await cli('info', DIR, '--json');
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout) as { family: string; architecture: Record<string, unknown>; tokenizer: Record<string, unknown> };
    assert.equal(info.family, 'modernbert');
    assert.match(String(info.architecture.checkpoint), /^mixed \(some model\.-prefixed\) keys in model\.safetensors/);
    assert.equal(info.architecture.classifierPooling, 'mean');
  });

  test('configs that cannot run are refused by name', () => {
    const base = { model_type: 'modernbert', vocab_size: 10, hidden_size: 8, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 6, pad_token_id: 0 };
    const c = parseModernBertConfig(base);
    assert.deepEqual([c.globalRopeTheta, c.localRopeTheta, c.localAttention, c.globalEvery, c.maxLength, c.classifierPooling], [160000, 10000, 128, 3, 8192, 'cls']);
    assert.equal(parseModernBertConfig({ ...base, rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 5e5 }, sliding_attention: { rope_theta: 2e4 } } }).globalRopeTheta, 5e5);
    assert.throws(() => parseModernBertConfig({ ...base, classifier_pooling: 'max' }), /classifier_pooling "max" must be "cls" or "mean"/);
    assert.throws(() => parseModernBertConfig({ ...base, hidden_size: 9 }), /hidden size 9 is not divisible by the number of attention heads 2/);
    assert.throws(() => parseModernBertConfig({ ...base, hidden_size: 6, num_attention_heads: 2 }), /head size 3 must be even for rotary position embeddings/);
    assert.throws(() => parseModernBertConfig({ ...base, rope_scaling: { type: 'linear', factor: 2 } }), /rope_scaling .* is not supported/);
    assert.throws(() => parseModernBertConfig({ ...base, layer_types: ['full_attention', 'full_attention', 'sliding_attention'] }), /layer_types .* differ from every 3th layer global/);
    assert.throws(() => parseModernBertConfig({ ...base, norm_bias: 'no' }), (e: unknown) => e instanceof AdapterkitError && e.code === 'UNSUPPORTED_MODEL' && /"norm_bias" must be true or false/.test(e.message));
  });

  test('PEFT\'s layout is refused for LoRA and IA³ on the column blocks of Wqkv, and written for LoRA on the MLP only', async () => {
    const { peftAdapterConfig } = await import('../../src/adapters/peft.js');
    const m = await loadEncoderModel(DIR);
    const cls = headConfig({ kind: 'classification', labels: ['a', 'b'] });
    for (const c of [methodConfig('lora'), methodConfig('ia3')]) {
      const r = peftAdapterConfig(c, m.encoder, cls, 'tiny-modernbert');
      assert.ok('unsupported' in r && /(query|key) projection is columns \d+\.\.\d+ of the fused layers\.0\.attn\.Wqkv; PEFT adapts whole modules/.test(r.unsupported), JSON.stringify(r));
    }
    const mlp = peftAdapterConfig(methodConfig('lora', { selfattn_lora: false, intermediate_lora: true, output_lora: true }), m.encoder, cls, 'tiny-modernbert');
    assert.ok('json' in mlp, JSON.stringify(mlp));
    assert.deepEqual(mlp.json.target_modules, ['Wi', 'mlp.Wo']);
  });

  test('norm, attention and MLP biases are declared and used when the config has them', () => {
    const c = parseModernBertConfig({ model_type: 'modernbert', vocab_size: 10, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 6, pad_token_id: 0, norm_bias: true, attention_bias: true, mlp_bias: true });
    const e = new ModernBertEncoder(c, false);
    const names = e.weightSpecs.map((s) => s.name);
    for (const n of ['embeddings.norm.bias', 'layers.1.attn_norm.bias', 'layers.0.attn.Wqkv.bias', 'layers.0.mlp.Wi.bias', 'final_norm.bias']) assert.ok(names.includes(n), n);
    assert.ok(!names.some((n) => n.startsWith('layers.0.attn_norm')), 'layer 0 has no attention norm');
    assert.equal(e.sites.linear(0, 'key').bias, 'layers.0.attn.Wqkv.bias');
    const none = new ModernBertEncoder({ ...c, normBias: false, attentionBias: false, mlpBias: false }, false);
    assert.equal(none.sites.linear(0, 'key').bias, undefined);
    assert.ok(!none.weightSpecs.some((s) => s.name.endsWith('.bias')));
  });
});

describe('ModernBERT\'s byte-level BPE tokenizer.json', () => {
  // Vocabulary of tiny-modernbert: 0 !, 1 ",", 2 ., 3 ?, 4 H, 5 a, 6 c, 7 d, 8 e, 9 h, 10 l, 11 m, 12 n, 13 o, 14 r,
  // 15 s, 16 t, 17 w, 18 Ġ, then the merge results 19 th, 20 the, 21 Ġthe, 22 at, 23 Ġc, 24 Ġcat, 25 Ġs, 26 Ġsat,
  // 27 on, 28 Ġon, 29 Ġm, 30 Ġmat, 31 ll, 32 ell, 33 Hell, 34 Hello, 35 or, 36 Ġw, 37 Ġwor, 38 Ġworl, 39 Ġworld,
  // and the specials 40 [UNK], 41 [CLS], 42 [SEP], 43 [PAD], 44 [MASK] (at the end, as ModernBERT's 50280..50284).
  // GPT-2's split keeps a word's leading space (Ġ) and splits punctuation off; merges apply in rank order:
  // "cat" -> a t, Ġ c, Ġc at; "Hello" -> l l, e ll, H ell, Hell o; "world" -> o r, Ġ w, Ġw or, Ġwor l, Ġworl d.
  // ModernBERT's template: [CLS] A [SEP] and [CLS] A [SEP] B [SEP].
  const want = [
    [41, 20, 24, 26, 28, 21, 30, 2, 42],
    [41, 34, 1, 39, 0, 42, 20, 24, 3, 42],
    [41, 20, 24, 26, 28, 21, 30, 21, 24, 26, 28, 21, 30, 2, 42],
  ];

  test('ids equal the ones worked out by hand and the model fixture\'s inputs; [PAD] is 43', async () => {
    const base = await loadBase(DIR);
    assert.equal((await loadTokenizer(DIR)).kind, 'hf-bpe');
    const ref = readJson<ModelRef>(join(DIR, 'reference.json'));
    const texts = ref.inputs.texts!.map((t) => (t.length === 1 ? t[0]! : [t[0]!, t[1]!] as [string, string]));
    const b = base.tokenizer.encode(texts, 64);
    const rows = want.map((_, i) => Array.from(b.inputIds.subarray(i * b.seqLen, i * b.seqLen + b.lengths[i]!)));
    assert.deepEqual(rows, want);
    assert.deepEqual(Array.from(b.inputIds), ref.inputs.input_ids.flat());
    assert.deepEqual(Array.from(b.attentionMask), ref.inputs.attention_mask.flat());
    assert.equal(base.tokenizer.padId, 43);
    assert.deepEqual(base.tokenizer.specialIds, { cls: 41, sep: 42, unk: 40 });
    assert.equal(base.encoder.maxLength, 64, 'max_position_embeddings');
  });
});

function batchOf(inp: Inputs): EncodedBatch {
  const B = inp.input_ids.length;
  return {
    batchSize: B, seqLen: inp.input_ids[0]!.length,
    inputIds: Int32Array.from(inp.input_ids.flat()), attentionMask: Int32Array.from(inp.attention_mask.flat()),
    tokenTypeIds: Int32Array.from(inp.input_ids.flat().map(() => 0)),
    lengths: inp.attention_mask.map((r) => r.reduce((a, b) => a + b, 0)), truncated: new Array(B).fill(false),
  };
}

for (const method of ['houlsby', 'lora']) {
  test(`tiny-modernbert + ${method} (head on the pooled output): logits, loss and every gradient match PyTorch`, async () => {
    const dir = join(DIR, 'adapters', method);
    const ref = readJson<MethodRef>(join(dir, 'reference.json'));
    const base = await loadBase(DIR);
    const loaded = await loadSavedTask(base, dir);
    const head = headConfig({ ...loaded.model.head, dropout: 0, pooling: 'encoder' });
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
        const w = r.data[fileIndex(k, t.shape, i)]!;
        assert.ok(close(g[i]!, w, 1e-3, 2e-6), `${key}[${i}]: ${g[i]} vs ${w}`);
      }
    });
    await model.dispose();
  });
}

test('a mixed-task batch (two LoRA tasks and a layer-norm task) gives each example its task\'s scores', async () => {
  const base = await loadBase(DIR);
  const ref = readJson<ModelRef>(join(DIR, 'reference.json'));
  const head = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'] });
  const lora = methodConfig('lora');
  const models = {
    x: TaskModel.create(base, { mode: { kind: 'adapters', adapter: lora }, head, seed: 1 }),
    y: TaskModel.create(base, { mode: { kind: 'adapters', adapter: lora }, head, seed: 2 }),
    z: TaskModel.create(base, { mode: { kind: 'layer-norm' }, head, seed: 3 }),
  };
  const batch = batchOf(ref.inputs);
  // LoRA's B starts at zero and layer norms at their pretrained values: one step each makes the tasks differ
  for (const m of Object.values(models)) await m.trainStep(batch, [2, 0, 1]);
  const alone = new Map<string, Float32Array>();
  for (const [k, m] of Object.entries(models)) alone.set(k, await m.predict(batch));
  const mixed = new MultiTaskModel(base);
  for (const [k, m] of Object.entries(models)) mixed.add(k, m);
  const tasks = ['y', 'z', 'x'];
  const out = await mixed.predict(batch, tasks);
  tasks.forEach((t, i) => assert.ok(maxAbsDiff(out[i]!, Array.from(alone.get(t)!.subarray(i * 3, i * 3 + 3))) <= 1e-5, t));
  await mixed.dispose();
  for (const m of Object.values(models)) await m.dispose();
});

describe('the CLI on a ModernBERT base', () => {
  const dir = tempDir('adapterkit-modernbert-cli-');
  temps.push(dir);
  writeFileSync(join(dir, 'train.csv'), 'sentence,sentiment\nthe cat sat.,pos\nthe mat.,neg\nHello world!,pos\nthe cat?,neg\n');
  const train = (...more: string[]) => cli('train', '--train', join(dir, 'train.csv'), '--text', 'sentence', '--label', 'sentiment', '--base', DIR, '--method', 'lora', '--epochs', '1', '--batch-size', '2', ...more);

  test('--max-length is capped by max_position_embeddings (64 in the fixture), named in the error', async () => {
    const r = await train('--max-length', '65', '--out', join(dir, 'long'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--max-length 65 exceeds the base's limit of 64 tokens/);
  });

  test('train, info, predict and export run', async () => {
    const r = await train('--max-length', '64', '--out', join(dir, 'run'));
    assert.equal(r.code, 0, r.stderr);
    const info = await cli('info', join(dir, 'run', 'best'));
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /modernbert/);
    writeFileSync(join(dir, 'texts.txt'), 'the cat sat\nHello world\n');
    const p = await cli('predict', join(dir, 'run', 'best'), '--input', join(dir, 'texts.txt'));
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout.trim().split('\n').length, 2, p.stdout);
    const ex = await cli('export', join(dir, 'run', 'best'), '--out', join(dir, 'export'));
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(ex.stdout, /ModernBertForSequenceClassification/);
    assert.match(ex.stdout, /inputs:\s+input_ids, attention_mask\n/);
  });
});
