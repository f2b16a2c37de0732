/**
 * Our PEFT files (`peft/` in a task directory) are what PEFT writes and loads. For LoRA on several
 * target sets (with and without leave_out) and IA³ in both placements, a perturbed adapter with a
 * 1-layer classification head on the tiny BERT is saved with saveTask, then:
 * - adapter_model.safetensors has PEFT's key names and shapes (the conventions of the fixtures
 *   test/fixtures/methods/lora-peft and ia3-peft, written as PEFT's get_peft_model_state_dict does);
 * - adapter_config.json has every field the fixtures' (made by PEFT's own config classes) have, with
 *   the same values where the adapter is the same; the ia3-peft preset's file is the fixture's text;
 * - target_modules (and IA³'s feedforward_modules) select exactly the intended modules of a
 *   BertForSequenceClassification under PEFT's matching rule, evaluated by Python's `re`;
 * - loading `peft/` back gives the same config and the same predictions;
 * - with a PEFT source tree (ADAPTERKIT_PEFT_DIR, default /tmp/ref/huggingface+peft), PEFT's own
 *   LoraConfig / IA3Config accept each file and write it back to the same text.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { methodConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import { readSafetensorsHeader, readWeights } from '../../src/models/weights/index.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { METHOD_FIXTURES, maxAbsDiff, peftDir, peftMissing, pythonMissing, runPython, savedAdapter, tempDir, tinyBase, tinyBatch } from './helpers.js';

/** Module names of BertForSequenceClassification on the tiny BERT (2 layers): what PEFT's model.named_modules() lists. */
function bertModules(layers: number): string[] {
  const perLayer = [
    '', '.attention', '.attention.self', '.attention.self.query', '.attention.self.key', '.attention.self.value', '.attention.self.dropout',
    '.attention.output', '.attention.output.dense', '.attention.output.LayerNorm', '.attention.output.dropout', '.intermediate', '.intermediate.dense',
    '.intermediate.intermediate_act_fn', '.output', '.output.dense', '.output.LayerNorm', '.output.dropout',
  ];
  return [
    '', 'bert', 'bert.embeddings', 'bert.embeddings.word_embeddings', 'bert.embeddings.position_embeddings', 'bert.embeddings.token_type_embeddings',
    'bert.embeddings.LayerNorm', 'bert.embeddings.dropout', 'bert.encoder', 'bert.encoder.layer',
    ...Array.from({ length: layers }, (_, l) => perLayer.map((p) => `bert.encoder.layer.${l}${p}`)).flat(),
    'bert.pooler', 'bert.pooler.dense', 'bert.pooler.activation', 'dropout', 'classifier',
  ];
}

/** [out, in] of each projection of the tiny BERT (hidden 32, intermediate 37), by module-name suffix. */
const OUT_IN: Readonly<Record<string, [number, number]>> = {
  'attention.self.query': [32, 32], 'attention.self.key': [32, 32], 'attention.self.value': [32, 32], 'attention.output.dense': [32, 32],
  'intermediate.dense': [37, 32], 'output.dense': [32, 37],
};
const outIn = (module: string): [number, number] => OUT_IN[module.replace(/^bert\.encoder\.layer\.\d+\./, '')] as [number, number];

/** `suffixes` in each of `layers`. */
function modules(layers: readonly number[], suffixes: readonly string[]): string[] {
  return layers.flatMap((l) => suffixes.map((s) => `bert.encoder.layer.${l}.${s}`));
}

interface Case {
  readonly name: string;
  readonly config: () => MethodConfig;
  /** The modules the adapter must go into, as PEFT names them. */
  readonly targets: readonly string[];
  /** IA³: the targets scaled at their input (feedforward_modules). */
  readonly feedforward?: readonly string[];
  /** A fixture holding this very adapter: its key names and shapes (and for IA³ its config text) must be ours. */
  readonly same?: 'lora-peft' | 'ia3-peft';
}

const QV = ['attention.self.query', 'attention.self.value'];
const FIXTURE_LORA = [...QV, 'attention.output.dense', 'intermediate.dense', 'output.dense'];
const CASES: readonly Case[] = [
  { name: 'lora preset (query, value)', config: () => methodConfig('lora'), targets: modules([0, 1], QV) },
  {
    name: 'lora r 4 on query, value, attention output, intermediate, output',
    config: () => methodConfig('lora', { r: 4, alpha: 8, attentionOutputLora: true, intermediate_lora: true, output_lora: true }),
    targets: modules([0, 1], FIXTURE_LORA), same: 'lora-peft',
  },
  {
    name: 'lora r 2, alpha 3 on query, key, value, output; layer 1 left out',
    config: () => methodConfig('lora', { r: 2, alpha: 3, attn_matrices: ['q', 'k', 'v'], output_lora: true, leave_out: [1] }),
    targets: modules([0], ['attention.self.query', 'attention.self.key', 'attention.self.value', 'output.dense']),
  },
  {
    name: 'lora on intermediate only; layer 0 left out',
    config: () => methodConfig('lora', { selfattn_lora: false, intermediate_lora: true, leave_out: [0] }), targets: modules([1], ['intermediate.dense']),
  },
  {
    name: 'ia3-peft preset', config: () => methodConfig('ia3-peft'), same: 'ia3-peft',
    targets: modules([0, 1], ['attention.self.key', 'attention.self.value', 'attention.output.dense', 'output.dense']),
    feedforward: modules([0, 1], ['attention.output.dense', 'output.dense']),
  },
  {
    name: 'ia3-peft; layer 1 left out', config: () => methodConfig('ia3-peft', { leave_out: [1] }),
    targets: modules([0], ['attention.self.key', 'attention.self.value', 'attention.output.dense', 'output.dense']),
    feedforward: modules([0], ['attention.output.dense', 'output.dense']),
  },
  {
    name: 'ia3-peft with only output.dense at its input', config: () => methodConfig('ia3-peft', { feedforward: ['output'] }),
    targets: modules([0, 1], ['attention.self.key', 'attention.self.value', 'output.dense']), feedforward: modules([0, 1], ['output.dense']),
  },
  {
    name: 'ia3 preset (AdapterHub placement: key, value, intermediate outputs)', config: () => methodConfig('ia3'),
    targets: modules([0, 1], ['attention.self.key', 'attention.self.value', 'intermediate.dense']), feedforward: [],
  },
];

/** The tensors PEFT's get_peft_model_state_dict saves for `c` (see the fixtures' reference.json "files"): key -> shape. */
function expectedTensors(c: Case, config: MethodConfig): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of c.targets) {
    const [o, i] = outIn(m);
    if (config.method === 'lora') {
      out.set(`base_model.model.${m}.lora_A.weight`, [config.r, i]);
      out.set(`base_model.model.${m}.lora_B.weight`, [o, config.r]);
    } else out.set(`base_model.model.${m}.ia3_l`, c.feedforward?.includes(m) ? [1, i] : [o, 1]);
  }
  out.set('base_model.model.classifier.weight', [3, 32]);
  out.set('base_model.model.classifier.bias', [3]);
  return out;
}

const fixtureConfig = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(METHOD_FIXTURES, name, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;

const tmp = tempDir();
after(() => tmp.cleanup());

interface Written {
  readonly c: Case;
  readonly config: MethodConfig;
  readonly dir: string;
  readonly json: Record<string, unknown>;
  readonly text: string;
  readonly logits: Float32Array;
}
let written: Promise<Written[]> | undefined;
function writeAll(): Promise<Written[]> {
  written ??= (async () => {
    const base = await tinyBase();
    const batch = tinyBatch(base);
    const out: Written[] = [];
    for (const [i, c] of CASES.entries()) {
      const config = c.config();
      const dir = join(tmp.dir, `case-${i}`);
      const { model, notes } = await savedAdapter(base, config, dir, { seed: 70 + i });
      assert.ok(!notes.some((n) => n.startsWith('PEFT')), `${c.name}: ${notes.join('; ')}`);
      const text = readFileSync(join(dir, 'peft', 'adapter_config.json'), 'utf8');
      out.push({ c, config, dir, text, json: JSON.parse(text) as Record<string, unknown>, logits: await model.predict(batch) });
      await model.dispose();
    }
    return out;
  })();
  return written;
}

test('the shapes and key names expected here are the fixtures\' own (PEFT\'s conventions)', async () => {
  for (const name of ['lora-peft', 'ia3-peft'] as const) {
    const ref = JSON.parse(readFileSync(join(METHOD_FIXTURES, name, 'reference.json'), 'utf8')) as {
      method: { targets: { module: string; shape_out_in?: [number, number]; shape?: number[]; feedforward?: boolean }[] };
    };
    for (const t of ref.method.targets) {
      if (t.shape_out_in) assert.deepEqual(outIn(t.module), t.shape_out_in, t.module);
      else assert.deepEqual(t.shape, t.feedforward ? [1, outIn(t.module)[1]] : [outIn(t.module)[0], 1], t.module);
    }
    const c = CASES.find((x) => x.same === name) as Case;
    const fixture = await readWeights(join(METHOD_FIXTURES, name, 'adapter_model.safetensors'));
    assert.deepEqual(new Map([...fixture].map(([k, t]) => [k, [...t.shape]])), expectedTensors(c, c.config()), `${name}: adapter_model.safetensors`);
    assert.deepEqual(ref.method.targets.map((t) => t.module).sort(), [...c.targets].sort());
  }
});

for (const [i, c] of CASES.entries()) {
  test(`${c.name}: adapter_model.safetensors has PEFT's keys and shapes, adapter_config.json the fixture's fields`, async () => {
    const w = (await writeAll())[i] as Written;
    const file = join(w.dir, 'peft', 'adapter_model.safetensors');
    const tensors = await readWeights(file);
    assert.deepEqual(new Map([...tensors].map(([k, t]) => [k, [...t.shape]])), expectedTensors(c, w.config));
    assert.deepEqual((await readSafetensorsHeader(file)).metadata, { format: 'pt' });
    if (c.same) {
      const fixture = await readWeights(join(METHOD_FIXTURES, c.same, 'adapter_model.safetensors'));
      assert.deepEqual([...tensors.keys()].sort(), [...fixture.keys()].sort());
    }
    const config = w.config;
    if (config.method === 'lora') {
      const fx = fixtureConfig('lora-peft');
      assert.deepEqual(Object.keys(w.json).sort(), Object.keys(fx).sort(), 'the fields of PEFT\'s LoraConfig');
      const own = new Set(['target_modules', 'base_model_name_or_path', 'r', 'lora_alpha', 'layers_to_transform']);
      for (const k of Object.keys(fx)) if (!own.has(k)) assert.deepEqual(w.json[k], fx[k], `field ${k}`);
      assert.equal(w.json.r, config.r);
      assert.equal(w.json.lora_alpha, config.alpha);
      const kept = [0, 1].filter((l) => !config.leave_out.includes(l));
      // left-out layers go into layers_to_transform (target_modules stay suffixes), or into a regular expression
      if (typeof w.json.target_modules !== 'string') assert.deepEqual(w.json.layers_to_transform, config.leave_out.length ? kept : null);
      else assert.equal(w.json.layers_to_transform, null);
    } else {
      const fx = fixtureConfig('ia3-peft');
      if (c.same) {
        // PEFT's own IA3Config wrote the fixture; only the base's path differs
        const fxText = readFileSync(join(METHOD_FIXTURES, 'ia3-peft', 'adapter_config.json'), 'utf8');
        assert.equal(w.text.replace(/"base_model_name_or_path": "[^"]*"/, `"base_model_name_or_path": ${JSON.stringify(fx.base_model_name_or_path)}`), fxText);
      }
      assert.deepEqual(Object.keys(w.json).sort(), Object.keys(fx).sort(), 'the fields of PEFT\'s IA3Config');
      const own = new Set(['target_modules', 'feedforward_modules', 'base_model_name_or_path']);
      for (const k of Object.keys(fx)) if (!own.has(k)) assert.deepEqual(w.json[k], fx[k], `field ${k}`);
      // PEFT's IA3Config: "`feedforward_modules` should be a subset of `target_modules`" when both are lists
      if (Array.isArray(w.json.target_modules) && Array.isArray(w.json.feedforward_modules)) {
        for (const f of w.json.feedforward_modules as string[]) assert.ok((w.json.target_modules as string[]).includes(f), `feedforward entry ${f} is not in target_modules`);
      }
    }
  });
}

test('target_modules (and feedforward_modules) select exactly the intended modules under PEFT\'s matching rule (Python re)', async (t) => {
  const why = pythonMissing();
  if (why) return t.skip(why);
  const all = await writeAll();
  const names = bertModules(2);
  const r = await runPython([join(import.meta.dirname, 'peft_batch.py')], { input: JSON.stringify({ match: all.map((w) => ({ config: w.json, modules: names })) }) });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { match: { targets: string[]; feedforward: string[] }[] };
  all.forEach((w, i) => {
    const m = out.match[i] as { targets: string[]; feedforward: string[] };
    assert.deepEqual(m.targets.sort(), [...w.c.targets].sort(), `${w.c.name}: target_modules ${JSON.stringify(w.json.target_modules)}, layers_to_transform ${JSON.stringify(w.json.layers_to_transform)}`);
    assert.deepEqual(m.feedforward.sort(), [...(w.c.feedforward ?? [])].sort(), `${w.c.name}: feedforward_modules ${JSON.stringify(w.json.feedforward_modules)}`);
  });
});

for (const [i, c] of CASES.entries()) {
  test(`${c.name}: loading peft/ back gives the same config and the same predictions`, async () => {
    const w = (await writeAll())[i] as Written;
    const base = await tinyBase();
    const loaded = await loadSavedTask(base, join(w.dir, 'peft'));
    assert.equal(loaded.origin, 'peft');
    const mode = loaded.model.mode as { kind: string; adapter: MethodConfig };
    assert.equal(mode.kind, 'adapters');
    assert.deepEqual({ ...mode.adapter, preset: undefined }, { ...w.config, preset: undefined });
    const logits = await loaded.model.predict(tinyBatch(base));
    assert.equal(maxAbsDiff(logits, w.logits), 0);
    await loaded.model.dispose();
  });
}

test('PEFT\'s own LoraConfig / IA3Config accept every file and write it back to the same text', async (t) => {
  const why = await peftMissing();
  if (why) return t.skip(why);
  assert.ok(existsSync(peftDir()));
  const all = await writeAll();
  const r = await runPython([join(import.meta.dirname, 'peft_batch.py')], { input: JSON.stringify({ configs: all.map((w) => join(w.dir, 'peft', 'adapter_config.json')) }) });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { configs: { code: number; ok: boolean; class?: string; byte_identical?: boolean; missing_fields?: string[]; error?: unknown; expected_text?: string }[] };
  all.forEach((w, i) => {
    const v = out.configs[i] as (typeof out.configs)[number];
    assert.equal(v.code, 0, `${w.c.name}: PEFT refused it: ${JSON.stringify(v.error)}`);
    assert.equal(v.class, w.config.method === 'lora' ? 'LoraConfig' : 'IA3Config');
    assert.deepEqual(v.missing_fields, [], w.c.name);
    assert.equal(v.byte_identical, true, `${w.c.name}: PEFT would write\n${v.expected_text}`);
  });
});
