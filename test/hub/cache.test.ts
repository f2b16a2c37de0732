import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  isCommitHash,
  isOfflineEnv,
  RepoCache,
  repoFolderName,
  resolveEndpoint,
  resolveHubCacheDir,
  resolveToken,
  validateRepoId,
} from '../../src/models/hub/index.js';
import { tempDir } from './helpers.js';

test('hub cache dir: HF_HUB_CACHE, then HF_HOME/hub, then XDG_CACHE_HOME/huggingface/hub, then ~/.cache/huggingface/hub', () => {
  const all = { HF_HUB_CACHE: '/a/hub-cache', HUGGINGFACE_HUB_CACHE: '/legacy', HF_HOME: '/b/hf-home', XDG_CACHE_HOME: '/c/xdg' };
  assert.equal(resolveHubCacheDir(all), '/a/hub-cache');
  assert.equal(resolveHubCacheDir({ ...all, HF_HUB_CACHE: undefined }), '/legacy');
  assert.equal(resolveHubCacheDir({ ...all, HF_HUB_CACHE: undefined, HUGGINGFACE_HUB_CACHE: undefined }), '/b/hf-home/hub');
  assert.equal(resolveHubCacheDir({ XDG_CACHE_HOME: '/c/xdg' }), '/c/xdg/huggingface/hub');
  assert.equal(resolveHubCacheDir({}), join(homedir(), '.cache', 'huggingface', 'hub'));
  assert.equal(resolveHubCacheDir({ HF_HOME: '~/hf' }), join(homedir(), 'hf', 'hub'));
  assert.equal(resolveHubCacheDir({ HF_HUB_CACHE: '', HF_HOME: '/b' }), '/b/hub', 'an empty variable counts as unset');
});

test('repo folder names and commit hashes follow huggingface_hub', () => {
  assert.equal(repoFolderName('google/bert_uncased_L-2_H-128_A-2'), 'models--google--bert_uncased_L-2_H-128_A-2');
  assert.equal(repoFolderName('bert-base-uncased'), 'models--bert-base-uncased');
  assert.ok(isCommitHash('0123456789abcdef0123456789abcdef01234567'));
  assert.ok(!isCommitHash('main'));
  assert.ok(!isCommitHash('0123456789ABCDEF0123456789abcdef01234567'));
});

test('repo ids are validated with a reason', () => {
  for (const ok of ['google/bert_uncased_L-2_H-128_A-2', 'bert-base-uncased', 'org/model.v2']) validateRepoId(ok);
  assert.throws(() => validateRepoId('a/b/c'), /invalid hub model id 'a\/b\/c': use 'name' or 'org\/name' with at most one '\/'/);
  assert.throws(() => validateRepoId('org/my model'), /'my model' may only contain letters, digits/);
  assert.throws(() => validateRepoId('org/-model'), /must not start or end with '-' or '.'/);
  assert.throws(() => validateRepoId('org/a--b'), /'--' and '..' are not allowed/);
  assert.throws(() => validateRepoId(`org/${'x'.repeat(100)}`), /longer than 96 characters/);
  assert.throws(() => validateRepoId(''), /invalid hub model id ''/);
});

test('token: option, then HF_TOKEN, then HF_TOKEN_PATH, then $HF_HOME/token; false disables', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'token'), 'hf_from_file\n');
    writeFileSync(join(dir, 'other'), 'hf_from_path\n');
    assert.equal(resolveToken('hf_opt', { HF_TOKEN: 'hf_env', HF_HOME: dir }), 'hf_opt');
    assert.equal(resolveToken(undefined, { HF_TOKEN: 'hf_env', HF_HOME: dir }), 'hf_env');
    assert.equal(resolveToken(undefined, { HF_HOME: dir }), 'hf_from_file');
    assert.equal(resolveToken(undefined, { HF_HOME: dir, HF_TOKEN_PATH: join(dir, 'other') }), 'hf_from_path');
    assert.equal(resolveToken(undefined, { XDG_CACHE_HOME: join(dir, 'none') }), undefined);
    assert.equal(resolveToken(false, { HF_TOKEN: 'hf_env' }), undefined);
  } finally {
    cleanup();
  }
});

test('offline flag and endpoint read from the environment', () => {
  for (const v of ['1', 'ON', 'yes', 'True']) assert.ok(isOfflineEnv({ HF_HUB_OFFLINE: v }), v);
  for (const v of [undefined, '', '0', 'off', 'no']) assert.ok(!isOfflineEnv({ HF_HUB_OFFLINE: v }), String(v));
  assert.ok(isOfflineEnv({ TRANSFORMERS_OFFLINE: '1' }));
  assert.equal(resolveEndpoint(undefined, {}), 'https://huggingface.co');
  assert.equal(resolveEndpoint(undefined, { HF_ENDPOINT: 'https://hf-mirror.example/' }), 'https://hf-mirror.example');
  assert.equal(resolveEndpoint('http://127.0.0.1:9/', { HF_ENDPOINT: 'https://other' }), 'http://127.0.0.1:9');
});

test('snapshot links are relative symlinks into blobs/, also for nested paths; refs nest too', () => {
  const { dir, cleanup } = tempDir();
  try {
    const cache = new RepoCache(dir, 'org/model');
    const commit = 'a'.repeat(40);
    mkdirSync(join(cache.root, 'blobs'), { recursive: true });
    writeFileSync(cache.blobPath('e1'), 'hello');
    const top = cache.linkSnapshot(commit, 'config.json', 'e1');
    const nested = cache.linkSnapshot(commit, '1_Pooling/config.json', 'e1');
    assert.equal(readlinkSync(top), '../../blobs/e1');
    assert.equal(readlinkSync(nested), '../../../blobs/e1');
    assert.equal(readFileSync(nested, 'utf8'), 'hello');
    // Relinking to another blob replaces the link.
    writeFileSync(cache.blobPath('e2'), 'bye');
    cache.linkSnapshot(commit, 'config.json', 'e2');
    assert.equal(readFileSync(top, 'utf8'), 'bye');
    assert.ok(lstatSync(top).isSymbolicLink());

    cache.writeRef('refs/pr/1', commit);
    assert.equal(readFileSync(join(cache.root, 'refs', 'refs', 'pr', '1'), 'utf8'), commit);
    assert.equal(cache.resolveCommit('refs/pr/1'), commit);
    cache.writeRef(commit, commit);
    assert.ok(!existsSync(join(cache.root, 'refs', commit)), 'no refs file for a commit-hash revision');
    assert.throws(() => cache.snapshotPath(commit, '../escape'), /invalid file path '..\/escape' in repo 'org\/model'/);
  } finally {
    cleanup();
  }
});
