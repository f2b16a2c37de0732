/**
 * The ui page's training worker: loads the embedded base, trains a Houlsby adapter with
 * {@link TabRun} on onnxruntime-web, reports every trainer event to the page, stops and resumes
 * on request, and classifies texts with the model trained so far or with a saved task opened
 * for Predict. Running in a worker keeps the
 * page responsive while ONNX Runtime computes. Messages: protocol.ts.
 */
import { AdapterkitError } from '../../errors.js';
import { configureWebRuntime, webRuntimeThreads, webThreadsAvailable } from '../../engine/runtime/ort-web.js';
import { adapterConfig, type MethodConfig } from '../../adapters/methods/index.js';
import { headConfig } from '../../heads/head.js';
import type { BaseModel } from '../../models/base-model.js';
import { predictTexts } from '../../train/evaluate.js';
import { TaskModel } from '../../train/task-model.js';
import { TabRun } from '../tab-run.js';
import { base64ToFloats, floatsToBase64, type TaskUpload } from '../task-upload.js';
import { f32 } from '../../engine/tensor.js';
import { fetchUseLiteBase } from '../use-lite-assets.js';
import type { BrowserTask, BrowserTrainConfig, FromWorker, ToWorker } from '../protocol.js';

interface WorkerScope {
  postMessage(m: FromWorker): void;
  addEventListener(type: 'message', cb: (e: { data: ToWorker }) => void): void;
}
const scope = globalThis as unknown as WorkerScope;
const post = (m: FromWorker): void => scope.postMessage(m);

let assetsUrl = '';
let base: Promise<BaseModel> | undefined;
let run: { tab: TabRun; labels: readonly string[]; name: string; adapter: MethodConfig; maxLength: number } | undefined;
let abort: AbortController | undefined;

type Phase = 'init' | 'train' | 'predict' | 'export' | 'load';

/** Saved tasks opened for Predict, by name. */
const loaded = new Map<string, { model: TaskModel; labels: readonly string[]; maxLength: number }>();

async function loadTask(u: TaskUpload): Promise<void> {
  const b = await loadBase();
  const weights = new Map(Object.entries(u.tensors).map(([name, t]) => [name, f32([...t.shape], base64ToFloats(t.data, t.shape.reduce((x, y) => x * y, 1), `tensor ${name}`))]));
  const model = TaskModel.create(b, { mode: { kind: 'adapters', adapter: u.adapter }, head: headConfig({ kind: 'classification', labels: [...u.labels] }), seed: 0, weights });
  await loaded.get(u.name)?.model.dispose();
  loaded.set(u.name, { model, labels: u.labels, maxLength: u.maxLength });
  post({ type: 'task-loaded', name: u.name, labels: u.labels });
}

function errorMessage(e: unknown, during: Phase): FromWorker {
  return e instanceof AdapterkitError ? { type: 'error', code: e.code, message: e.message, during } : { type: 'error', code: 'INTERNAL', message: String((e as Error)?.message ?? e), during };
}

function loadBase(): Promise<BaseModel> {
  if (!base) {
    post({ type: 'status', text: 'loading the embedded base (USE-lite, 7M parameters)…' });
    base = fetchUseLiteBase(assetsUrl);
    base.catch(() => (base = undefined));
  }
  return base;
}

async function start(task: BrowserTask, c: BrowserTrainConfig): Promise<void> {
  const b = await loadBase();
  post({ type: 'status', text: 'building the training graph…' });
  const adapter = adapterConfig({ size: c.adapterSize });
  const model = TaskModel.create(b, {
    mode: { kind: 'adapters', adapter },
    head: headConfig({ kind: 'classification', labels: [...task.labels] }),
    seed: c.seed,
  });
  const tab = new TabRun(model, task.train, task.dev, {
    taskName: task.name, metrics: task.metrics, lr: c.lr, epochs: c.epochs, batchSize: c.batchSize, maxLength: c.maxLength,
    seed: c.seed, ...(c.maxSteps !== undefined ? { maxSteps: c.maxSteps } : {}), ...(c.evalEvery !== undefined ? { evalEvery: c.evalEvery } : {}),
    onEvent: (event) => post({ type: 'event', event }),
  });
  run = { tab, labels: task.labels, name: taskName(task.name), adapter, maxLength: c.maxLength };
  await continueRun();
}

async function continueRun(): Promise<void> {
  if (!run) return;
  abort = new AbortController();
  const { tab } = run;
  const out = await tab.run(abort.signal);
  abort = undefined;
  if (out.kind === 'stopped') post({ type: 'stopped', step: out.step, totalSteps: tab.totalSteps });
  else {
    const best = tab.best;
    post({ type: 'finished', step: out.step, reason: out.reason, ...(best ? { best: { step: best.step, metrics: Object.fromEntries(Object.entries(best.metrics).map(([k, v]) => [k, v ?? null])) } } : {}) });
  }
}

/** A task name saveTask accepts (letters, digits, _ and -), from a dataset or file name. */
function taskName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'task';
}

/** The model in the tab (its weights as they are now, what Predict uses) for Download. */
function exportTask(): void {
  if (!run) {
    post({ type: 'error', code: 'BAD_CONFIG', message: 'train a model first: there is nothing to download yet', during: 'export' });
    return;
  }
  const { tab } = run;
  const tensors: Record<string, { shape: readonly number[]; data: string }> = {};
  for (const [name, t] of tab.model.owned) tensors[name] = { shape: t.shape, data: floatsToBase64(t.data) };
  const best = tab.best;
  const upload: TaskUpload = {
    name: run.name, labels: run.labels, adapter: run.adapter, maxLength: run.maxLength, tensors,
    training: { step: tab.step, ...(best ? { best: { step: best.step, dev: best.metrics } } : {}), where: 'a browser tab (adapterkit ui, onnxruntime-web)' },
  };
  post({ type: 'exported', upload });
}

async function predict(id: number, texts: readonly string[], name: string | undefined): Promise<void> {
  const chosen = name === undefined ? (run ? { model: run.tab.model, labels: run.labels, maxLength: run.maxLength } : undefined) : loaded.get(name);
  if (!chosen) {
    post({ type: 'error', code: 'BAD_CONFIG', message: name === undefined ? 'train a model first: there is nothing to predict with yet' : `no task ${name} is open`, during: 'predict' });
    return;
  }
  const preds = await predictTexts(chosen.model, texts, { maxLength: chosen.maxLength });
  post({ type: 'predictions', id, labels: chosen.labels, predictions: preds.map((p) => ({ label: String(p.label ?? p.value), probs: p.probs, logits: p.logits })) });
}

scope.addEventListener('message', (e) => {
  const m = e.data;
  const fail = (during: Phase) => (err: unknown) => post(errorMessage(err, during));
  if (m.type === 'init') {
    try {
      assetsUrl = m.assetsUrl;
      configureWebRuntime({ ...(m.threads !== undefined ? { threads: m.threads } : {}), wasmPaths: m.ortUrl });
      post({ type: 'ready', threads: webRuntimeThreads(), isolated: webThreadsAvailable(), runtime: 'onnxruntime-web (wasm)' });
    } catch (err) {
      post(errorMessage(err, 'init'));
    }
  } else if (m.type === 'train') {
    if (abort) return post({ type: 'error', code: 'BAD_CONFIG', message: 'a run is training: stop it first', during: 'train' });
    start(m.task, m.config).catch(fail('train'));
  } else if (m.type === 'stop') abort?.abort();
  else if (m.type === 'resume') {
    if (!abort) continueRun().catch(fail('train'));
  } else if (m.type === 'predict') predict(m.id, m.texts, m.model).catch(fail('predict'));
  else if (m.type === 'load-task') loadTask(m.upload).catch(fail('load'));
  else if (m.type === 'export') {
    try {
      exportTask();
    } catch (err) {
      fail('export')(err);
    }
  }
});
