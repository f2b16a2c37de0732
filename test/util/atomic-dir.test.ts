// Replacing a directory so that a complete copy exists at every instant, and recovering after a
// kill at each point of the replacement (the states a SIGKILL can leave, built by hand).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { recoverDir, removeStaleTemps, replaceDir, writeDirAtomically } from '../../src/util/atomic-dir.js';
import { tempDir } from '../temp-dir.js';

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid as number;
}

function fresh(): string {
  return tempDir('ak-atomic-');
}

function writeCopy(dir: string, text: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'f.txt'), text);
}

test('writeDirAtomically replaces a directory and leaves nothing else behind', async () => {
  const root = fresh();
  const dir = join(root, 'best');
  await writeDirAtomically(dir, async (tmp) => writeFileSync(join(tmp, 'f.txt'), 'one'));
  await assert.rejects(writeDirAtomically(dir, async () => undefined), /already exists/);
  const r = await writeDirAtomically(dir, async (tmp) => {
    writeFileSync(join(tmp, 'f.txt'), 'two');
    return 7;
  }, { overwrite: true });
  assert.equal(r, 7);
  assert.equal(readFileSync(join(dir, 'f.txt'), 'utf8'), 'two');
  assert.deepEqual(readdirSync(root), ['best']);
  // a failing fill leaves the old copy and no temporary directory
  await assert.rejects(writeDirAtomically(dir, async () => { throw new Error('disk full'); }, { overwrite: true }), /disk full/);
  assert.equal(readFileSync(join(dir, 'f.txt'), 'utf8'), 'two');
  assert.deepEqual(readdirSync(root), ['best']);
});

test('a writer that itself writes atomically into the temporary directory (saveTaskFiles inside the trainer\'s checkpoint)', async () => {
  const root = fresh();
  const dir = join(root, 'checkpoint');
  for (const text of ['one', 'two']) {
    await writeDirAtomically(dir, async (tmp) => {
      await writeDirAtomically(tmp, async (inner) => writeFileSync(join(inner, 'task.txt'), text), { overwrite: true });
      writeFileSync(join(tmp, 'trainer.json'), text);
    }, { overwrite: true });
  }
  assert.deepEqual(readdirSync(dir).sort(), ['task.txt', 'trainer.json']);
  assert.equal(readFileSync(join(dir, 'task.txt'), 'utf8'), 'two');
  assert.deepEqual(readdirSync(root), ['checkpoint']);
});

test('a kill between moving the old copy aside and moving the new one in: the old copy comes back', async () => {
  const root = fresh();
  const pid = deadPid();
  writeCopy(join(root, `.best.old-${pid}-0badc0de`), 'old, complete');
  writeCopy(join(root, `.best.tmp-${pid}-0badc0de`), 'new, maybe incomplete');
  writeCopy(join(root, `.best.tmp-${pid}-0badc0de.tmp-${pid}`), 'what a writer nested in the temporary copy left');
  writeCopy(join(root, `..best.tmp-${pid}-0badc0de.tmp-${pid}-12345678`), 'the same, written with writeDirAtomically');
  const r = await recoverDir(join(root, 'best'));
  assert.equal(r.state, 'restored');
  assert.equal(r.from, join(root, `.best.old-${pid}-0badc0de`));
  assert.equal(r.removed.length, 3);
  assert.equal(readFileSync(join(root, 'best', 'f.txt'), 'utf8'), 'old, complete');
  assert.deepEqual(readdirSync(root), ['best']);
  // the next write starts from the restored copy
  await writeDirAtomically(join(root, 'best'), async (tmp) => writeFileSync(join(tmp, 'f.txt'), 'newer'), { overwrite: true });
  assert.deepEqual(readdirSync(root), ['best']);
});

test('a kill while deleting the old copy, or while writing the new one: the directory is intact, the leftovers go', async () => {
  const root = fresh();
  const pid = deadPid();
  writeCopy(join(root, 'checkpoint'), 'current');
  writeCopy(join(root, `.checkpoint.old-${pid}-aaaaaaaa`), 'half deleted');
  writeCopy(join(root, `.checkpoint.tmp-${pid}-bbbbbbbb`), 'half written');
  writeCopy(join(root, `.checkpointx.tmp-${pid}-bbbbbbbb`), 'another directory\'s');
  const r = await recoverDir(join(root, 'checkpoint'));
  assert.equal(r.state, 'intact');
  assert.deepEqual(r.removed.map((p) => p.slice(root.length + 1)).sort(), [`.checkpoint.old-${pid}-aaaaaaaa`, `.checkpoint.tmp-${pid}-bbbbbbbb`]);
  assert.deepEqual(readdirSync(root).sort(), ['.checkpointx.tmp-' + pid + '-bbbbbbbb', 'checkpoint']);
  assert.deepEqual(await recoverDir(join(root, 'absent')), { state: 'absent', removed: [] });
});

test('copies of running writers are left alone; a reused pid (a restarted container) does not count as running', async () => {
  const root = fresh();
  writeCopy(join(root, `.best.tmp-${process.ppid}-cccccccc`), 'another live process writes this');
  // this very pid but another process instance: what a container restarted after a kill sees
  writeCopy(join(root, `.best.old-${process.pid}-00000000`), 'old, complete');
  const r = await recoverDir(join(root, 'best'));
  assert.equal(r.state, 'restored');
  assert.deepEqual(readdirSync(root).sort(), [`.best.tmp-${process.ppid}-cccccccc`, 'best']);
});

test('replaceDir moves a complete directory in; removeStaleTemps deletes only dead writers\' temporary files', async () => {
  const root = fresh();
  writeCopy(join(root, 'a'), 'old');
  writeCopy(join(root, 'staged'), 'new');
  await replaceDir(join(root, 'staged'), join(root, 'a'));
  assert.equal(readFileSync(join(root, 'a', 'f.txt'), 'utf8'), 'new');
  assert.deepEqual(readdirSync(root), ['a']);
  const pid = deadPid();
  for (const name of [`optimizer.safetensors.tmp-${pid}`, `best.tmp-${pid}`, `x.tmp-${process.ppid}`, 'keep.txt', `y.tmp-${process.pid}`]) writeFileSync(join(root, 'a', name), '');
  const removed = await removeStaleTemps(join(root, 'a'));
  assert.deepEqual(removed.map((p) => p.slice(root.length + 3)).sort(), [`best.tmp-${pid}`, `optimizer.safetensors.tmp-${pid}`]);
  assert.deepEqual(readdirSync(join(root, 'a')).sort(), ['f.txt', 'keep.txt', `x.tmp-${process.ppid}`, `y.tmp-${process.pid}`]);
  assert.ok(!existsSync(join(root, 'staged')));
  writeFileSync(join(root, 'a', `notes.tmp-${pid}`), '');
  writeFileSync(join(root, 'a', `best.tmp-${pid}`), '');
  assert.deepEqual((await removeStaleTemps(join(root, 'a'), ['best.'])).map((p) => p.slice(root.length + 3)), [`best.tmp-${pid}`]);
  assert.ok(existsSync(join(root, 'a', `notes.tmp-${pid}`)), 'not one of the prefixes');
  renameSync(join(root, 'a'), join(root, 'b'));
  assert.deepEqual(await removeStaleTemps(join(root, 'a')), []);
});
