/**
 * The encoder registry and the families beyond BERT's four: XLM-RoBERTa (RoBERTa's graph with a
 * SentencePiece Unigram tokenizer.json) and ALBERT (factorised embeddings, layers shared across
 * depth, adapters per depth). Parity with the independent PyTorch implementation
 * (scripts/fixtures/make_family_fixtures.py, reference_families.py): hidden states and pooled output
 * to 1e-4 from both checkpoint files and key variants; logits, loss and every gradient with a Houlsby
 * adapter and with LoRA; tokenizer ids worked out by hand.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterHubAdapterConfig, adapterHubKeys, headKey } from '../../src/adapters/adapterhub.js';
import { peftAdapterConfig } from '../../src/adapters/peft.js';
import type { FileTensorKey } from '../../src/adapters/method.js';
import { methodConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import { AdapterkitError } from '../../src/errors.js';
import { headConfig } from '../../src/heads/head.js';
import { parseAlbertConfig } from '../../src/models/albert/config.js';
import { AlbertEncoder } from '../../src/models/albert/encoder.js';
import { loadBase } from '../../src/models/base.js';
import { ENCODER_FAMILIES, SUPPORTED_MODEL_TYPES, loadEncoderModel } from '../../src/models/registry.js';
import { loadTokenizer } from '../../src/models/tokenizers/index.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { cli } from '../cli/harness.js';
import { batchOf } from '../adapters/reference.test.js';
import { fakeCommit, startFakeHub, type FakeFile } from '../hub/fake-hub.js';
import { close, fileIndex } from '../util/reference-compare.js';
import { encoderParity, FIX, fixtureCopy, maxAbsDiff, type EncoderRef, type Rec } from './encoder-parity.js';
import { tempDir } from '../temp-dir.js';

const FAMILIES = ['tiny-xlmr', 'tiny-albert'] as const;

type ModelRef = EncoderRef;
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

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

const only = (fixture: string, files: readonly string[]): string => fixtureCopy(fixture, files, temps);
const parity = encoderParity;

describe('the encoder registry', () => {
  test('one entry per model_type; the supported list is derived from it', () => {
    assert.deepEqual([...SUPPORTED_MODEL_TYPES], ['bert', 'roberta', 'xlm-roberta', 'distilbert', 'electra', 'albert', 'deberta-v2', 'mpnet', 'modernbert']);
    assert.deepEqual(ENCODER_FAMILIES.map((f) => f.modelType), [...SUPPORTED_MODEL_TYPES]);
  });

  test('an unsupported model_type is refused, listing every supported type', async () => {
    const dir = only('tiny-albert', ['config.json', 'model.safetensors', 'tokenizer.json']);
    const c = readJson<Record<string, unknown>>(join(dir, 'config.json'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...c, model_type: 'gpt2' }));
    await assert.rejects(loadBase(dir), (e: unknown) => {
      assert.ok(e instanceof AdapterkitError && e.code === 'UNSUPPORTED_MODEL', String(e));
      assert.match(e.message, /model_type "gpt2" is not supported; supported model types: bert, roberta, xlm-roberta, distilbert, electra, albert, deberta-v2, mpnet, modernbert$/);
      return true;
    });
  });
});

for (const name of FAMILIES) {
  describe(`${name}: parity with the PyTorch reference (max abs error <= 1e-4)`, () => {
    const ref = readJson<ModelRef>(join(FIX, name, 'reference.json'));
    const prefix = name === 'tiny-xlmr' ? 'roberta.' : 'albert.';

    test(`model.safetensors with ${prefix}-prefixed keys and pre-training heads`, async () => {
      const r = await parity(join(FIX, name), ref);
      assert.ok(r.hidden <= 1e-4, `hidden ${r.hidden}`);
      assert.ok(r.pooled <= 1e-4, `pooled ${r.pooled}`);
      assert.match(String(r.describe.checkpoint), new RegExp(`^${prefix.replace('.', '\\.')}-prefixed keys in model\\.safetensors; \\d+ unused: `));
    });

    test('pytorch_model.bin with unprefixed keys (the bare model\'s state dict)', async () => {
      const r = await parity(only(name, ['config.json', 'pytorch_model.bin']), ref);
      assert.ok(r.hidden <= 1e-4, `hidden ${r.hidden}`);
      assert.ok(r.pooled <= 1e-4, `pooled ${r.pooled}`);
      assert.match(String(r.describe.checkpoint), /^unprefixed keys in pytorch_model\.bin/);
    });

    test('adapterkit info shows the family, its sharing and the key variant', async () => {
      const r = await cli('info', join(FIX, name), '--json');
      assert.equal(r.code, 0, r.stderr);
      const info = JSON.parse(r.stdout) as { family: string; architecture: Record<string, unknown>; tokenizer: Record<string, unknown> };
      assert.equal(info.family, name === 'tiny-xlmr' ? 'xlm-roberta' : 'albert');
      assert.match(String(info.architecture.checkpoint), /-prefixed keys in model\.safetensors/);
      assert.equal(info.tokenizer.kind, 'hf-unigram');
      const { encoder } = await loadEncoderModel(join(FIX, name));
      assert.equal(encoder.adapterHubModelClass, name === 'tiny-xlmr' ? 'XLMRobertaAdapterModel' : 'AlbertAdapterModel');
      if (name === 'tiny-albert') assert.match(String(info.architecture.sharing), /^4 passes x 2 inner layer\(s\) over 2 group\(s\): 4 distinct layer\(s\), groups by depth 0,0,0,0,1,1,1,1$/);
    });
  });
}

test('the hub path: both families download (tokenizer.json, unprefixed .bin) and load as from their directories', async () => {
  const commit = fakeCommit('families');
  const file = (dir: string, name: string, lfs = false): FakeFile => ({ content: readFileSync(join(FIX, dir, name)), lfs });
  const repo = (dir: string) => ({
    refs: { main: commit },
    commits: { [commit]: { 'config.json': file(dir, 'config.json'), 'pytorch_model.bin': file(dir, 'pytorch_model.bin', true), 'tokenizer.json': file(dir, 'tokenizer.json'), 'tokenizer_config.json': file(dir, 'tokenizer_config.json') } },
  });
  const hub = await startFakeHub({ 'org/tiny-xlmr': repo('tiny-xlmr'), 'org/tiny-albert': repo('tiny-albert') });
  const cacheDir = tempDir('adapterkit-family-cache-');
  temps.push(cacheDir);
  try {
    for (const name of FAMILIES) {
      const fromHub = await loadBase(`org/${name}`, { endpoint: hub.endpoint, cacheDir, token: false, offline: false, timeoutMs: 5000 });
      const fromDir = await loadBase(join(FIX, name));
      assert.equal(fromHub.encoder.family, fromDir.encoder.family);
      assert.deepEqual([...fromHub.weights.keys()], [...fromDir.weights.keys()]);
      for (const [k, t] of fromDir.weights) assert.deepEqual(fromHub.weights.get(k)?.data, t.data, k);
      assert.deepEqual(fromHub.tokenizer.encode(['the cats sat.'], 16).inputIds, fromDir.tokenizer.encode(['the cats sat.'], 16).inputIds);
    }
  } finally {
    await hub.close();
  }
});

describe('SentencePiece (Unigram) tokenizer.json', () => {
  // Vocabulary of tiny-xlmr (id: piece log-probability): 0 <s>, 1 <pad>, 2 </s>, 3 <unk>, 4 ▁ -3.0,
  // 5 ▁the -2.0, 6 ▁cat -3.5, 7 ▁c -4.0, 8 at -3.0, 9 s -2.5, 10 ▁sat -4.0, 11 . -2.0, 12 ▁on -3.0,
  // 13 ▁mat -8.0, 14 ▁m -4.2, 15 ▁hel -5.0, 16 lo -4.0, 17 ▁hello -7.5, 18 ▁world -6.0, 19 , -2.2,
  // 20 ▁wor -5.5, 21 ld -3.2, 22 a -3.3, ... 34 ? -2.6, 35 ! -2.7, 36 ▁is -3.0, 37 ▁it -3.1, 40 <mask>.
  // The Unigram model picks the segmentation with the largest total log-probability:
  // - "▁cats": ▁cat + s = -6.0 beats ▁c + at + s = -9.5;
  // - "▁hello": ▁hello = -7.5 beats ▁hel + lo = -9.0; "▁world": -6.0 beats ▁wor + ld = -8.7;
  // - "▁mat": ▁m + at = -7.2 beats the whole piece ▁mat = -8.0 (so not longest-match-first);
  // - "▁a" is no piece: ▁ + a; "©©" is unknown: one <unk> for the run (fuse_unk), after ▁;
  // - the normalizer folds the double space; XLM-R's template: <s> A </s> and <s> A </s></s> B </s>, all type 0.
  const want = [
    [0, 5, 6, 9, 10, 11, 2],
    [0, 17, 19, 18, 35, 2, 2, 36, 37, 12, 5, 14, 8, 34, 2],
    [0, 4, 22, 6, 4, 3, 10, 2],
  ];

  test('XLM-R ids equal the ones worked out by hand (and the model fixture\'s inputs)', async () => {
    const tok = await loadTokenizer(join(FIX, 'tiny-xlmr'));
    assert.equal(tok.kind, 'hf-unigram');
    const b = tok.encode(['the cats sat.', ['hello, world!', 'is it on the mat?'], 'a cat  ©© sat'], { maxLength: 40 });
    const rows = want.map((_, i) => Array.from(b.inputIds.subarray(i * b.seqLen, i * b.seqLen + b.lengths[i]!)));
    assert.deepEqual(rows, want);
    assert.ok(Array.from(b.tokenTypeIds).every((t) => t === 0));
    assert.equal(b.inputIds[want[0]!.length], 1, 'padded with <pad> = 1');
    assert.deepEqual(tok.tokenize('a cat  ©© sat'), ['▁', 'a', '▁cat', '▁', '©©', '▁sat']);
    const ref = readJson<ModelRef>(join(FIX, 'tiny-xlmr', 'reference.json'));
    assert.deepEqual(ref.inputs.input_ids.map((r, i) => r.slice(0, want[i]!.length)), want);
  });

  test('ALBERT\'s tokenizer ([CLS] A [SEP] B [SEP], types 0/1) gives the model fixture\'s inputs', async () => {
    const base = await loadBase(join(FIX, 'tiny-albert'));
    const ref = readJson<ModelRef>(join(FIX, 'tiny-albert', 'reference.json'));
    const b = base.tokenizer.encode(ref.inputs.texts.map((t) => (t.length === 1 ? t[0]! : [t[0]!, t[1]!] as const)), 40);
    assert.deepEqual(Array.from(b.inputIds), ref.inputs.input_ids.flat());
    assert.deepEqual(Array.from(b.tokenTypeIds), ref.inputs.token_type_ids!.flat());
    assert.deepEqual(base.tokenizer.specialIds, { cls: 2, sep: 3, unk: 1 });
    assert.equal(base.tokenizer.splitsPunctuation, false);
  });
});

describe('ALBERT hook sites: per depth over shared weights', () => {
  test('8 depths over 4 distinct layers: each depth its own sites and adapter keys, weights shared', async () => {
    const { encoder: enc } = await loadEncoderModel(join(FIX, 'tiny-albert'));
    assert.equal(enc.numLayers, 8);
    assert.equal(enc.sites.sublayers.length, 16);
    assert.equal(new Set(enc.sites.sublayers.map((s) => s.module)).size, 16, 'one adapter module per depth');
    // depth 1 runs group 0's inner layer 1; depth 5 (pass 2) group 1's inner layer 1
    assert.equal(enc.sites.linear(1, 'query').weight, 'encoder.albert_layer_groups.0.albert_layers.1.attention.query.weight');
    assert.equal(enc.sites.linear(3, 'query').weight, enc.sites.linear(1, 'query').weight);
    assert.equal(enc.sites.linear(5, 'output').weight, 'encoder.albert_layer_groups.1.albert_layers.1.ffn_output.weight');
    assert.equal(enc.sites.sublayer(3, 'ffn').module, 'encoder.albert_layer_groups.0.albert_layers.1.output_adapters.depth.3');
    assert.equal(enc.sites.linear(3, 'query').module, 'encoder.albert_layer_groups.0.albert_layers.1.attention.query.depth.3');
    assert.equal(enc.weightSpecs.filter((s) => s.name.endsWith('attention.query.weight')).length, 4);
    // the depths that run the same layer say so (group 0's inner layer 1 runs at depths 1 and 3)
    assert.deepEqual(enc.sites.sublayer(3, 'ffn').sharedWith, [1]);
    assert.deepEqual(enc.sites.linear(5, 'key').sharedWith, [7]);
    assert.equal(enc.adapterHubModelClass, 'AlbertAdapterModel');
    // a shared layer's weights count for the last depth that runs it (top-k trains what the top depths use)
    assert.equal(enc.weightSpecs.find((s) => s.name === 'encoder.albert_layer_groups.1.albert_layers.1.ffn.weight')?.layer, 7);
    // AdapterHub and PEFT keep one adapter per shared layer: per-depth adapters are not offered to them
    const why = /the albert base runs shared layers at several depths; adapterkit keeps one adapter per depth, AdapterHub and PEFT one per shared layer/;
    const hub = adapterHubAdapterConfig(methodConfig('houlsby'), enc, 'a');
    assert.ok('unsupported' in hub && why.test(hub.unsupported), JSON.stringify(hub));
    const peft = peftAdapterConfig(methodConfig('lora', { r: 2 }), enc, headConfig({ kind: 'classification', labels: ['a', 'b'] }), 'tiny-albert');
    assert.ok('unsupported' in peft && why.test(peft.unsupported), JSON.stringify(peft));
    const xlmr = (await loadEncoderModel(join(FIX, 'tiny-xlmr'))).encoder;
    const cfg = adapterHubAdapterConfig(methodConfig('houlsby'), xlmr, 'a');
    assert.ok('json' in cfg && cfg.json['model_class'] === 'XLMRobertaAdapterModel', JSON.stringify(cfg));
  });

  test('without sharing (G = L, K = 1) the adapter modules are AdapterHub\'s own paths', () => {
    const c = parseAlbertConfig({ model_type: 'albert', vocab_size: 10, embedding_size: 4, hidden_size: 8, num_hidden_layers: 2, num_hidden_groups: 2, num_attention_heads: 2, intermediate_size: 6 });
    const enc = new AlbertEncoder(c, true);
    assert.deepEqual(enc.sites.sublayers.map((s) => s.module), [
      'encoder.albert_layer_groups.0.albert_layers.0.attention.attention_adapters', 'encoder.albert_layer_groups.0.albert_layers.0.output_adapters',
      'encoder.albert_layer_groups.1.albert_layers.0.attention.attention_adapters', 'encoder.albert_layer_groups.1.albert_layers.0.output_adapters',
    ]);
    assert.equal(enc.sites.linear(1, 'intermediate').module, 'encoder.albert_layer_groups.1.albert_layers.0.ffn');
    assert.ok(enc.sites.sublayers.every((s) => s.sharedWith === undefined));
  });

  test('configs that cannot run are refused by name', () => {
    const base = { model_type: 'albert', vocab_size: 10, embedding_size: 4, hidden_size: 8, num_attention_heads: 2, intermediate_size: 6 };
    assert.throws(() => parseAlbertConfig({ ...base, num_hidden_layers: 2, num_hidden_groups: 3 }), /num_hidden_groups 3 is more than num_hidden_layers 2/);
    assert.throws(() => parseAlbertConfig({ ...base, num_hidden_layers: 2, inner_group_num: 0 }), /innerGroupNum must be a positive integer, got 0/);
    assert.throws(() => parseAlbertConfig({ ...base, num_hidden_layers: 600, inner_group_num: 2 }), /num_hidden_layers x inner_group_num 1200 is larger than adapterkit supports/);
  });
});

for (const name of FAMILIES) {
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
