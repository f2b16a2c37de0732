/**
 * DeBERTa-v2 / v3 (model_type deberta-v2): disentangled attention with c2p and p2c terms over
 * (log-bucketed) relative positions. Parity with the independent PyTorch implementation
 * (scripts/fixtures/make_deberta_fixtures.py, reference_deberta.py) on two tiny checkpoints:
 * tiny-deberta-v3 (relative positions only, shared position projections, 8 log buckets, inputs
 * longer than the bucket range) and tiny-deberta-v2 (absolute positions too, embed_proj, separate
 * pos_key_proj / pos_query_proj, no buckets, token types, the convolution after layer 0, a ContextPooler). Hidden states and pooled
 * output to 1e-4 from both checkpoint files and key variants; logits, loss and every gradient with a
 * Houlsby adapter and with LoRA; the relative-position tables against torch; tokenizer ids by hand.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterHubKeys, headKey } from '../../src/adapters/adapterhub.js';
import { peftAdapterConfig, peftKeys } from '../../src/adapters/peft.js';
import { parseComposition } from '../../src/adapters/composition.js';
import type { FileTensorKey } from '../../src/adapters/method.js';
import { methodConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { parseDebertaV2Config } from '../../src/models/deberta-v2/config.js';
import { relativeBucket, relativeIndexTables } from '../../src/models/deberta-v2/relative-positions.js';
import { SUPPORTED_MODEL_TYPES, loadEncoderModel } from '../../src/models/registry.js';
import { loadTokenizer } from '../../src/models/tokenizers/index.js';
import { debertaV2TokenizerJson, parseSentencePieceModel } from '../../src/models/tokenizers/sentencepiece-model.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { MultiTaskModel } from '../../src/train/multi-task-model.js';
import { TaskModel } from '../../src/train/task-model.js';
import { cli } from '../cli/harness.js';
import { batchOf } from '../adapters/reference.test.js';
import { fakeCommit, startFakeHub, type FakeFile } from '../hub/fake-hub.js';
import { close, fileIndex } from '../util/reference-compare.js';
import { encoderParity, FIX, fixtureCopy, maxAbsDiff, type EncoderRef, type Rec } from './encoder-parity.js';
import { tempDir } from '../temp-dir.js';

const MODELS = ['tiny-deberta-v3', 'tiny-deberta-v2'] as const;

interface ModelRef extends EncoderRef {
  c2p_rows: number[][];
  p2c_rows: number[][];
}
interface MethodRef {
  inputs: ModelRef['inputs'];
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

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

const only = (fixture: string, files: readonly string[]): string => fixtureCopy(fixture, files, temps);
const parity = encoderParity;

test('the registry lists deberta-v2', () => {
  assert.ok(SUPPORTED_MODEL_TYPES.includes('deberta-v2'));
});

for (const name of MODELS) {
  describe(`${name}: parity with the PyTorch reference (max abs error <= 1e-4)`, () => {
    const ref = readJson<ModelRef>(join(FIX, name, 'reference.json'));

    test('model.safetensors with deberta.-prefixed keys and the task model\'s own modules', async () => {
      const r = await parity(join(FIX, name), ref);
      assert.ok(r.hidden <= 1e-4, `hidden ${r.hidden}`);
      assert.ok(r.pooled <= 1e-4, `pooled ${r.pooled}`);
      if (name === 'tiny-deberta-v3') {
        assert.equal(r.describe.checkpoint, 'deberta.-prefixed keys in model.safetensors; 5 unused: lm_predictions.lm_head');
        assert.equal(r.describe.pooler, false);
      } else {
        // DebertaV2ForSequenceClassification keeps its ContextPooler outside `deberta.`
        assert.equal(r.describe.checkpoint, 'mixed (some deberta.-prefixed) keys in model.safetensors; 2 unused: classifier.bias, classifier.weight');
        assert.equal(r.describe.pooler, true);
      }
    });

    test('pytorch_model.bin with unprefixed keys (the bare model\'s state dict and its position_ids buffer)', async () => {
      const r = await parity(only(name, ['config.json', 'pytorch_model.bin']), ref);
      assert.ok(r.hidden <= 1e-4, `hidden ${r.hidden}`);
      assert.ok(r.pooled <= 1e-4, `pooled ${r.pooled}`);
      assert.equal(r.describe.checkpoint, 'unprefixed keys in pytorch_model.bin; 1 unused: embeddings.position_ids');
    });

    test('the relative-position index tables are the reference\'s for this input length', () => {
      const c = parseDebertaV2Config(readJson(join(FIX, name, 'config.json')));
      const t = relativeIndexTables(c);
      const T = ref.inputs.input_ids[0]!.length;
      const at = (table: readonly number[], i: number, j: number) => table[i - j + t.length - 1];
      const c2p = ref.c2p_rows.map((row, i) => row.map((_, j) => at(t.c2p, i, j)));
      // p2c of (query i, key j) reads the table of key a = j, query b = i
      const p2c = ref.p2c_rows.map((row, i) => row.map((_, j) => at(t.p2c, j, i)));
      assert.equal(ref.c2p_rows.length, T);
      assert.deepEqual(c2p, ref.c2p_rows);
      assert.deepEqual(p2c, ref.p2c_rows);
      // the inputs reach the clamp at both ends (rows 0 and 2k - 1)
      assert.deepEqual([Math.min(...c2p.flat()), Math.max(...c2p.flat())], [0, 2 * c.attentionSpan - 1]);
    });

    test('adapterkit info shows the family, its relative attention and the key variant', async () => {
      const r = await cli('info', join(FIX, name), '--json');
      assert.equal(r.code, 0, r.stderr);
      const info = JSON.parse(r.stdout) as { family: string; architecture: Record<string, unknown>; tokenizer: Record<string, unknown> };
      assert.equal(info.family, 'deberta-v2');
      assert.equal(info.tokenizer.kind, 'hf-unigram');
      assert.equal(info.architecture.relativeAttention, name === 'tiny-deberta-v3'
        ? 'p2c+c2p, span 8 (8 log buckets up to 8), shared position projections, layer-normed relative embeddings'
        : 'c2p+p2c, span 6, separate position projections');
      assert.equal(info.architecture.positions, name === 'tiny-deberta-v3' ? 'relative only' : 'absolute + relative');
      assert.equal(info.architecture.convolution, name === 'tiny-deberta-v3' ? undefined : 'kernel 3, gelu, after layer 0');
    });
  });
}

test('the log buckets of DeBERTa-v3-base (256 buckets up to 512) equal torch float32 for every distance', () => {
  const ref = readJson<{ deltas_from: number; c2p_rows: number[] }>(join(FIX, 'deberta-v3-base-buckets.json'));
  const got = ref.c2p_rows.map((_, i) => Math.min(Math.max(relativeBucket(ref.deltas_from + i, 256, 512) + 256, 0), 511));
  assert.deepEqual(got, ref.c2p_rows);
  // hand-checked points: exact up to mid = 128, then ceil(ln(d / 128) / ln(511 / 128) * 127) + 128
  assert.deepEqual([relativeBucket(128, 256, 512), relativeBucket(129, 256, 512), relativeBucket(-511, 256, 512), relativeBucket(3, 256, 512)], [128, 129, -255, 3]);
});

test('the hub path: the v3 fixture downloads (spm.model, unprefixed .bin) and loads as from its directory (whose tokenizer is tokenizer.json)', async () => {
  const commit = fakeCommit('deberta');
  const file = (name: string, lfs = false): FakeFile => ({ content: readFileSync(join(FIX, 'tiny-deberta-v3', name)), lfs });
  const hub = await startFakeHub({
    'org/tiny-deberta-v3': {
      refs: { main: commit },
      // as microsoft/deberta-v3-base: spm.model and no tokenizer.json
      commits: { [commit]: { 'config.json': file('config.json'), 'pytorch_model.bin': file('pytorch_model.bin', true), 'spm.model': file('spm.model', true), 'tokenizer_config.json': file('tokenizer_config.json') } },
    },
  });
  const cacheDir = tempDir('adapterkit-deberta-cache-');
  temps.push(cacheDir);
  try {
    const fromHub = await loadBase('org/tiny-deberta-v3', { endpoint: hub.endpoint, cacheDir, token: false, offline: false, timeoutMs: 5000 });
    const fromDir = await loadBase(join(FIX, 'tiny-deberta-v3'));
    assert.equal(fromHub.encoder.family, 'deberta-v2');
    assert.deepEqual([...fromHub.weights.keys()], [...fromDir.weights.keys()]);
    for (const [k, t] of fromDir.weights) assert.deepEqual(fromHub.weights.get(k)?.data, t.data, k);
    const texts = ['the cats sat.', 'hello, world!', '  a cat  ©© sat ', 'is it on the mat?'];
    assert.deepEqual(fromHub.tokenizer.encode(texts, 16).inputIds, fromDir.tokenizer.encode(texts, 16).inputIds);
    assert.match(String(fromHub.tokenizer.summary().source), /spm\.model$/);
  } finally {
    await hub.close();
  }
});

describe('DeBERTa-v3\'s SentencePiece tokenizer.json (Unigram, Metaspace, [CLS] A [SEP] B [SEP])', () => {
  // The vocabulary is tiny-xlmr's pieces after DeBERTa-v3's specials 0 [PAD], 1 [CLS], 2 [SEP], 3 [UNK]
  // (so a piece's id is xlm-r's), [MASK] last: 5 ▁the, 6 ▁cat, 9 s, 10 ▁sat, 11 ., 12 ▁on, 14 ▁m, 8 at,
  // 17 ▁hello, 18 ▁world, 19 ",", 22 a, 4 ▁, 34 ?, 35 !, 36 ▁is, 37 ▁it. Segmentations by best total
  // log-probability as worked out in families.test.ts; "©©" is one [UNK] (fuse_unk); the pair's second
  // segment and its [SEP] have type 1.
  const want = [
    [1, 5, 6, 9, 10, 11, 2],
    [1, 17, 19, 18, 35, 2, 36, 37, 12, 5, 14, 8, 34, 2],
    [1, 4, 22, 6, 4, 3, 10, 2],
  ];

  test('ids and types equal the ones worked out by hand and the model fixtures\' inputs', async () => {
    const tok = await loadTokenizer(join(FIX, 'tiny-deberta-v3'));
    assert.equal(tok.kind, 'hf-unigram');
    const b = tok.encode(['the cats sat.', ['hello, world!', 'is it on the mat?'], '  a cat  ©© sat '], { maxLength: 24 });
    const rows = want.map((_, i) => Array.from(b.inputIds.subarray(i * b.seqLen, i * b.seqLen + b.lengths[i]!)));
    assert.deepEqual(rows, want);
    assert.deepEqual(Array.from(b.tokenTypeIds.subarray(b.seqLen, 2 * b.seqLen)), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert.equal(b.inputIds[want[0]!.length], 0, 'padded with [PAD] = 0');
    for (const name of MODELS) {
      const ref = readJson<ModelRef>(join(FIX, name, 'reference.json'));
      assert.deepEqual(ref.inputs.input_ids.map((r, i) => r.slice(0, want[i]!.length)), want);
    }
    const base = await loadBase(join(FIX, 'tiny-deberta-v3'));
    assert.deepEqual(base.tokenizer.specialIds, { cls: 1, sep: 2, unk: 3 });
  });

  test('spm.model alone (as DeBERTa\'s hub repositories ship it) gives the same ids, which are real SentencePiece\'s', async () => {
    // make_deberta_fixtures.py checks with SentencePiece 0.1.97 that it segments these texts into `want`
    const dir = only('tiny-deberta-v3', ['spm.model', 'tokenizer_config.json']);
    const tok = await loadTokenizer(dir);
    assert.equal(tok.kind, 'hf-unigram');
    assert.equal(tok.summary().source, join(dir, 'spm.model'));
    const b = tok.encode(['the cats sat.', ['hello, world!', 'is it on the mat?'], '  a cat  ©© sat '], { maxLength: 24 });
    assert.deepEqual(want.map((_, i) => Array.from(b.inputIds.subarray(i * b.seqLen, i * b.seqLen + b.lengths[i]!))), want);
    assert.deepEqual(Array.from(b.tokenTypeIds.subarray(b.seqLen, 2 * b.seqLen)), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(tok.specialTokens, { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', unk: '[UNK]', mask: '[MASK]', bos: '[CLS]', eos: '[SEP]' });
    assert.equal(tok.vocabSize, 41, '[MASK] added after the 40 pieces');
    // do_lower_case and split_by_punct as DebertaV2Tokenizer reads them
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, split_by_punct: true }));
    const lower = await loadTokenizer(dir);
    assert.deepEqual(lower.tokenize('The CATS sat.'), ['\u2581the', '\u2581cat', 's', '\u2581sat', '\u2581', '.']);
  });

  test('a SentencePiece model that is cut short or not DeBERTa\'s is refused by name', async () => {
    const bytes = readFileSync(join(FIX, 'tiny-deberta-v3', 'spm.model'));
    const dir = only('tiny-deberta-v3', ['tokenizer_config.json']);
    writeFileSync(join(dir, 'spm.model'), bytes.subarray(0, 100));
    await assert.rejects(loadTokenizer(dir), /spm\.model: truncated SentencePiece model/);
    assert.throws(() => debertaV2TokenizerJson({ ...parseSentencePieceModel(new Uint8Array(bytes), 'x'), pieces: [{ piece: '<unk>', score: 0, type: 'unknown' }] }, { dir, config: {}, specialTokensMap: {} }, 'x'), /x: no \[CLS\] piece: not a DeBERTa-v2 SentencePiece model/);
    assert.throws(() => debertaV2TokenizerJson({ ...parseSentencePieceModel(new Uint8Array(bytes), 'x'), modelType: 2 }, { dir, config: {}, specialTokensMap: {} }, 'x'), /SentencePiece model_type 2 is not supported; only unigram \(1\)/);
  });
});

describe('DeBERTa-v2 hook sites and configs', () => {
  test('sites and AdapterHub keys follow transformers\' module paths', async () => {
    const { encoder: enc } = await loadEncoderModel(join(FIX, 'tiny-deberta-v3'));
    assert.equal(enc.adapterHubModelClass, 'DebertaV2AdapterModel');
    assert.equal(enc.sites.linear(1, 'query').module, 'encoder.layer.1.attention.self.query_proj');
    assert.equal(enc.sites.linear(0, 'value').weight, 'encoder.layer.0.attention.self.value_proj.weight');
    assert.equal(enc.sites.linear(0, 'attention_output').module, 'encoder.layer.0.attention.output.dense');
    assert.equal(enc.sites.sublayer(0, 'attention').module, 'encoder.layer.0.attention.output');
    assert.equal(enc.sites.sublayer(1, 'ffn').normPrefix, 'encoder.layer.1.output.LayerNorm');
    const lora = adapterHubKeys(methodConfig('lora', { r: 4 }), enc, 'a', 'a');
    assert.ok(lora.some((k) => k.key === 'deberta.encoder.layer.0.attention.self.value_proj.loras.a.lora_A'), JSON.stringify(lora.slice(0, 3)));
    // PEFT: module-path keys; sequence classification is PEFT's SEQ_CLS only over a ContextPooler (v3's base has none)
    const c = methodConfig('lora', { r: 2, attn_matrices: ['q', 'k', 'v'] });
    const cls = headConfig({ kind: 'classification', labels: ['a', 'b'] });
    const peft = peftAdapterConfig(c, enc, cls, 'tiny-deberta-v3');
    assert.ok('json' in peft && JSON.stringify(peft.json['target_modules']) === '["key_proj","query_proj","value_proj"]' && peft.json['task_type'] === 'FEATURE_EXTRACTION', JSON.stringify(peft));
    assert.equal(peftKeys(c, enc, 'x')[0]?.key, 'base_model.model.deberta.encoder.layer.0.attention.self.query_proj.lora_A.weight');
    const v2 = (await loadEncoderModel(join(FIX, 'tiny-deberta-v2'))).encoder;
    const peft2 = peftAdapterConfig(c, v2, cls, 'tiny-deberta-v2');
    assert.ok('json' in peft2 && peft2.json['task_type'] === 'SEQ_CLS' && JSON.stringify(peft2.json['modules_to_save']) === '["classifier","score"]', JSON.stringify(peft2));
    assert.ok(v2.weightSpecs.some((s) => s.name === 'encoder.layer.1.attention.self.pos_query_proj.weight' && s.layer === 1));
    assert.ok(v2.weightSpecs.some((s) => s.name === 'embeddings.embed_proj.weight' && s.shape.join('x') === '16x32'));
  });

  test('configs that adapterkit does not run are refused by field', () => {
    const base = { model_type: 'deberta-v2', vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 6, relative_attention: true, position_buckets: 4, max_relative_positions: 8 };
    assert.ok(parseDebertaV2Config(base));
    assert.equal(parseDebertaV2Config({ ...base, conv_kernel_size: 3 }).convKernelSize, 3);
    assert.throws(() => parseDebertaV2Config({ ...base, conv_kernel_size: 4 }), /conv_kernel_size 4 is not supported; only odd kernel sizes .*, or 0 for none/);
    assert.throws(() => parseDebertaV2Config({ ...base, conv_kernel_size: 3, conv_groups: 2 }), /conv_groups 2 is not supported; only 1/);
    assert.throws(() => parseDebertaV2Config({ ...base, conv_kernel_size: 3, conv_act: 'mish' }), /conv_act "mish" is not supported/);
    assert.throws(() => parseDebertaV2Config({ ...base, pos_att_type: ['c2p', 'p2p'] }), /pos_att_type "p2p" is not supported \(supported: c2p, p2c\)/);
    assert.throws(() => parseDebertaV2Config({ ...base, attention_head_size: 3 }), /attention_head_size 3 is not supported; only hidden_size \/ num_attention_heads \(4\)/);
    assert.throws(() => parseDebertaV2Config({ ...base, norm_rel_ebd: 'batch_norm' }), /norm_rel_ebd "batch_norm" is not supported/);
    assert.throws(() => parseDebertaV2Config({ ...base, max_relative_positions: 3 }), /max_relative_positions 3 must be larger than position_buckets \/ 2 \+ 1 \(3\)/);
    assert.throws(() => parseDebertaV2Config({ ...base, share_att_key: 'yes' }), /"share_att_key" must be true or false, got "yes"/);
    assert.deepEqual(parseDebertaV2Config({ ...base, pos_att_type: 'P2C | c2p' }).positionTerms, ['p2c', 'c2p']);
    assert.equal(parseDebertaV2Config({ ...base, position_buckets: -1, max_relative_positions: -1, max_position_embeddings: 30 }).attentionSpan, 30);
  });
});

for (const name of MODELS) {
  for (const method of ['houlsby', 'lora']) {
    test(`${name} + ${method} (AdapterHub files): logits, loss and every gradient match PyTorch`, async () => {
      const dir = join(FIX, name, 'adapters', method);
      const ref = readJson<MethodRef>(join(dir, 'reference.json'));
      const base = await loadBase(join(FIX, name));
      const loaded = await loadSavedTask(base, dir);
      const model = TaskModel.create(base, { mode: loaded.model.mode, head: headConfig({ ...loaded.model.head, dropout: 0 }), seed: 1, dropout: 0, weights: loaded.model.owned });
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
      const inputs = { ...ref.inputs, token_type_ids: ref.inputs.token_type_ids ?? ref.inputs.input_ids.map((r) => r.map(() => 0)) };
      const out = await model.trainStep(batchOf(inputs), ref.labels);
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
      await model.dispose();
    });
  }
}

test('shared position projections with LoRA on query/key: BatchSplit and Parallel give each example its own adapter\'s output', async () => {
  const base = await loadBase(join(FIX, 'tiny-deberta-v3'));
  const batch = base.tokenizer.encode(['the cats sat.', ['hello, world!', 'is it on the mat?'], 'a cat sat'], 24);
  const head = headConfig({ kind: 'classification', labels: ['a', 'b', 'c'] });
  const lora = (r: number) => methodConfig('lora', { r, attn_matrices: ['q', 'k', 'v'], init_weights: 'bert' });
  const adapters = [{ name: 'a', config: lora(2) }, { name: 'b', config: lora(3) }];
  const predict = async (active: Parameters<typeof parseComposition>[0]) => {
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapters, active: parseComposition(active) }, head, seed: 5 });
    const out = Array.from(await m.predict(batch));
    await m.dispose();
    return out;
  };
  const [a, b] = [await predict('a'), await predict('b')];
  assert.ok(maxAbsDiff(a, b) > 1e-3, 'the two adapters differ');
  const split = await predict('BatchSplit(a, b, batch_sizes=[1, 2])');
  assert.ok(maxAbsDiff(split, [...a.slice(0, 3), ...b.slice(3)]) <= 1e-5, `BatchSplit ${JSON.stringify(split)}`);
  const parallel = await predict('Parallel(a, b)');
  assert.ok(maxAbsDiff(parallel, [...a, ...b]) <= 1e-5, `Parallel ${JSON.stringify(parallel)}`);
});

test('training with dropout on (hidden, attention and relative-embedding dropout) runs and leaves inference deterministic', async () => {
  for (const name of MODELS) {
    const base = await loadBase(join(FIX, name));
    const batch = base.tokenizer.encode(['the cats sat.', ['hello, world!', 'is it on the mat?']], 24);
    const m = TaskModel.create(base, { mode: { kind: 'adapters', adapter: methodConfig('lora', { r: 2, attn_matrices: ['q', 'k', 'v'] }) }, head: headConfig({ kind: 'classification', labels: ['a', 'b'] }), seed: 3, dropout: 0.1 });
    const before = Array.from(await m.predict(batch));
    const s1 = await m.trainStep(batch, [0, 1]);
    const s2 = await m.trainStep(batch, [0, 1]);
    assert.ok(Number.isFinite(s1.loss) && Number.isFinite(s2.loss), `${name}: losses ${s1.loss}, ${s2.loss}`);
    assert.ok(s1.grads.every((g) => g.every(Number.isFinite)), `${name}: finite gradients`);
    assert.notEqual(s1.loss, s2.loss, `${name}: dropout draws new masks each step (trainStep computes gradients only)`);
    assert.deepEqual(Array.from(await m.predict(batch)), before, `${name}: inference has no dropout`);
    await m.dispose();
  }
});

test('mixed-task batches: LoRA and IA³ tasks on the shared position projections give each example its task\'s output', async () => {
  const base = await loadBase(join(FIX, 'tiny-deberta-v3'));
  const head = headConfig({ kind: 'classification', labels: ['x', 'y'] });
  const make = (adapter: MethodConfig, seed: number) => TaskModel.create(base, { mode: { kind: 'adapters', adapter }, head, seed });
  const tasks = { a: make(methodConfig('lora', { r: 2, attn_matrices: ['q', 'k', 'v'], init_weights: 'bert' }), 1), b: make(methodConfig('lora', { r: 3, attn_matrices: ['q', 'k'], init_weights: 'bert' }), 2), c: make(methodConfig('ia3'), 3) };
  for (const t of tasks.c.trainable) t.data.forEach((v, i) => { t.data[i] = v + 0.3 * Math.sin(i + 1); });
  const multi = new MultiTaskModel(base);
  for (const [name, m] of Object.entries(tasks)) multi.add(name, m);
  const texts = ['the cats sat.', 'hello, world!', 'is it on the mat?', 'a cat sat', 'the mat'];
  const which = ['a', 'b', 'c', 'b', 'a'] as const;
  const mixed = await multi.predict(multi.encode(texts, 24), [...which]);
  for (const [i, name] of which.entries()) {
    const solo = await tasks[name].predict(base.tokenizer.encode([texts[i]!], 24));
    assert.ok(maxAbsDiff(mixed[i]!, Array.from(solo)) < 1e-4, `row ${i} (task ${name}): ${JSON.stringify(mixed[i])} vs ${JSON.stringify(Array.from(solo))}`);
  }
  await multi.dispose();
  for (const m of Object.values(tasks)) await m.dispose();
});

test('full fine-tuning: gradients of the convolution, relative embeddings and position projections match central differences', async () => {
  const base = await loadBase(join(FIX, 'tiny-deberta-v2'));
  const batch = base.tokenizer.encode(['the cats sat.', ['hello, world!', 'is it on the mat?'], 'a cat sat'], 24);
  const labels = [0, 1, 1];
  const m = TaskModel.create(base, { mode: { kind: 'full' }, head: headConfig({ kind: 'classification', labels: ['a', 'b'], dropout: 0 }), seed: 3, dropout: 0 });
  const { grads } = await m.trainStep(batch, labels);
  const names = ['encoder.conv.conv.weight', 'encoder.conv.LayerNorm.weight', 'encoder.rel_embeddings.weight', 'encoder.layer.1.attention.self.pos_key_proj.weight', 'encoder.layer.0.attention.self.pos_query_proj.bias', 'embeddings.embed_proj.weight'];
  for (const name of names) {
    const j = m.trainable.findIndex((t) => t.name.endsWith(name));
    assert.ok(j >= 0, `${name} is trainable`);
    const t = m.trainable[j]!;
    const g = grads[j]!;
    // the entry with the largest gradient, and one other
    const big = g.reduce((best, v, i) => (Math.abs(v) > Math.abs(g[best]!) ? i : best), 0);
    for (const i of [big, Math.floor(g.length / 3)]) {
      const keep = t.data[i]!;
      const eps = 1e-2;
      t.data[i] = keep + eps;
      const up = (await m.trainStep(batch, labels)).loss;
      t.data[i] = keep - eps;
      const down = (await m.trainStep(batch, labels)).loss;
      t.data[i] = keep;
      const fd = (up - down) / (2 * eps);
      assert.ok(close(g[i]!, fd, 0.05, 2e-4), `${name}[${i}]: gradient ${g[i]} vs central difference ${fd}`);
    }
  }
  await m.dispose();
});
