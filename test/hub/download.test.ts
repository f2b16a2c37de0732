import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterkitError } from '../../src/errors.js';
import { downloadFile, type DownloadProgress, type HubOptions } from '../../src/models/hub/index.js';
import { etagOf, fakeCommit, gitBlobSha1, lfsBytes, sha256, startFakeHub, text, type FakeHub } from './fake-hub.js';
import { CLEAN_HUB_ENV, tempDir, withEnv } from './helpers.js';

const C1 = fakeCommit('tiny c1');
const C2 = fakeCommit('tiny c2');
const WEIGHTS = lfsBytes(100_000);
const CONFIG = text('{"model_type":"bert","hidden_size":8}');

let hub: FakeHub;
before(async () => {
  hub = await startFakeHub({
    'org/tiny': {
      refs: { main: C1, v2: C2 },
      commits: {
        [C1]: {
          'config.json': CONFIG,
          'model.safetensors': WEIGHTS,
          'liar.bin': { ...lfsBytes(100, 7), announcedSize: 120 },
          'corrupt.bin': { ...lfsBytes(100, 8), corruptOnCdn: lfsBytes(100, 9).content },
        },
        [C2]: { 'config.json': text('{"model_type":"bert","hidden_size":16}') },
      },
    },
    'org/gated': { refs: { main: C1 }, gatedToken: 'hf_right', commits: { [C1]: { 'config.json': CONFIG, 'model.safetensors': WEIGHTS } } },
  });
});
after(async () => {
  await hub.close();
});

/** Options that never read the real environment. */
function opts(cacheDir: string, extra: HubOptions = {}): HubOptions {
  return { cacheDir, endpoint: hub.endpoint, token: false, offline: false, timeoutMs: 5000, ...extra };
}

function errorOf(fn: () => Promise<unknown>): Promise<AdapterkitError> {
  return fn().then(
    () => assert.fail('expected an error'),
    (e: unknown) => {
      assert.ok(e instanceof AdapterkitError, `expected AdapterkitError, got ${String(e)}`);
      return e;
    },
  );
}

test('fresh download lays out blobs/, snapshots/ (relative symlinks) and refs/ like huggingface_hub', async () => {
  const { dir, cleanup } = tempDir();
  try {
    hub.requests.length = 0;
    const progress: DownloadProgress[] = [];
    const w = await downloadFile('org/tiny', 'model.safetensors', opts(dir, { onProgress: (p) => progress.push(p) }));
    const c = await downloadFile('org/tiny', 'config.json', opts(dir));
    const root = join(dir, 'models--org--tiny');
    const wSha = sha256(WEIGHTS.content);
    const cSha = gitBlobSha1(CONFIG.content);

    assert.equal(w.path, join(root, 'snapshots', C1, 'model.safetensors'));
    assert.deepEqual([w.commit, w.etag, w.source], [C1, wSha, 'download']);
    assert.equal(readlinkSync(w.path), `../../blobs/${wSha}`);
    assert.equal(readlinkSync(c.path), `../../blobs/${cSha}`);
    assert.deepEqual(readFileSync(join(root, 'blobs', wSha)), WEIGHTS.content);
    assert.deepEqual(readFileSync(c.path), CONFIG.content);
    assert.equal(readFileSync(join(root, 'refs', 'main'), 'utf8'), C1);
    assert.ok(!existsSync(join(root, 'blobs', `${wSha}.incomplete`)));

    const last = progress.at(-1);
    assert.deepEqual(last, { file: 'model.safetensors', received: 100_000, total: 100_000 });
    // HEAD on the hub for metadata (302, not followed), then GET straight from the CDN.
    assert.deepEqual(
      hub.requests.slice(0, 2).map((r) => `${r.server} ${r.method} ${r.path}`),
      [`hub HEAD /org/tiny/resolve/main/model.safetensors`, `cdn GET /cdn/${wSha}`],
    );

    // Same branch again: one HEAD to check the commit, no body.
    hub.requests.length = 0;
    const again = await downloadFile('org/tiny', 'model.safetensors', opts(dir));
    assert.equal(again.source, 'cache');
    assert.deepEqual(hub.requests.map((r) => r.method), ['HEAD']);
    // By commit hash: no request at all.
    hub.requests.length = 0;
    const pinned = await downloadFile('org/tiny', 'model.safetensors', opts(dir, { revision: C1 }));
    assert.deepEqual([pinned.path, pinned.etag, pinned.source], [w.path, wSha, 'cache']);
    assert.equal(hub.requests.length, 0);
  } finally {
    cleanup();
  }
});

test('a revision by tag gets its own snapshot and refs file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const r = await downloadFile('org/tiny', 'config.json', opts(dir, { revision: 'v2' }));
    assert.equal(r.commit, C2);
    assert.match(readFileSync(r.path, 'utf8'), /"hidden_size":16/);
    assert.equal(readFileSync(join(dir, 'models--org--tiny', 'refs', 'v2'), 'utf8'), C2);
  } finally {
    cleanup();
  }
});

test('a transfer cut half way keeps the .incomplete file, publishes no blob, and the next call resumes with Range', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const blob = join(dir, 'models--org--tiny', 'blobs', sha256(WEIGHTS.content));
    hub.cutNext('model.safetensors');
    const e = await errorOf(() => downloadFile('org/tiny', 'model.safetensors', opts(dir)));
    assert.equal(e.code, 'DOWNLOAD_FAILED');
    assert.match(
      e.message,
      /downloading 'model.safetensors' of 'org\/tiny' \(revision 'main'\) from host localhost:\d+ was cut after 50000 of 100000 bytes: .*; the partial file .*\.incomplete is kept and the next attempt resumes/,
    );
    assert.equal(statSync(`${blob}.incomplete`).size, 50_000);
    assert.ok(!existsSync(blob), 'no final blob after a failure');
    assert.ok(!existsSync(join(dir, 'models--org--tiny', 'snapshots', C1, 'model.safetensors')));

    hub.requests.length = 0;
    const progress: DownloadProgress[] = [];
    const r = await downloadFile('org/tiny', 'model.safetensors', opts(dir, { onProgress: (p) => progress.push(p) }));
    assert.equal(r.source, 'download');
    const get = hub.requests.find((q) => q.method === 'GET');
    assert.equal(get?.headers.range, 'bytes=50000-');
    assert.equal(progress[0]?.received, 50_000);
    assert.deepEqual(readFileSync(r.path), WEIGHTS.content);
    assert.ok(!existsSync(`${blob}.incomplete`));
  } finally {
    cleanup();
  }
});

test('a size different from the announced one fails and leaves neither blob nor partial file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const e = await errorOf(() => downloadFile('org/tiny', 'liar.bin', opts(dir)));
    assert.match(e.message, /size mismatch for 'liar.bin' of 'org\/tiny' \(revision 'main'\): expected 120 bytes .* but received 100/);
    const blob = join(dir, 'models--org--tiny', 'blobs', etagOf(hub.repos['org/tiny']!.commits[C1]!['liar.bin']!));
    assert.ok(!existsSync(blob) && !existsSync(`${blob}.incomplete`));
  } finally {
    cleanup();
  }
});

test('LFS content whose sha256 differs from the announced etag is rejected and deleted', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const e = await errorOf(() => downloadFile('org/tiny', 'corrupt.bin', opts(dir)));
    const etag = etagOf(hub.repos['org/tiny']!.commits[C1]!['corrupt.bin']!);
    assert.match(e.message, new RegExp(`checksum mismatch for 'corrupt.bin' of 'org/tiny' \\(revision 'main'\\): sha256 [0-9a-f]{64} but the hub announced ${etag}`));
    const blob = join(dir, 'models--org--tiny', 'blobs', etag);
    assert.ok(!existsSync(blob) && !existsSync(`${blob}.incomplete`));
  } finally {
    cleanup();
  }
});

test('concurrent downloads of the same file share one transfer', async () => {
  const { dir, cleanup } = tempDir();
  try {
    hub.requests.length = 0;
    const [a, b] = await Promise.all([downloadFile('org/tiny', 'model.safetensors', opts(dir)), downloadFile('org/tiny', 'model.safetensors', opts(dir))]);
    assert.equal(a.path, b.path);
    assert.deepEqual(readFileSync(a.path), WEIGHTS.content);
    assert.equal(hub.requests.filter((q) => q.method === 'GET').length, 1);
  } finally {
    cleanup();
  }
});

test('the token goes to the hub but not to the CDN on another origin; gated repos explain what to do', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const noToken = await errorOf(() => downloadFile('org/gated', 'config.json', opts(dir)));
    assert.equal(noToken.code, 'DOWNLOAD_FAILED');
    assert.match(noToken.message, /'org\/gated' is a gated repo \(HTTP 401\) and no token was sent: accept its conditions at .*\/org\/gated and set HF_TOKEN/);
    const wrong = await errorOf(() => downloadFile('org/gated', 'config.json', opts(dir, { token: 'hf_wrong' })));
    assert.match(wrong.message, /gated repo \(HTTP 401\) and the token that was sent has no access/);

    hub.requests.length = 0;
    const r = await downloadFile('org/gated', 'model.safetensors', opts(dir, { token: 'hf_right' }));
    assert.deepEqual(readFileSync(r.path), WEIGHTS.content);
    const hubReqs = hub.requests.filter((q) => q.server === 'hub');
    const cdnReqs = hub.requests.filter((q) => q.server === 'cdn');
    assert.ok(hubReqs.length > 0 && cdnReqs.length > 0);
    for (const q of hubReqs) assert.equal(q.headers.authorization, 'Bearer hf_right');
    for (const q of cdnReqs) assert.equal(q.headers.authorization, undefined, 'token must not leave the hub origin');
  } finally {
    cleanup();
  }
});

test('HF_TOKEN, HF_ENDPOINT and HF_HUB_CACHE are read from the environment', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await withEnv({ ...CLEAN_HUB_ENV, HF_HOME: join(dir, 'home'), HF_HUB_CACHE: join(dir, 'env-cache'), HF_ENDPOINT: `${hub.endpoint}/`, HF_TOKEN: 'hf_right' }, async () => {
      hub.requests.length = 0;
      const r = await downloadFile('org/gated', 'config.json');
      assert.equal(r.path, join(dir, 'env-cache', 'models--org--gated', 'snapshots', C1, 'config.json'));
      assert.equal(hub.requests[0]?.headers.authorization, 'Bearer hf_right');
    });
  } finally {
    cleanup();
  }
});

test('404s say whether the repo, the revision or the file is missing; a missing file is recorded in .no_exist', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const repo = await errorOf(() => downloadFile('org/nope', 'config.json', opts(dir)));
    assert.equal(repo.code, 'NOT_FOUND');
    assert.match(repo.message, /repository 'org\/nope' not found on http:\/\/127\.0\.0\.1:\d+; if it is private or gated, set HF_TOKEN/);
    const rev = await errorOf(() => downloadFile('org/tiny', 'config.json', opts(dir, { revision: 'no-such-branch' })));
    assert.match(rev.message, /revision 'no-such-branch' not found in repo 'org\/tiny'/);
    const entry = await errorOf(() => downloadFile('org/tiny', 'tokenizer.json', opts(dir)));
    assert.equal(entry.code, 'NOT_FOUND');
    assert.match(entry.message, /file 'tokenizer.json' not found in repo 'org\/tiny' at revision 'main'/);
    assert.ok(existsSync(join(dir, 'models--org--tiny', '.no_exist', C1, 'tokenizer.json')));
    // Asking again at that commit needs no network.
    hub.requests.length = 0;
    const known = await errorOf(() => downloadFile('org/tiny', 'tokenizer.json', opts(dir, { revision: C1 })));
    assert.match(known.message, /file 'tokenizer.json' not found in repo 'org\/tiny' at revision '[0-9a-f]{40}' \(recorded in the cache's .no_exist\)/);
    assert.equal(hub.requests.length, 0);
  } finally {
    cleanup();
  }
});

test('connection refused and timeouts name the host and suggest HF_HUB_OFFLINE=1', async () => {
  const { dir, cleanup } = tempDir();
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const silent = createServer(() => {
    /* never answers */
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const silentPort = (silent.address() as AddressInfo).port;
  try {
    const refused = await errorOf(() => downloadFile('org/tiny', 'config.json', opts(dir, { endpoint: `http://127.0.0.1:${deadPort}` })));
    assert.equal(refused.code, 'DOWNLOAD_FAILED');
    assert.match(refused.message, new RegExp(`from host 127\\.0\\.0\\.1:${deadPort} failed: connection refused \\(ECONNREFUSED\\)\\. .*set HF_HUB_OFFLINE=1`));
    const slow = await errorOf(() => downloadFile('org/tiny', 'config.json', opts(dir, { endpoint: `http://127.0.0.1:${silentPort}`, timeoutMs: 200 })));
    assert.match(slow.message, new RegExp(`from host 127\\.0\\.0\\.1:${silentPort} failed: timed out after 200 ms without data\\. .*HF_HUB_OFFLINE=1`));
  } finally {
    silent.closeAllConnections();
    await new Promise<void>((r) => silent.close(() => r()));
    cleanup();
  }
});

test('offline mode serves from the cache without any request and explains what is missing', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await downloadFile('org/tiny', 'config.json', opts(dir));
    hub.requests.length = 0;
    await withEnv({ HF_HUB_OFFLINE: '1' }, async () => {
      const { offline: _ignored, ...envDriven } = opts(dir);
      const hit = await downloadFile('org/tiny', 'config.json', envDriven);
      assert.equal(hit.commit, C1);
      assert.equal(hit.source, 'cache');
      const miss = await errorOf(() => downloadFile('org/tiny', 'model.safetensors', envDriven));
      assert.equal(miss.code, 'NOT_FOUND');
      assert.match(miss.message, /offline mode is on .*'model.safetensors' of 'org\/tiny' \(revision 'main'\) is not in the cache/);
      const noRef = await errorOf(() => downloadFile('org/tiny', 'config.json', { ...envDriven, revision: 'v2' }));
      assert.match(noRef.message, /offline mode is on .*'config.json' of 'org\/tiny' \(revision 'v2'\) because revision 'v2' was never resolved into the cache/);
    });
    assert.equal(hub.requests.length, 0);
  } finally {
    cleanup();
  }
});
