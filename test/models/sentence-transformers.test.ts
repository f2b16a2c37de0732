/**
 * sentence-transformers checkpoint directories (test/fixtures/models/tiny-mpnet-st: tiny-mpnet's
 * weights and tokenizer in the layout sentence-transformers saves, modules.json + 1_Pooling/config.json
 * + a Normalize module whose folder is absent, as on the hub): the head pooling comes from the Pooling
 * config when --pooling is not given, and reads what the PyTorch reference mean-pools
 * (tiny-mpnet/reference.json, scripts/fixtures/reference_mpnet.py); unsupported modes are errors
 * naming the field; `info`, `train`'s plan and the hub path.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from '../../src/engine/index.js';
import { AdapterkitError } from '../../src/errors.js';
import { headPoolingFor, pooledInput } from '../../src/heads/pooling.js';
import { loadBase } from '../../src/models/base.js';
import { buildEncoderGraph } from '../../src/models/build.js';
import { readSentenceTransformersConfig, sentencePooling } from '../../src/models/sentence-transformers/index.js';
import { cli, tempDir, writeToyCsv } from '../cli/harness.js';
import { fakeCommit, startFakeHub, type FakeFile } from '../hub/fake-hub.js';
import { ids, maxAbsDiff, type Rec } from './encoder-parity.js';

const ST = 'test/fixtures/models/tiny-mpnet-st';
const PLAIN = 'test/fixtures/models/tiny-mpnet';
const POOLING_FILE = join('1_Pooling', 'config.json');

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** A copy of the fixture with its Pooling config.json replaced by `config` (or modules.json by `modules`). */
function variant(o: { pooling?: Record<string, unknown>; modules?: string; dropPooling?: boolean }): string {
  const dir = tempDir('adapterkit-st-');
  temps.push(dir);
  cpSync(ST, dir, { recursive: true });
  if (o.pooling) writeFileSync(join(dir, POOLING_FILE), JSON.stringify(o.pooling));
  if (o.modules !== undefined) writeFileSync(join(dir, 'modules.json'), o.modules);
  if (o.dropPooling) rmSync(join(dir, '1_Pooling'), { recursive: true });
  return dir;
}

const FLAGS_OFF = {
  word_embedding_dimension: 32, pooling_mode_cls_token: false, pooling_mode_mean_tokens: false, pooling_mode_max_tokens: false,
  pooling_mode_mean_sqrt_len_tokens: false, pooling_mode_weightedmean_tokens: false, pooling_mode_lasttoken: false, include_prompt: true,
};

/** The error a base of `dir` gives when a head takes its pooling from it. */
async function poolingError(dir: string): Promise<AdapterkitError> {
  const base = await loadBase(dir);
  try {
    headPoolingFor(undefined, base);
  } catch (e) {
    assert.ok(e instanceof AdapterkitError);
    return e;
  }
  return assert.fail('expected an error');
}

describe('reading the layout', () => {
  test('modules.json, 1_Pooling/config.json and a Normalize module without a folder', async () => {
    const st = await readSentenceTransformersConfig(ST);
    assert.ok(st);
    assert.deepEqual(st.modules.map((m) => [m.path, m.type]), [
      ['', 'sentence_transformers.models.Transformer'], ['1_Pooling', 'sentence_transformers.models.Pooling'], ['2_Normalize', 'sentence_transformers.models.Normalize'],
    ]);
    assert.deepEqual(st.pooling, { file: POOLING_FILE, modes: ['mean'], fields: ['pooling_mode_mean_tokens'], dimension: 32 });
    assert.equal(st.normalize, true);
    assert.deepEqual(st.ignored, []);
    assert.equal(await readSentenceTransformersConfig(PLAIN), undefined);
  });

  test('absent flags take Pooling\'s defaults (mean on); "pooling_mode" overrides the flags', async () => {
    assert.deepEqual((await readSentenceTransformersConfig(variant({ pooling: { word_embedding_dimension: 32 } })))?.pooling?.modes, ['mean']);
    const named = await readSentenceTransformersConfig(variant({ pooling: { ...FLAGS_OFF, pooling_mode_mean_tokens: true, pooling_mode: 'CLS' } }));
    assert.deepEqual(named?.pooling, { file: POOLING_FILE, modes: ['cls'], fields: ['pooling_mode'], dimension: 32 });
  });

  test('malformed files are BAD_FILE errors naming the file and the entry', async () => {
    const bad = async (dir: string, re: RegExp) => assert.rejects(readSentenceTransformersConfig(dir), (e: unknown) => e instanceof AdapterkitError && e.code === 'BAD_FILE' && re.test(e.message));
    await bad(variant({ modules: '{"0": {}}' }), /modules\.json: expected a JSON array of modules \(\{ "idx", "name", "path", "type" \}\), got an? object/);
    await bad(variant({ modules: '[{"path": "1_Pooling"}]' }), /modules\.json: entry 0 "type" must be a string, got undefined/);
    await bad(variant({ modules: '[{"path": "../x", "type": "sentence_transformers.models.Pooling"}]' }), /modules\.json: entry 0 "path" "\.\.\/x" must be a subfolder of the checkpoint/);
    await bad(variant({ dropPooling: true }), /modules\.json names a Pooling module in "1_Pooling", but .*1_Pooling\/config\.json does not exist/);
    await bad(variant({ pooling: { ...FLAGS_OFF, pooling_mode_mean_tokens: 'yes' } }), /1_Pooling\/config\.json: "pooling_mode_mean_tokens" must be true or false, got "yes"/);
    await bad(variant({ pooling: { pooling_mode: 'median' } }), /1_Pooling\/config\.json: "pooling_mode" "median" is not a sentence-transformers pooling mode \(cls, mean, max, mean_sqrt_len_tokens, weightedmean, lasttoken\)/);
  });
});

describe('the head pooling', () => {
  test('without --pooling it is the checkpoint\'s (mean here); --pooling wins; a plain checkpoint keeps encoder', async () => {
    const base = await loadBase(ST);
    assert.deepEqual(headPoolingFor(undefined, base), { pooling: 'mean', from: '1_Pooling/config.json: pooling_mode_mean_tokens' });
    assert.deepEqual(headPoolingFor('cls', base), { pooling: 'cls', from: '--pooling' });
    assert.deepEqual(headPoolingFor(undefined, await loadBase(PLAIN)), { pooling: 'encoder', from: 'default' });
    const cls = await loadBase(variant({ pooling: { ...FLAGS_OFF, pooling_mode_cls_token: true } }));
    assert.deepEqual(headPoolingFor(undefined, cls), { pooling: 'cls', from: '1_Pooling/config.json: pooling_mode_cls_token' });
  });

  test('what the chosen pooling reads is the PyTorch reference\'s mean pooling of the same checkpoint, to 1e-5', async () => {
    const ref = JSON.parse(readFileSync(join(PLAIN, 'reference.json'), 'utf8')) as { inputs: { input_ids: number[][]; attention_mask: number[][] }; mean_pooled: Rec };
    const base = await loadBase(ST);
    const eg = buildEncoderGraph(base.encoder, base.weights);
    const pooled = pooledInput(headPoolingFor(undefined, base).pooling, eg.outputs, eg.attentionMask);
    eg.graph.output(pooled);
    const s = await Session.create(eg.graph);
    const out = await s.run({ input_ids: ids(ref.inputs.input_ids), attention_mask: ids(ref.inputs.attention_mask) });
    await s.dispose();
    assert.deepEqual(out[pooled.name]!.shape, ref.mean_pooled.shape);
    assert.ok(ref.inputs.attention_mask.some((r) => r.includes(0)), 'the reference batch has padding, so the mask matters');
    assert.ok(maxAbsDiff(out[pooled.name]!.data as Float32Array, ref.mean_pooled.data) <= 1e-5);
  });

  test('max, weightedmean, lasttoken, mean_sqrt_len_tokens, several modes or none are errors naming the field and what is supported', async () => {
    const supported = /adapterkit (reads|does not support; it reads) .*pooling_mode_cls_token \(cls\) or pooling_mode_mean_tokens \(mean\); choose a pooling with --pooling \(encoder, cls, mean\)/;
    for (const [field, mode] of [['pooling_mode_max_tokens', 'max'], ['pooling_mode_weightedmean_tokens', 'weightedmean'], ['pooling_mode_lasttoken', 'lasttoken'], ['pooling_mode_mean_sqrt_len_tokens', 'mean_sqrt_len_tokens']] as const) {
      const e = await poolingError(variant({ pooling: { ...FLAGS_OFF, [field]: true } }));
      assert.equal(e.code, 'UNSUPPORTED_MODEL');
      assert.match(e.message, new RegExp(`^1_Pooling/config\\.json: "${field}" is true \\(${mode} pooling\\), which adapterkit does not support; it reads`));
      assert.match(e.message, supported);
    }
    const named = await poolingError(variant({ pooling: { pooling_mode: 'lasttoken' } }));
    assert.match(named.message, /^1_Pooling\/config\.json: "pooling_mode" is "lasttoken" \(lasttoken pooling\), which adapterkit does not support/);
    const both = await poolingError(variant({ pooling: { ...FLAGS_OFF, pooling_mode_cls_token: true, pooling_mode_mean_tokens: true } }));
    assert.match(both.message, /pooling_mode_cls_token, pooling_mode_mean_tokens are all true \(sentence-transformers concatenates cls \+ mean\); adapterkit reads one pooling/);
    const none = await poolingError(variant({ pooling: FLAGS_OFF }));
    assert.match(none.message, /no pooling mode is on \(every pooling_mode_\* field is false\)/);
    const wide = await poolingError(variant({ pooling: { ...FLAGS_OFF, pooling_mode_mean_tokens: true, word_embedding_dimension: 768 } }));
    assert.match(wide.message, /"word_embedding_dimension" is 768, but the encoder's hidden states are 32 wide/);
    // --pooling overrides an unsupported checkpoint pooling
    const max = await loadBase(variant({ pooling: { ...FLAGS_OFF, pooling_mode_max_tokens: true } }));
    assert.deepEqual(headPoolingFor('mean', max), { pooling: 'mean', from: '--pooling' });
    assert.equal(sentencePooling(undefined, 32), undefined);
  });
});

describe('the CLI', () => {
  const dir = tempDir('ak-cli-st-');
  temps.push(dir);
  const data = ['--train', join(dir, 'train.csv'), '--text', 'sentence', '--label', 'sentiment', '--epochs', '1', '--batch-size', '16', '--max-length', '16', '--seed', '3', '--method', 'lora'];

  test('info shows the modules and the head pooling; --json too; an unsupported mode is shown, not fatal', async () => {
    const r = await cli('info', ST);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sentence-transformers \(modules\.json\)\n\s+modules:\s+Transformer, Pooling \(1_Pooling\), Normalize \(2_Normalize\)\n\s+head pooling:\s+mean \(1_Pooling\/config\.json: pooling_mode_mean_tokens\), unless --pooling says otherwise\n\s+normalize:\s+a Normalize module follows/);
    const j = await cli('info', ST, '--json');
    assert.equal(j.code, 0, j.stderr);
    const info = JSON.parse(j.stdout) as { sentenceTransformers: { headPooling: unknown; normalize: boolean } };
    assert.deepEqual(info.sentenceTransformers.headPooling, { pooling: 'mean', from: '1_Pooling/config.json: pooling_mode_mean_tokens' });
    assert.equal(info.sentenceTransformers.normalize, true);
    const plain = await cli('info', PLAIN);
    assert.doesNotMatch(plain.stdout, /sentence-transformers/);
    const max = await cli('info', variant({ pooling: { ...FLAGS_OFF, pooling_mode_max_tokens: true } }));
    assert.equal(max.code, 0, max.stderr);
    assert.match(max.stdout, /head pooling:\s+none: 1_Pooling\/config\.json: "pooling_mode_max_tokens" is true \(max pooling\)/);
  });

  test('train without --pooling takes the checkpoint\'s mean pooling (plan, saved head); an unsupported one fails before training unless --pooling is given', async () => {
    writeToyCsv(join(dir, 'train.csv'), 32, 1);
    const r = await cli('train', ...data, '--base', ST, '--out', join(dir, 'run'), '--name', 'st', '--max-steps', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /pooling:\s+mean \(from the base's 1_Pooling\/config\.json: pooling_mode_mean_tokens; --pooling to choose\)/);
    const manifest = JSON.parse(readFileSync(join(dir, 'run', 'best', 'adapterkit.json'), 'utf8')) as { head: { pooling?: string } };
    assert.equal(manifest.head.pooling, 'mean');
    const max = variant({ pooling: { ...FLAGS_OFF, pooling_mode_max_tokens: true } });
    const bad = await cli('train', ...data, '--base', max, '--out', join(dir, 'bad'), '--name', 'bad');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /1_Pooling\/config\.json: "pooling_mode_max_tokens" is true \(max pooling\), which adapterkit does not support; it reads pooling_mode_cls_token \(cls\) or pooling_mode_mean_tokens \(mean\); choose a pooling with --pooling/);
    const chosen = await cli('train', ...data, '--base', max, '--pooling', 'cls', '--out', join(dir, 'cls'), '--name', 'cls', '--max-steps', '1');
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.match(chosen.stderr, /pooling:\s+cls \(--pooling\)/);
    const help = await cli('train', '--help');
    assert.match(help.stdout.replace(/\s+/g, ' '), /\(default: the base's sentence-transformers pooling, from modules\.json and 1_Pooling\/config\.json, where it has one \(cls or mean\); else encoder\)/);
  });
});

test('the hub path fetches modules.json and 1_Pooling/config.json', async () => {
  const commit = fakeCommit('mpnet-st');
  const file = (name: string, lfs = false): FakeFile => ({ content: readFileSync(join(ST, name)), lfs });
  const names = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'modules.json', '1_Pooling/config.json', 'sentence_bert_config.json'];
  const hub = await startFakeHub({
    'org/tiny-mpnet-st': { refs: { main: commit }, commits: { [commit]: { ...Object.fromEntries(names.map((n) => [n, file(n)])), 'model.safetensors': file('model.safetensors', true) } } },
  });
  const cacheDir = tempDir('adapterkit-st-cache-');
  temps.push(cacheDir);
  try {
    const base = await loadBase('org/tiny-mpnet-st', { endpoint: hub.endpoint, cacheDir, token: false, offline: false, timeoutMs: 5000 });
    assert.deepEqual(headPoolingFor(undefined, base), { pooling: 'mean', from: '1_Pooling/config.json: pooling_mode_mean_tokens' });
    assert.equal(base.sentenceTransformers?.normalize, true);
  } finally {
    await hub.close();
  }
});
