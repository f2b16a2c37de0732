/**
 * Our Compacter files load in AdapterHub itself. For the Compacter configs the method fixtures
 * hold (compacter, compacter++, per-layer factorized rules with shared weights, full weights
 * without bias), a perturbed adapter on the tiny BERT is saved with saveTask; then
 * - without Python: adapter_config.json is the text AdapterHub's own config classes wrote for the
 *   fixture, and adapter.safetensors has the fixture's keys and shapes (the PHM tensors and
 *   AdapterHub's `bert.shared_parameters.<name>.*`);
 * - with AdapterHub's unchanged code (../shared/interop/adapterhub): AdapterConfig.load accepts the
 *   config and re-dumps it byte for byte, and its real Adapter modules with PHMLayer, strictly loaded
 *   from pytorch_adapter.bin (shared parameters from AdapterHub's own init_shared_parameters,
 *   given to the layers through its forward context: test/interop/adapterhub_phm_forward.py),
 *   give the logits TaskModel.predict gives; the .bin and .safetensors hold the same tensors.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { methodConfig, type MethodConfig } from '../../src/adapters/methods/index.js';
import { readWeights } from '../../src/models/weights/index.js';
import { TaskModel } from '../../src/train/task-model.js';
import { METHOD_FIXTURES, TINY_BERT, adapterHubMissing, batchJson, maxAbsDiff, runPython, savedAdapter, tempDir, tinyBase, tinyBatch } from './helpers.js';

interface Case {
  readonly fixture: string;
  readonly config: () => MethodConfig;
}

const CASES: readonly Case[] = [
  { fixture: 'compacter', config: () => methodConfig('compacter', { reduction_factor: 4 }) },
  { fixture: 'compacter++', config: () => methodConfig('compacter++', { reduction_factor: 4 }) },
  {
    fixture: 'compacter-options',
    config: () => methodConfig('compacter', { reduction_factor: 4, shared_phm_rule: false, factorized_phm_rule: true, phm_rank: 2, shared_W_phm: true }),
  },
  {
    fixture: 'compacter-options2',
    config: () => methodConfig('compacter++', { reduction_factor: 4, factorized_phm_W: false, phm_bias: false, phm_dim: 2, ln_before: true, leave_out: [0] }),
  },
];

interface Written {
  readonly c: Case;
  readonly dir: string;
  readonly logits: Float32Array;
  readonly bare: Float32Array;
}
interface Verdict {
  code: number;
  ok: boolean;
  class?: string;
  byte_identical?: boolean;
  expected_text?: string;
  stage?: string;
  error?: { type: string; message: string };
  logits?: { shape: number[]; data: number[] };
  shared_parameters?: Record<string, number[]>;
  modules?: unknown[];
}

const tmp = tempDir();
after(() => tmp.cleanup());

let written: Promise<{ cases: Written[]; inputs: string }> | undefined;
function writeCases(): NonNullable<typeof written> {
  written ??= (async () => {
    const base = await tinyBase();
    const batch = tinyBatch(base);
    const inputs = join(tmp.dir, 'inputs.json');
    writeFileSync(inputs, batchJson(batch));
    const cases: Written[] = [];
    for (const [i, c] of CASES.entries()) {
      const dir = join(tmp.dir, c.fixture);
      const { model, notes } = await savedAdapter(base, c.config(), dir, { seed: 70 + i });
      assert.deepEqual(notes, [], c.fixture);
      const head = new Map([...model.owned].filter(([k]) => k.startsWith('head.')));
      const bare = TaskModel.create(base, { mode: { kind: 'head-only' }, head: model.head, seed: 0, weights: head });
      cases.push({ c, dir, logits: await model.predict(batch), bare: await bare.predict(batch) });
      await Promise.all([model.dispose(), bare.dispose()]);
    }
    return { cases, inputs };
  })();
  return written;
}

let verdicts: Promise<{ configs: Verdict[]; phm: Verdict[]; pairs: { bin: string; problems: string[] }[] }> | undefined;
function adapterHubRun(): NonNullable<typeof verdicts> {
  verdicts ??= (async () => {
    const { cases, inputs } = await writeCases();
    const request = {
      configs: cases.map((w) => join(w.dir, 'adapter_config.json')),
      phm_forwards: cases.map((w) => w.dir), base: TINY_BERT, inputs,
      pairs: cases.map((w) => [join(w.dir, 'pytorch_adapter.bin'), join(w.dir, 'adapter.safetensors')]),
    };
    const r = await runPython([join(import.meta.dirname, 'adapterhub_batch.py')], { input: JSON.stringify(request) });
    assert.equal(r.code, 0, `adapterhub_batch.py failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { configs: Verdict[]; phm_forwards: Verdict[]; pairs: { bin: string; problems: string[] }[] };
    return { configs: out.configs, phm: out.phm_forwards, pairs: out.pairs };
  })();
  return verdicts;
}

for (const [i, c] of CASES.entries()) {
  test(`${c.fixture}: adapter_config.json is the text AdapterHub's config classes wrote for the fixture, adapter.safetensors has its PHM keys and shapes`, async () => {
    const w = (await writeCases()).cases[i] as Written;
    const dir = join(METHOD_FIXTURES, c.fixture);
    assert.equal(readFileSync(join(w.dir, 'adapter_config.json'), 'utf8'), readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    const ours = await readWeights(join(w.dir, 'adapter.safetensors'));
    const theirs = await readWeights(join(dir, 'adapter.safetensors'));
    assert.deepEqual([...ours].map(([k, x]) => [k, x.shape]).sort(), [...theirs].map(([k, x]) => [k, x.shape]).sort());
  });

  // AdapterHub runs in float64 from our float32 weights (see adapterhub.test.ts for the 1e-5 budget)
  test(`${c.fixture}: AdapterHub accepts the config (as the BnConfig a dict loads as), and its own PHM modules, loaded strictly from pytorch_adapter.bin, give our logits (1e-5)`, async (t) => {
    const why = await adapterHubMissing();
    if (why) return t.skip(why);
    const w = (await writeCases()).cases[i] as Written;
    const { configs, phm, pairs } = await adapterHubRun();
    const v = configs[i] as Verdict;
    assert.equal(v.code, 0, `AdapterHub rejected the config at ${v.stage}: ${v.error?.type}: ${v.error?.message}`);
    assert.equal(v.class, 'BnConfig');
    assert.equal(v.byte_identical, true, `AdapterHub would write:\n${v.expected_text}`);
    const f = phm[i] as Verdict;
    assert.equal(f.code, 0, `adapterhub_phm_forward failed at ${f.stage}: ${f.error?.type}: ${f.error?.message}`);
    const logits = f.logits as { shape: number[]; data: number[] };
    assert.deepEqual(logits.shape, [3, 3]);
    const d = maxAbsDiff(w.logits, logits.data);
    t.diagnostic(`max |logit difference| ${d.toExponential(2)}`);
    assert.ok(d <= 1e-5, `logits differ by ${d}: ours ${Array.from(w.logits)} vs AdapterHub's ${logits.data}`);
    // one PHM adapter of width 8 (options2: one site, n = 2) moves the logits less than a plain bottleneck: 1e-3 is still 100x the budget
    assert.ok(maxAbsDiff(w.bare, logits.data) > 1e-3, `the adapter changes the logits by only ${maxAbsDiff(w.bare, logits.data)}`);
    assert.deepEqual(pairs[i]?.problems, [], 'pytorch_adapter.bin and adapter.safetensors hold the same tensors');
  });
}
