import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterkitError } from '../../src/errors.js';
import { resolveModel, type ResolveOptions } from '../../src/models/hub/index.js';
import { fakeCommit, gitBlobSha1, lfsBytes, sha256, startFakeHub, text, type FakeFile, type FakeHub } from './fake-hub.js';
import { deadEndpoint, listTree, tempDir, withEnv } from './helpers.js';

const MAIN = fakeCommit('bert main');
const OLD = fakeCommit('bert old');
const BIN = fakeCommit('bin only');
const SHARDED = fakeCommit('sharded');
const CONFIG = text('{"model_type":"bert","hidden_size":8}');
const WEIGHTS = lfsBytes(4096, 3);
const VOCAB = text('[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n');
const TOK_CONFIG = text('{"do_lower_case":true}');
const SHARD1 = lfsBytes(3000, 11);
const SHARD2 = lfsBytes(2000, 12);
const INDEX = text(
  JSON.stringify({
    metadata: { total_size: 5000 },
    weight_map: { 'embeddings.word_embeddings.weight': 'model-00001-of-00002.safetensors', 'pooler.dense.weight': 'model-00002-of-00002.safetensors', 'pooler.dense.bias': 'model-00002-of-00002.safetensors' },
  }),
);

let hub: FakeHub;
before(async () => {
  const bert: Record<string, FakeFile> = { 'config.json': CONFIG, 'model.safetensors': WEIGHTS, 'vocab.txt': VOCAB, 'tokenizer_config.json': TOK_CONFIG };
  hub = await startFakeHub({
    'org/tiny-bert': {
      refs: { main: MAIN, v1: OLD },
      commits: { [MAIN]: bert, [OLD]: { ...bert, 'config.json': text('{"model_type":"bert","hidden_size":4}') } },
    },
    'org/bin-only': { refs: { main: BIN }, commits: { [BIN]: { 'config.json': CONFIG, 'pytorch_model.bin': lfsBytes(500, 5) } } },
    'org/sharded': {
      refs: { main: SHARDED },
      commits: {
        [SHARDED]: { 'config.json': CONFIG, 'model.safetensors.index.json': INDEX, 'model-00001-of-00002.safetensors': SHARD1, 'model-00002-of-00002.safetensors': SHARD2 },
      },
    },
    'org/no-weights': { refs: { main: BIN }, commits: { [BIN]: { 'config.json': CONFIG } } },
  });
});
after(async () => {
  await hub.close();
});

function opts(cacheDir: string, extra: ResolveOptions = {}): ResolveOptions {
  return { cacheDir, endpoint: hub.endpoint, token: false, offline: false, timeoutMs: 5000, ...extra };
}

async function rejection(p: Promise<unknown>): Promise<AdapterkitError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AdapterkitError, `expected AdapterkitError, got ${String(e)}`);
    return e;
  }
  return assert.fail('expected an error');
}

test('a hub id is downloaded with the default BERT file set, and a second resolve uses no network', async () => {
  const { dir, cleanup } = tempDir();
  try {
    hub.requests.length = 0;
    const files = new Set<string>();
    const m = await resolveModel('org/tiny-bert', opts(dir, { onProgress: (p) => files.add(p.file) }));
    const root = join(dir, 'models--org--tiny-bert');
    assert.deepEqual(m, { dir: join(root, 'snapshots', MAIN), source: 'download', commit: MAIN, weightFiles: ['model.safetensors'] });
    assert.deepEqual([...files].sort(), ['config.json', 'model.safetensors', 'tokenizer_config.json', 'vocab.txt']);
    assert.deepEqual(readFileSync(join(m.dir, 'model.safetensors')), WEIGHTS.content);
    assert.equal(readFileSync(join(root, 'refs', 'main'), 'utf8'), MAIN);
    // Only the first file asks for 'main'; the rest are fetched at the commit it resolved to.
    const heads = hub.requests.filter((q) => q.method === 'HEAD').map((q) => q.path);
    assert.equal(heads[0], '/org/tiny-bert/resolve/main/config.json');
    assert.ok(heads.slice(1).every((p) => p.includes(`/resolve/${MAIN}/`)), heads.join('\n'));
    // Absent optional files are recorded so the next resolve needs no request.
    for (const f of ['tokenizer.json', 'special_tokens_map.json', 'merges.txt', 'vocab.json']) {
      assert.ok(existsSync(join(root, '.no_exist', MAIN, f)), f);
    }

    hub.requests.length = 0;
    const again = await resolveModel('org/tiny-bert', opts(dir));
    assert.deepEqual(again, { ...m, source: 'cache' });
    assert.equal(hub.requests.length, 0);
  } finally {
    cleanup();
  }
});

test('revision by tag and by commit hash', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const tag = await resolveModel('org/tiny-bert', opts(dir, { revision: 'v1' }));
    assert.equal(tag.commit, OLD);
    assert.match(readFileSync(join(tag.dir, 'config.json'), 'utf8'), /"hidden_size":4/);
    assert.equal(readFileSync(join(dir, 'models--org--tiny-bert', 'refs', 'v1'), 'utf8'), OLD);

    const byHash = await resolveModel('org/tiny-bert', opts(dir, { revision: MAIN }));
    assert.equal(byHash.commit, MAIN);
    assert.match(readFileSync(join(byHash.dir, 'config.json'), 'utf8'), /"hidden_size":8/);
    assert.ok(!existsSync(join(dir, 'models--org--tiny-bert', 'refs', MAIN)), 'no refs file for a commit hash');
    // Both snapshots share the identical weight blob.
    assert.equal(listTree(join(dir, 'models--org--tiny-bert', 'blobs')).filter((b) => b === sha256(WEIGHTS.content)).length, 1);
  } finally {
    cleanup();
  }
});

test('falls back to pytorch_model.bin when there is no safetensors file; fails clearly when there are no weights', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const m = await resolveModel('org/bin-only', opts(dir));
    assert.deepEqual(m.weightFiles, ['pytorch_model.bin']);
    assert.ok(existsSync(join(m.dir, 'pytorch_model.bin')));
    const noExist = join(dir, 'models--org--bin-only', '.no_exist', BIN);
    assert.ok(existsSync(join(noExist, 'model.safetensors')) && existsSync(join(noExist, 'model.safetensors.index.json')));
    hub.requests.length = 0;
    assert.equal((await resolveModel('org/bin-only', opts(dir))).source, 'cache');
    assert.equal(hub.requests.length, 0);

    const e = await rejection(resolveModel('org/no-weights', opts(dir)));
    assert.equal(e.code, 'NOT_FOUND');
    assert.match(e.message, /no weights in repo 'org\/no-weights' at revision 'main': none of model.safetensors, model.safetensors.index.json, pytorch_model.bin/);
  } finally {
    cleanup();
  }
});

test('sharded weights: the index is read and every shard it lists is downloaded', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const m = await resolveModel('org/sharded', opts(dir));
    assert.deepEqual(m.weightFiles, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    assert.deepEqual(readFileSync(join(m.dir, 'model-00001-of-00002.safetensors')), SHARD1.content);
    assert.deepEqual(readFileSync(join(m.dir, 'model-00002-of-00002.safetensors')), SHARD2.content);
    hub.requests.length = 0;
    const again = await resolveModel('org/sharded', opts(dir));
    assert.deepEqual(again, { ...m, source: 'cache' });
    assert.equal(hub.requests.length, 0);
  } finally {
    cleanup();
  }
});

/** Builds, by hand, the tree huggingface_hub writes after `hf_hub_download` of these files. */
function writePythonCache(cacheDir: string, repoId: string, commit: string, files: Record<string, FakeFile>, missing: string[]): void {
  const root = join(cacheDir, `models--${repoId.replace('/', '--')}`);
  mkdirSync(join(root, 'blobs'), { recursive: true });
  mkdirSync(join(root, 'refs'), { recursive: true });
  mkdirSync(join(root, 'snapshots', commit), { recursive: true });
  writeFileSync(join(root, 'refs', 'main'), commit);
  for (const [name, f] of Object.entries(files)) {
    const etag = f.lfs ? sha256(f.content) : gitBlobSha1(f.content);
    writeFileSync(join(root, 'blobs', etag), f.content);
    symlinkSync(`../../blobs/${etag}`, join(root, 'snapshots', commit, name));
  }
  for (const name of missing) {
    mkdirSync(join(root, '.no_exist', commit), { recursive: true });
    writeFileSync(join(root, '.no_exist', commit, name), '');
  }
}

test('a cache written by Python tools is reused without network, online and offline', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const commit = fakeCommit('python made');
    const files = { 'config.json': CONFIG, 'model.safetensors': WEIGHTS, 'vocab.txt': VOCAB, 'tokenizer_config.json': TOK_CONFIG };
    // The repo does not even exist on the fake hub: any request would fail.
    writePythonCache(dir, 'google/bert_uncased_L-2_H-128_A-2', commit, files, ['tokenizer.json', 'special_tokens_map.json', 'merges.txt', 'vocab.json']);
    hub.requests.length = 0;
    const m = await resolveModel('google/bert_uncased_L-2_H-128_A-2', opts(dir));
    assert.deepEqual(m, { dir: join(dir, 'models--google--bert_uncased_L-2_H-128_A-2', 'snapshots', commit), source: 'cache', commit, weightFiles: ['model.safetensors'] });
    assert.equal(readFileSync(join(m.dir, 'vocab.txt'), 'utf8'), VOCAB.content.toString());

    // Without .no_exist markers (a cache from a tool that never probed those files): offline still works.
    const other = tempDir();
    try {
      writePythonCache(other.dir, 'org/py', commit, files, []);
      const off = await resolveModel('org/py', opts(other.dir, { offline: true }));
      assert.equal(off.source, 'cache');
      assert.deepEqual(off.weightFiles, ['model.safetensors']);
      // Online but the hub is unreachable: the usable snapshot is returned instead of an error.
      const unreachable = await resolveModel('org/py', opts(other.dir, { endpoint: await deadEndpoint() }));
      assert.deepEqual(unreachable, off);
      // ...but a model that is not cached at all still reports the connection failure.
      await assert.rejects(resolveModel('org/absent', opts(other.dir, { endpoint: await deadEndpoint() })), /connection refused \(ECONNREFUSED\)\. .*HF_HUB_OFFLINE=1/);
    } finally {
      other.cleanup();
    }
    assert.equal(hub.requests.length, 0);
  } finally {
    cleanup();
  }
});

test('offline mode sends no request and names the model, revision and what is missing', async () => {
  const { dir, cleanup } = tempDir();
  try {
    hub.requests.length = 0;
    const { offline: _o, ...envDriven } = opts(dir);
    await withEnv({ HF_HUB_OFFLINE: '1' }, async () => {
      const e = await rejection(resolveModel('org/tiny-bert', envDriven));
      assert.equal(e.code, 'NOT_FOUND');
      assert.match(e.message, /offline mode is on .*model 'org\/tiny-bert' \(revision 'main'\) is not in the cache: revision 'main' was never resolved into the cache \(no .*refs\/main\)/);
    });
    writePythonCache(dir, 'org/half', MAIN, { 'config.json': CONFIG }, []);
    const half = await rejection(resolveModel('org/half', opts(dir, { offline: true })));
    assert.match(half.message, /model 'org\/half' \(revision 'main'\) is not in the cache: snapshot .* lacks weights \(none of model.safetensors/);
    assert.equal(hub.requests.length, 0);
  } finally {
    cleanup();
  }
});

test('local directories are used as they are; bad sources fail clearly', async () => {
  const { dir, cleanup } = tempDir();
  try {
    assert.deepEqual(await resolveModel(dir), { dir, source: 'local' });
    writeFileSync(join(dir, 'file.txt'), 'x');
    await assert.rejects(resolveModel(join(dir, 'file.txt')), /model source '.*file.txt' is a file; expected a model directory or a hub id/);
    await assert.rejects(resolveModel('./no/such/dir'), /model directory '.\/no\/such\/dir' does not exist/);
    await assert.rejects(resolveModel('a/b/c', opts(dir)), /invalid hub model id 'a\/b\/c'/);
    await assert.rejects(resolveModel('org/bad name', opts(dir)), /invalid hub model id 'org\/bad name': 'bad name' may only contain/);
  } finally {
    cleanup();
  }
});
