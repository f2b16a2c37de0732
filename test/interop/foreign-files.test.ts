/**
 * Directories the Python libraries wrote (test/fixtures/methods/*, made by
 * scripts/fixtures/make_method_fixtures.py with AdapterHub's and PEFT's own config classes) load:
 * from pytorch_adapter.bin alone, with ln_before's two alias keys, and as AdapterHub reads files
 * without a "version" (adapter-transformers' "gelu" is "gelu_new"); values adapterkit does not
 * implement are BAD_CONFIG errors that name the field, never a different function.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterkitError } from '../../src/errors.js';
import type { BottleneckConfig } from '../../src/adapters/methods/bottleneck.js';
import { readWeights } from '../../src/models/weights/index.js';
import { loadSavedTask } from '../../src/train/task-io.js';
import { METHOD_FIXTURES, TINY_BERT, adapterHubMissing, batchJson, maxAbsDiff, runPython, tempDir, tinyBase, tinyBatch } from './helpers.js';

const ADAPTERHUB_FIXTURES = ['bn-options', 'bn-options2', 'houlsby', 'ia3', 'lora', 'parallel', 'pfeiffer'];

const tmp = tempDir();
after(() => tmp.cleanup());

/** A copy of a fixture directory in the temp folder. */
function copyFixture(name: string, as: string): string {
  const dir = join(tmp.dir, as);
  cpSync(join(METHOD_FIXTURES, name), dir, { recursive: true });
  rmSync(join(dir, 'reference.json'));
  return dir;
}

/** Edits a copied directory's adapter_config.json. */
function editConfig(dir: string, edit: (json: Record<string, unknown>) => void): void {
  const path = join(dir, 'adapter_config.json');
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(path, JSON.stringify(json, null, 2));
}

const cfgOf = (json: Record<string, unknown>) => json.config as Record<string, unknown>;

for (const name of ADAPTERHUB_FIXTURES) {
  test(`${name}: a directory with only pytorch_adapter.bin and pytorch_model_head.bin loads to the same tensors as from the safetensors files`, async () => {
    const base = await tinyBase();
    const dir = copyFixture(name, `bin-only-${name}`);
    rmSync(join(dir, 'adapter.safetensors'));
    rmSync(join(dir, 'model_head.safetensors'));
    const fromBin = await loadSavedTask(base, dir);
    const fromSafe = await loadSavedTask(base, join(METHOD_FIXTURES, name));
    assert.equal(fromBin.origin, 'adapterhub');
    assert.deepEqual(fromBin.model.mode, fromSafe.model.mode);
    assert.deepEqual([...fromBin.model.owned.keys()].sort(), [...fromSafe.model.owned.keys()].sort());
    for (const [k, t] of fromSafe.model.owned) {
      const b = fromBin.model.owned.get(k);
      assert.deepEqual(b?.shape, t.shape, k);
      assert.deepEqual(new Uint32Array((b?.data as Float32Array).buffer), new Uint32Array(t.data.buffer), `${k}: bit for bit`);
    }
  });
}

test('bn-options (ln_before, written by AdapterHub): both alias keys, adapter_norm_before.* and adapter_down.0.*, are in its files and load as one layer norm', async () => {
  const base = await tinyBase();
  const dir = join(METHOD_FIXTURES, 'bn-options');
  const aliases = (JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as { aliases: Record<string, string> }).aliases;
  assert.equal(Object.keys(aliases).length, 8, 'weight and bias at 4 sites');
  const loaded = await loadSavedTask(base, dir);
  for (const file of ['adapter.safetensors', 'pytorch_adapter.bin']) {
    const w = await readWeights(join(dir, file));
    for (const [alias, key] of Object.entries(aliases)) {
      assert.match(alias, /\.adapter_norm_before\.(weight|bias)$/);
      assert.match(key, /\.adapter_down\.0\.(weight|bias)$/);
      assert.deepEqual(Array.from(w.get(alias)?.data as Float32Array), Array.from(w.get(key)?.data as Float32Array), `${file}: ${alias}`);
      // .../layer.<l>.<attention.output|output>.adapters.tiny_task.adapter_down.0.<p> -> adapters.adapter.<l>.<attention|ffn>.norm_before.<p>
      const m = /layer\.(\d+)\.(attention\.output|output)\.adapters\.tiny_task\.adapter_down\.0\.(weight|bias)$/.exec(key) as RegExpExecArray;
      const internal = `adapters.adapter.${m[1]}.${m[2] === 'output' ? 'ffn' : 'attention'}.norm_before.${m[3]}`;
      assert.deepEqual(Array.from(loaded.model.owned.get(internal)?.data ?? []), Array.from(w.get(key)?.data as Float32Array), internal);
    }
  }
  assert.equal((loaded.model.mode as { adapter: BottleneckConfig }).adapter.ln_before, true);
  await loaded.model.dispose();
});

/** The fixture bn-options without its "version": an adapter-transformers (v1/v2) file. */
function unversioned(): string {
  const dir = copyFixture('bn-options', 'unversioned');
  editConfig(dir, (j) => {
    assert.equal(cfgOf(j).non_linearity, 'gelu');
    delete j.version;
  });
  return dir;
}

test('a config without "version" gets AdapterHub\'s legacy rename "gelu" -> "gelu_new" (and AdapterHub computes what we do)', async (t) => {
  const base = await tinyBase();
  const dir = unversioned();
  const old = await loadSavedTask(base, dir);
  const cur = await loadSavedTask(base, join(METHOD_FIXTURES, 'bn-options'));
  assert.equal((old.model.mode as { adapter: BottleneckConfig }).adapter.non_linearity, 'gelu_new');
  assert.equal((cur.model.mode as { adapter: BottleneckConfig }).adapter.non_linearity, 'gelu');
  const batch = tinyBatch(base);
  const ours = await old.model.predict(batch);
  const exact = await cur.model.predict(batch);
  assert.ok(maxAbsDiff(ours, exact) > 1e-7, 'gelu_new is another function than gelu');
  const why = await adapterHubMissing();
  if (why) {
    t.diagnostic(`AdapterHub's side skipped: ${why}`);
  } else {
    const inputs = join(tmp.dir, 'inputs.json');
    writeFileSync(inputs, batchJson(batch));
    const r = await runPython([join(import.meta.dirname, 'adapterhub_batch.py')], { input: JSON.stringify({ configs: [join(dir, 'adapter_config.json')], forwards: [dir], base: TINY_BERT, inputs }) });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { configs: { code: number; legacy_rename: unknown }[]; forwards: { code: number; logits: { data: number[] } }[] };
    assert.deepEqual(out.configs[0]?.legacy_rename, { from: 'gelu', to: 'gelu_new' });
    assert.equal(out.forwards[0]?.code, 0);
    const d = maxAbsDiff(ours, out.forwards[0]?.logits.data ?? []);
    t.diagnostic(`max |logit difference| vs AdapterHub on the unversioned file ${d.toExponential(2)}`);
    assert.ok(d <= 1e-5, `logits differ by ${d}`);
  }
  await Promise.all([old.model.dispose(), cur.model.dispose()]);
});

/** Loading `dir` fails with BAD_CONFIG, a message naming `field` and the file. */
async function rejects(dir: string, field: RegExp, file = 'adapter_config.json'): Promise<void> {
  const base = await tinyBase();
  await assert.rejects(loadSavedTask(base, dir), (e: unknown) => {
    assert.ok(e instanceof AdapterkitError, String(e));
    assert.equal(e.code, 'BAD_CONFIG', e.message);
    assert.match(e.message, field);
    assert.ok(e.message.includes(join(dir, file)), `${e.message} names the file`);
    return true;
  });
}

test('unsupported AdapterHub values fail with BAD_CONFIG naming the field: use_dora on LoRA, an unknown architecture, a frozen PHM rule', async () => {
  const dora = copyFixture('lora', 'lora-dora');
  editConfig(dora, (j) => (cfgOf(j).use_dora = true));
  await rejects(dora, /config\.use_dora is true: DoRA is not implemented/);

  const unknown = copyFixture('parallel', 'unknown-architecture');
  editConfig(unknown, (j) => (cfgOf(j).architecture = 'hyper_parallel'));
  assert.equal(cfgOf(JSON.parse(readFileSync(join(unknown, 'adapter_config.json'), 'utf8'))).is_parallel, true);
  await rejects(unknown, /config\.architecture "hyper_parallel" is not implemented/);

  const phm = copyFixture('compacter', 'phm-frozen-rule');
  editConfig(phm, (j) => (cfgOf(j).learn_phm = false));
  await rejects(phm, /learn_phm false \(a frozen PHM rule\) is not implemented/);
});

test('AdapterHub itself refuses the unknown architecture too (it is not a value adapterkit merely lacks)', async (t) => {
  const why = await adapterHubMissing();
  if (why) return t.skip(why);
  const dir = copyFixture('parallel', 'unknown-architecture-adapterhub');
  editConfig(dir, (j) => (cfgOf(j).architecture = 'hyper_parallel'));
  const r = await runPython([join(import.meta.dirname, 'adapterhub_batch.py')], { input: JSON.stringify({ configs: [join(dir, 'adapter_config.json')] }) });
  assert.equal(r.code, 0, r.stderr);
  const v = (JSON.parse(r.stdout) as { configs: { code: number; stage: string; error: { type: string; message: string } }[] }).configs[0];
  assert.equal(v?.code, 1);
  assert.equal(v?.stage, 'AdapterConfig.load');
  assert.deepEqual(v?.error, { type: 'KeyError', message: 'hyper_parallel' });
});

test('unsupported PEFT values fail with BAD_CONFIG naming the field: use_dora, inits that changed the base (PiSSA, OLoRA, CorDA, LoRA-GA, LoftQ), a target that also selects bert.pooler.dense', async () => {
  const dora = copyFixture('lora-peft', 'peft-dora');
  editConfig(dora, (j) => (j.use_dora = true));
  await rejects(dora, /use_dora is true: DoRA is not implemented/);

  for (const init of ['pissa', 'pissa_niter_4', 'olora', 'corda', 'lora_ga', 'loftq']) {
    const mutated = copyFixture('lora-peft', `peft-${init}`);
    editConfig(mutated, (j) => (j.init_lora_weights = init));
    await rejects(mutated, new RegExp(`init_lora_weights "${init}": PEFT subtracted the adapter's initial B·A from the base weights when it made this adapter, so it only fits that changed base`));
  }
  const gaussian = copyFixture('lora-peft', 'peft-gaussian');
  editConfig(gaussian, (j) => (j.init_lora_weights = 'gaussian'));
  assert.equal((await loadSavedTask(await tinyBase(), gaussian)).origin, 'peft');

  const pooler = copyFixture('lora-peft', 'peft-pooler');
  editConfig(pooler, (j) => (j.target_modules = ['query', 'dense']));
  await rejects(pooler, /target_modules also selects bert\.pooler\.dense, which adapterkit has no adapter site for/);
});
