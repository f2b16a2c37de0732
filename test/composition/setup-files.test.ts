/**
 * A task holding several adapters: saved in AdapterHub's setup layout (adapter_setup.json and a
 * folder per adapter) plus adapterkit.json, loaded back to the same predictions and the same
 * active composition; trained with the trainer (checkpoints, best, resume) where only the last
 * adapter of a Stack trains and the frozen one stays as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatComposition, parseComposition } from '../../src/adapters/composition.js';
import type { NamedAdapter } from '../../src/adapters/compose.js';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { describeMode } from '../../src/train/modes.js';
import { loadSavedTask, saveTask } from '../../src/train/task-io.js';
import { TaskModel } from '../../src/train/task-model.js';
import { train } from '../../src/train/trainer.js';
import { tempDir, TINY_BERT } from '../cli/harness.js';
import { toyExamples } from '../train/toy-task.js';

const ADAPTERS: NamedAdapter[] = [
  { name: 'lang', config: methodConfig('pfeiffer', { reduction_factor: 8, init_weights: 'bert' }), trainable: false },
  { name: 'task', config: methodConfig('lora', { r: 2, init_weights: 'bert' }) },
  { name: 'extra', config: methodConfig('ia3-peft', { attn_matrices: ['k'] }) },
];

test('a setup saves in AdapterHub\'s setup layout and loads back to the same predictions, composition and AdapterDrop', async () => {
  const base = await loadBase(TINY_BERT);
  const head = headConfig({ kind: 'classification', labels: ['a', 'b'] });
  const active = parseComposition('Stack(lang, Average(task, extra, weights=[3, 1]))');
  const m = TaskModel.create(base, { mode: { kind: 'adapters', adapters: ADAPTERS, active, adapterDrop: { kind: 'static', layers: 1 } }, head, seed: 5 });
  const batch = base.tokenizer.encode(['a good book', 'the cat sat on the mat .'], 16);
  const want = await m.predict(batch);
  const dir = join(tempDir('ak-setup-'), 'task');
  const notes = await saveTask(m, dir, { name: 'setup', maxLength: 16 });
  assert.ok(notes.some((n) => /AdapterHub cannot load adapter extra/.test(n)), notes.join('\n'));
  for (const f of ['adapter_setup.json', 'adapterkit.json', 'head_config.json', 'lang/adapter_config.json', 'lang/pytorch_adapter.bin', 'task/adapter.safetensors', 'extra/adapter.safetensors']) {
    assert.ok(existsSync(join(dir, f)), f);
  }
  const setup = JSON.parse(readFileSync(join(dir, 'adapter_setup.json'), 'utf8')) as { adapter_setup: { type: string; children: unknown[] } };
  assert.equal(setup.adapter_setup.type, 'Stack');
  assert.deepEqual(setup.adapter_setup.children[0], { type: 'single', children: ['lang'] });
  assert.equal(JSON.parse(readFileSync(join(dir, 'lang', 'adapter_config.json'), 'utf8')).name, 'lang');
  const back = await loadSavedTask(base, dir);
  assert.deepEqual(Array.from(await back.model.predict(batch)), Array.from(want));
  assert.equal(describeMode(back.model.mode, base.encoder), describeMode(m.mode, base.encoder));
  assert.match(describeMode(back.model.mode, base.encoder), /^Stack\(lang, Average\(task, extra, weights=\[0\.75, 0\.25\]\)\), AdapterDrop first 1 layer\(s\): lang = bottleneck \(pfeiffer, m=4\) \(frozen\); task = lora/);
  assert.deepEqual(back.model.trainable.map((t) => t.name), m.trainable.map((t) => t.name), 'the frozen adapter stays frozen');
  back.model.activate('task', { adapterDrop: null });
  assert.equal(formatComposition((back.model.mode as { active: ReturnType<typeof parseComposition> }).active), 'Stack(task)');
  await m.dispose();
  await back.model.dispose();
});

test('the trainer trains the last adapter of a Stack with the first frozen: the best task and the checkpoint hold every adapter', async () => {
  const base = await loadBase(TINY_BERT);
  const head = headConfig({ kind: 'classification', labels: ['neg', 'pos'] });
  const mode = { kind: 'adapters' as const, adapters: ADAPTERS.slice(0, 2), active: parseComposition('Stack(lang, task)') };
  const m = TaskModel.create(base, { mode, head, seed: 2 });
  const lang0 = [...m.owned].filter(([k]) => k.startsWith('adapters.lang.')).map(([k, t]) => [k, Array.from(t.data)] as const);
  const task0 = Array.from(m.owned.get('adapters.task.0.query.lora_B')?.data ?? []);
  const out = join(tempDir('ak-setup-train-'), 'run');
  const data = toyExamples(48, 1);
  const r = await train(m, data, toyExamples(16, 2), { outDir: out, taskName: 'stacked', metrics: ['accuracy'], epochs: 2, batchSize: 8, maxLength: 16, lr: 1e-2, seed: 1 });
  assert.equal(r.steps, 12);
  for (const [k, v] of lang0) assert.deepEqual(Array.from(m.owned.get(k)?.data ?? []), v, `${k}: the frozen adapter did not change`);
  assert.notDeepEqual(Array.from(m.owned.get('adapters.task.0.query.lora_B')?.data ?? []), task0, 'the trained adapter changed');
  const best = await loadSavedTask(base, r.bestDir);
  assert.equal(best.model.trainable.filter((t) => t.origin === 'adapter').every((t) => t.name.startsWith('adapters.task.')), true);
  // the last checkpoint (what a resumed run reads) holds every adapter, the frozen one included
  const ckpt = await loadSavedTask(base, join(out, 'checkpoint'));
  for (const [k, t] of m.owned) assert.deepEqual(Array.from(ckpt.model.owned.get(k)?.data ?? []), Array.from(t.data), k);
  for (const x of [m, ckpt.model, best.model]) await x.dispose();
});
