/**
 * bench:serve row — one input for N tasks (POST /v1/classify with "tasks"): the model backend's
 * fan-out (each input runs once below the lowest adapter layer, then once per task above it) vs
 * N separate one-task calls of the same inputs, both through ModelBackend.classify (no HTTP),
 * interleaved, medians. Tasks: random Houlsby adapters (m = 64) without trained layer norms
 * (a trained embedding layer norm makes every layer task-specific), saved as `train
 * --adapter-drop n` saves them, for each n of BENCH_PARALLEL_DROP (default 0 and the last layer).
 * BENCH_PARALLEL_TASKS (default 3,8) gives N; BENCH_PARALLEL_INPUTS (default 8) inputs per request.
 * BENCH_PARALLEL_TAGGING=1 makes the last of the N tasks a tagging task (the same adapter, a tagging
 * head of 12 tags): the fan-out answers its words' tags in the same pass, against a separate
 * `tag` call of the same inputs.
 */
import { adapterConfig } from '../src/adapters/methods/index.js';
import { headConfig } from '../src/heads/head.js';
import type { BaseModel } from '../src/models/base.js';
import type { ClassifyItem } from '../src/serve/backend.js';
import { ModelBackend } from '../src/serve/model-backend.js';
import { TaskModel } from '../src/train/task-model.js';
import { randomData } from './common.js';

const list = (v: string | undefined, d: number[]) => (v ? v.split(',').map(Number) : d);

/** The tags of the tagging task of BENCH_PARALLEL_TAGGING (as many as Brown's simplified POS tags). */
const TAGS = ['O', 'NOUN', 'VERB', 'ADJ', 'ADV', 'ADP', 'DET', 'PRON', 'NUM', 'CONJ', 'PRT', 'X'];

/** A perturbed Houlsby task (m = 64, no trained layer norms) with static AdapterDrop of `drop` layers; a tagging head with `tagging`. */
function droppedTask(base: BaseModel, seed: number, drop: number, tagging = false): TaskModel {
  const m = TaskModel.create(base, {
    mode: { kind: 'adapters', adapters: [{ name: 'adapter', config: adapterConfig({ size: 64, trainLayerNorms: false }) }], active: 'adapter', ...(drop ? { adapterDrop: { kind: 'static', layers: drop } } : {}) },
    head: tagging ? headConfig({ kind: 'tagging', labels: TAGS }) : headConfig({ kind: 'classification', labels: ['a', 'b', 'c'] }), seed,
  });
  let k = seed * 1000;
  for (const t of m.trainable) {
    const noise = randomData(t.data.length, k++, 0.02);
    for (let i = 0; i < t.data.length; i++) t.data[i] = (t.data[i] as number) + (noise[i] as number);
  }
  return m;
}

/**
 * Runs the rows and pushes one summary row per (N, n). `interleaved` times its variants in turn
 * and returns their median ms (bench/serve.bench.ts's).
 */
export async function parallelTasks(base: BaseModel, texts: readonly string[], maxLength: number, rounds: number, interleaved: (v: (() => Promise<unknown>)[], rounds: number) => Promise<number[]>, summary: [string, string][]): Promise<void> {
  const counts = list(process.env.BENCH_PARALLEL_TASKS, [3, 8]);
  const drops = list(process.env.BENCH_PARALLEL_DROP, [0, base.encoder.numLayers - 1]);
  const nInputs = Number(process.env.BENCH_PARALLEL_INPUTS ?? 8);
  const tagging = process.env.BENCH_PARALLEL_TAGGING === '1';
  console.log(`\n(7) one input for N tasks — ${nInputs} inputs x N Houlsby tasks (m=64, AdapterDrop n${tagging ? '; the last one tags' : ''}): one fan-out classify vs N one-task classify${tagging ? ' (tag)' : ''} calls (ModelBackend, no HTTP), interleaved, ${rounds} rounds, medians`);
  const inputs = texts.slice(0, nInputs);
  for (const drop of drops) {
    for (const n of counts) {
      const backend = new ModelBackend(base, { maxLength });
      const names = Array.from({ length: n }, (_, i) => `t${i}`);
      const tagger = tagging ? names.at(-1) : undefined;
      names.forEach((name, i) => backend.attach(name, droppedTask(base, 700 + i, drop, name === tagger)));
      const fan: ClassifyItem[] = inputs.flatMap((input) => names.map((task) => ({ task, input })));
      const [fanMs, sepMs] = (await interleaved([
        () => backend.classify(fan),
        async () => {
          for (const task of names) await (task === tagger ? backend.tag(task, [...inputs]) : backend.classify(inputs.map((input) => ({ task, input }))));
        },
      ], rounds)) as [number, number];
      const answers = nInputs * n;
      console.log(`  N=${n}, n=${drop}: fan-out ${fanMs.toFixed(2)} ms (${(answers / fanMs * 1000).toFixed(0)} answers/s); ${n} separate calls ${sepMs.toFixed(2)} ms (${(answers / sepMs * 1000).toFixed(0)} answers/s); throughput fan-out / separate = ${(sepMs / fanMs).toFixed(2)}x`);
      summary.push([`${nInputs} inputs x ${n} tasks${tagger ? ' (1 tagging)' : ''}, AdapterDrop ${drop}: fan-out vs ${n} one-task calls`, `${fanMs.toFixed(1)} ms vs ${sepMs.toFixed(1)} ms = ${(sepMs / fanMs).toFixed(2)}x throughput`]);
      await backend.dispose();
    }
  }
}
