/**
 * A new setup that starts some adapters from trained tensors (`adapterWeights`, what
 * `train --with` uses): the named adapters hold exactly the given tensors, every other tensor is
 * the fresh initialisation of the same seed; incomplete or misshapen tensors are errors naming them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseComposition } from '../../src/adapters/composition.js';
import type { NamedAdapter } from '../../src/adapters/compose.js';
import { methodConfig } from '../../src/adapters/methods/index.js';
import { renameAdapterTensor } from '../../src/adapters/names.js';
import { f32, type HostTensor } from '../../src/engine/index.js';
import { headConfig } from '../../src/heads/head.js';
import { loadBase } from '../../src/models/base.js';
import { TaskModel } from '../../src/train/task-model.js';
import { Rng } from '../../src/util/random.js';

const ADAPTERS: NamedAdapter[] = [
  { name: 'lang', config: methodConfig('pfeiffer', { reduction_factor: 8 }), trainable: false },
  { name: 'task', config: methodConfig('lora', { r: 2 }) },
];
const HEAD = headConfig({ kind: 'classification', labels: ['a', 'b'] });

test('adapterWeights start the named adapters from the given tensors; the rest is the fresh initialisation', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  // a trained single adapter, as `train --with lang=<dir>` loads it (tensors under the task's adapter name)
  const single = TaskModel.create(base, { mode: { kind: 'adapters', adapter: ADAPTERS[0]!.config }, head: HEAD, seed: 1 });
  const r = new Rng(1);
  for (const t of single.trainable) for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + r.truncatedNormal(0.3);
  const given = new Map<string, HostTensor<'float32'>>();
  for (const [k, t] of single.owned) if (k.startsWith('adapters.adapter.')) given.set(renameAdapterTensor(k, 'lang'), t);
  const mode = { kind: 'adapters' as const, adapters: ADAPTERS, active: parseComposition('Stack(lang, task)') };
  const fresh = TaskModel.create(base, { mode, head: HEAD, seed: 4 });
  const started = TaskModel.create(base, { mode, head: HEAD, seed: 4, adapterWeights: given });
  for (const [k, t] of started.owned) {
    const want = given.get(k) ?? fresh.owned.get(k);
    assert.deepEqual(Array.from(t.data), Array.from(want?.data ?? []), k);
  }
  assert.ok([...given.keys()].every((k) => started.owned.get(k)?.data !== given.get(k)?.data), 'copies, not the caller\'s arrays');
  assert.deepEqual(started.trainable.map((t) => t.name), fresh.trainable.map((t) => t.name), 'the frozen adapter stays frozen');
  const batch = base.tokenizer.encode(['a good book', 'the cat sat'], 16);
  assert.notDeepEqual(Array.from(await started.predict(batch)), Array.from(await fresh.predict(batch)));

  const first = [...given.keys()][0] as string;
  const cases: [ReadonlyMap<string, HostTensor<'float32'>>, RegExp][] = [
    [new Map([...given].slice(1)), new RegExp(`adapterWeights: adapter lang lacks ${first.replace(/\./g, '\\.')}`)],
    [new Map([...given, ['adapters.other.0.query.lora_A', f32([2, 2], [1, 2, 3, 4])]]), /adapterWeights: adapters\.other\.0\.query\.lora_A is not an adapter tensor of this model/],
    [new Map([...given, [first, f32([1], [1])]]), new RegExp(`adapterWeights: ${first.replace(/\./g, '\\.')} has shape \\[1\\], the model expects`)],
  ];
  for (const [w, re] of cases) assert.throws(() => TaskModel.create(base, { mode, head: HEAD, seed: 4, adapterWeights: w }), re);
  assert.throws(() => TaskModel.create(base, { mode, head: HEAD, seed: 4, adapterWeights: given, weights: started.owned }), /give either weights .* or adapterWeights/);
  for (const m of [single, fresh, started]) await m.dispose();
});
