/**
 * Loading BERT-family model directories: every way a checkpoint can be wrong gives a coded error
 * whose message names the file, the tensor or the setting (and nothing is returned half-loaded);
 * and a hub id loads end to end through a fake hub, then again offline from the cache.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Session, i64, type HostTensor } from '../../src/engine/index.js';
import { AdapterkitError, type ErrorCode } from '../../src/errors.js';
import { loadBase, type BaseModel } from '../../src/models/base.js';
import { loadBertModel } from '../../src/models/bert/load.js';
import { buildEncoderGraph } from '../../src/models/build.js';
import { loadEncoderModel } from '../../src/models/registry.js';
import { readSafetensors, writeSafetensors, type WeightTensor } from '../../src/models/weights/index.js';
import { fakeCommit, startFakeHub, type FakeFile, type FakeHub } from '../hub/fake-hub.js';
import { tempDir } from '../temp-dir.js';

const FIXTURE = 'test/fixtures/models/tiny-bert';
const INTERMEDIATE = 'encoder.layer.1.intermediate.dense.weight';

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** A temp copy of the tiny-bert fixture (safetensors only unless `keepBin`). */
function copyFixture(keepBin = false): string {
  const dir = tempDir('adapterkit-load-');
  temps.push(dir);
  cpSync(FIXTURE, dir, { recursive: true });
  if (!keepBin) unlinkSync(join(dir, 'pytorch_model.bin'));
  return dir;
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const path = join(dir, 'config.json');
  const c = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(c);
  writeFileSync(path, JSON.stringify(c));
}

async function rewriteWeights(dir: string, edit: (m: Map<string, WeightTensor>) => void): Promise<string> {
  const path = join(dir, 'model.safetensors');
  const m = await readSafetensors(path);
  edit(m);
  await writeSafetensors(path, m);
  return path;
}

/** Asserts that loading `dir` rejects with `code` and a message matching every pattern. */
async function rejectsLoad(dir: string, code: ErrorCode, ...patterns: (RegExp | string)[]): Promise<void> {
  let result: unknown;
  try {
    result = await loadBertModel(dir);
  } catch (e) {
    assert.ok(e instanceof AdapterkitError, `expected AdapterkitError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const p of patterns) {
      if (typeof p === 'string') assert.ok(e.message.includes(p), `message lacks ${JSON.stringify(p)}: ${e.message}`);
      else assert.match(e.message, p);
    }
    return;
  }
  assert.fail(`loadBertModel(${dir}) returned ${typeof result} instead of throwing`);
}

describe('loadBertModel errors', () => {
  test('the unmodified copy loads (baseline for the cases below)', async () => {
    const m = await loadBertModel(copyFixture());
    assert.equal(m.encoder.describe().family, 'bert');
    assert.equal(m.weights.size, m.encoder.weightSpecs.length);
  });

  test('unsupported model_type lists the supported ones', async () => {
    const dir = copyFixture();
    editConfig(dir, (c) => {
      c.model_type = 'gpt2';
    });
    await rejectsLoad(dir, 'UNSUPPORTED_MODEL', join(dir, 'config.json'), 'model_type "gpt2" is not supported', 'supported model types: bert, roberta, xlm-roberta, distilbert, electra');
    // through the registry (what loadBase uses), every family is listed
    await assert.rejects(loadEncoderModel(dir), /model_type "gpt2" is not supported; supported model types: bert, roberta, xlm-roberta, distilbert, electra, albert, deberta-v2, mpnet, modernbert$/);
  });

  test('missing config.json', async () => {
    const dir = copyFixture();
    unlinkSync(join(dir, 'config.json'));
    await rejectsLoad(dir, 'BAD_FILE', `${dir}: no config.json`);
  });

  test('config.json that is not JSON', async () => {
    const dir = copyFixture();
    writeFileSync(join(dir, 'config.json'), '{"model_type": "bert",');
    await rejectsLoad(dir, 'BAD_FILE', `${join(dir, 'config.json')} is not valid JSON`);
  });

  test('no weights file', async () => {
    const dir = copyFixture();
    unlinkSync(join(dir, 'model.safetensors'));
    await rejectsLoad(dir, 'BAD_FILE', `${dir}: no weights found`, 'model.safetensors', 'pytorch_model.bin');
  });

  test('a missing tensor names the tensor and the file', async () => {
    const dir = copyFixture();
    const file = await rewriteWeights(dir, (m) => m.delete('encoder.layer.1.attention.self.key.bias'));
    await rejectsLoad(dir, 'BAD_WEIGHTS', file, 'missing 1 tensor(s)', 'encoder.layer.1.attention.self.key.bias');
  });

  test('a tensor with the wrong shape names both shapes', async () => {
    const dir = copyFixture();
    const file = await rewriteWeights(dir, (m) => {
      const t = m.get(INTERMEDIATE) as WeightTensor;
      assert.deepEqual(t.shape, [37, 32]);
      m.set(INTERMEDIATE, { ...t, shape: [32, 37] });
    });
    await rejectsLoad(dir, 'BAD_WEIGHTS', file, `tensor ${INTERMEDIATE} has shape [32, 37] but the config implies [37, 32]`);
  });

  test('a config that disagrees with the weights (intermediate size) names both shapes', async () => {
    const dir = copyFixture();
    editConfig(dir, (c) => {
      c.intermediate_size = 40;
    });
    await rejectsLoad(dir, 'BAD_WEIGHTS', 'tensor encoder.layer.0.intermediate.dense.weight has shape [37, 32] but the config implies [40, 32]');
  });

  test('a truncated safetensors file is BAD_FILE naming the file', async () => {
    const dir = copyFixture();
    const file = join(dir, 'model.safetensors');
    truncateSync(file, statSync(file).size - 100);
    await rejectsLoad(dir, 'BAD_FILE', file, /truncated/);
  });

  test('a safetensors file cut inside its header is BAD_FILE naming the file', async () => {
    const dir = copyFixture();
    const file = join(dir, 'model.safetensors');
    truncateSync(file, 200);
    await rejectsLoad(dir, 'BAD_FILE', file, /truncated/);
  });

  test('hidden size not divisible by the number of heads', async () => {
    const dir = copyFixture();
    editConfig(dir, (c) => {
      c.num_attention_heads = 5;
    });
    await rejectsLoad(dir, 'UNSUPPORTED_MODEL', 'hidden size 32 is not divisible by the number of attention heads 5');
  });

  test('unknown hidden_act lists the supported ones', async () => {
    const dir = copyFixture();
    editConfig(dir, (c) => {
      c.hidden_act = 'mish';
    });
    await rejectsLoad(dir, 'UNSUPPORTED_MODEL', 'hidden_act "mish" is not supported', 'supported: gelu, gelu_python, gelu_new', 'relu', 'silu');
  });

  test('a missing required config key is named', async () => {
    const dir = copyFixture();
    editConfig(dir, (c) => {
      delete c.num_hidden_layers;
    });
    await rejectsLoad(dir, 'UNSUPPORTED_MODEL', `${join(dir, 'config.json')}: missing "num_hidden_layers"`);
  });
});

describe('loadBase through the hub', () => {
  const COMMIT = fakeCommit('tiny-bert fixture');
  let hub: FakeHub;
  let cacheDir: string;

  before(async () => {
    const file = (name: string, lfs = false): FakeFile => ({ content: readFileSync(join(FIXTURE, name)), lfs });
    hub = await startFakeHub({
      'org/tiny-bert': {
        refs: { main: COMMIT },
        commits: {
          [COMMIT]: {
            'config.json': file('config.json'),
            'model.safetensors': file('model.safetensors', true),
            'vocab.txt': file('vocab.txt'),
            'tokenizer_config.json': file('tokenizer_config.json'),
          },
        },
      },
    });
    cacheDir = tempDir('adapterkit-load-cache-');
    temps.push(cacheDir);
  });
  after(async () => {
    await hub.close();
  });

  async function pooled(base: BaseModel): Promise<Float32Array> {
    const enc = base.tokenizer.encode(['hello world', ['the quick fox', 'jumps']], 16);
    const eg = buildEncoderGraph(base.encoder, base.weights);
    eg.graph.output(eg.outputs.pooled);
    const s = await Session.create(eg.graph);
    const shape = [enc.batchSize, enc.seqLen];
    const feeds: Record<string, HostTensor> = {
      input_ids: i64(shape, Array.from(enc.inputIds)),
      attention_mask: i64(shape, Array.from(enc.attentionMask)),
    };
    if (eg.tokenTypeIds) feeds.token_type_ids = i64(shape, Array.from(enc.tokenTypeIds));
    const out = (await s.run(feeds))[eg.outputs.pooled.name]?.data as Float32Array;
    await s.dispose();
    return out;
  }

  test('a hub id downloads, loads and gives the same pooled output as the fixture directory; offline it loads from the cache', async () => {
    const opts = { endpoint: hub.endpoint, cacheDir, token: false as const, offline: false, timeoutMs: 5000 };
    const fromHub = await loadBase('org/tiny-bert', opts);
    assert.equal(fromHub.id, 'org/tiny-bert');
    assert.ok(fromHub.sources.every((f) => f.startsWith(join(cacheDir, 'models--org--tiny-bert', 'snapshots', COMMIT))), fromHub.sources.join(', '));
    const fromDir = await loadBase(FIXTURE);
    const a = await pooled(fromHub);
    const b = await pooled(fromDir);
    assert.equal(a.length, 2 * 32);
    assert.deepEqual(a, b);

    hub.requests.length = 0;
    const offline = await loadBase('org/tiny-bert', { ...opts, offline: true, endpoint: 'http://127.0.0.1:9' });
    assert.equal(hub.requests.length, 0, 'offline load touched the hub');
    assert.deepEqual(await pooled(offline), a);
  });

  test('an unknown hub id offline with an empty cache fails with a coded error', async () => {
    const empty = tempDir('adapterkit-load-empty-');
    temps.push(empty);
    await assert.rejects(loadBase('org/absent', { cacheDir: empty, offline: true, token: false }), (e: unknown) => {
      assert.ok(e instanceof AdapterkitError, String(e));
      assert.match(e.message, /org\/absent/);
      return true;
    });
  });
});
