/**
 * The ui page's training worker: loads the chosen base (the embedded one, or a BERT-family base
 * the ui server serves), trains a Houlsby adapter with
 * {@link TabRun} on onnxruntime-web (the frozen base in fp32, or in int8 under the outlier guard,
 * whose summary goes to the page), reports every trainer event to the page, stops and resumes
 * on request, and classifies texts with the model trained so far or with a saved task opened
 * for Predict (predict-only, its frozen base in fp32 or int8 as the page asks). Running in a worker keeps the
 * page responsive while ONNX Runtime computes. Messages: protocol.ts.
 */
import { AdapterkitError } from '../../errors.js';
import { configureWebRuntime, webRuntimeThreads, webThreadsAvailable } from '../../engine/runtime/ort-web.js';
import { adapterConfig, type MethodConfig } from '../../adapters/methods/index.js';
import { headConfig } from '../../heads/head.js';
import type { BaseModel } from '../../models/base-model.js';
import { predictTexts } from '../../train/evaluate.js';
import { TaskModel } from '../../train/task-model.js';
import { checkFrozenPrecision, summarizeFrozenPlan, type FrozenPrecision } from '../../train/frozen-precision.js';
import { TabRun } from '../tab-run.js';
import { floatsToBase64, taskModelFromUpload, type TaskUpload } from '../task-upload.js';
import { fetchUseLiteBase } from '../use-lite-assets.js';
import { bertBaseFrom } from '../bert-assets.js';
import { EMBEDDED_BASE_NAME, type BrowserTask, type BrowserTrainConfig, type FromWorker, type ServedBase, type ToWorker } from '../protocol.js';

interface WorkerScope {
  postMessage(m: FromWorker): void;
  addEventListener(type: 'message', cb: (e: { data: ToWorker }) => void): void;
}
const scope = globalThis as unknown as WorkerScope;
const post = (m: FromWorker): void => scope.postMessage(m);

let assetsUrl = '';
let basesUrl = '';
let served: readonly ServedBase[] = [];
/** Bases loaded so far, by name (the embedded one under {@link EMBEDDED_BASE_NAME}). */
const bases = new Map<string, Promise<BaseModel>>();
let run: { tab: TabRun; labels: readonly string[]; name: string; adapter: MethodConfig; maxLength: number; base: string } | undefined;
let abort: AbortController | undefined;

type Phase = 'init' | 'train' | 'predict' | 'export' | 'load';

/** A saved task opened for Predict: its upload, and its predict-only model at each precision asked for so far (fp32 built when it opens). */
interface OpenedTask {
  readonly upload: TaskUpload;
  readonly models: Map<FrozenPrecision, TaskModel>;
}

/** Saved tasks opened for Predict, by name. */
const loaded = new Map<string, OpenedTask>();

async function loadTask(u: TaskUpload): Promise<void> {
  const model = taskModelFromUpload(await loadBase(u.base), u);
  await disposeTask(loaded.get(u.name));
  loaded.set(u.name, { upload: u, models: new Map([['fp32', model]]) });
  post({ type: 'task-loaded', name: u.name, labels: u.labels, ...(u.base !== undefined ? { base: u.base } : {}) });
}

async function disposeTask(t: OpenedTask | undefined): Promise<void> {
  for (const m of t?.models.values() ?? []) await m.dispose();
}

/** The opened task's model at `precision`, built on first use (int8: its guard's summary goes to the page when it has measured). */
async function openedModel(name: string, t: OpenedTask, precision: FrozenPrecision): Promise<TaskModel> {
  let m = t.models.get(precision);
  if (!m) {
    m = taskModelFromUpload(await loadBase(t.upload.base), t.upload, { frozenPrecision: precision, onFrozenPlan: (plan) => post({ type: 'frozen-plan', task: name, summary: summarizeFrozenPlan(plan) }) });
    t.models.set(precision, m);
  }
  return m;
}

function errorMessage(e: unknown, during: Phase): FromWorker {
  return e instanceof AdapterkitError ? { type: 'error', code: e.code, message: e.message, during } : { type: 'error', code: 'INTERNAL', message: String((e as Error)?.message ?? e), during };
}

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new AdapterkitError('BAD_FILE', `cannot fetch ${url}: HTTP ${r.status}`);
  return r;
}

/** A served BERT-family base, its files fetched from the ui server (see served-bases.ts). */
async function fetchServedBase(b: ServedBase): Promise<BaseModel> {
  const url = (f: string) => `${basesUrl}${encodeURIComponent(b.name)}/${f}`;
  const text = async (f: string) => (b.files.includes(f) ? (await fetchOk(url(f))).text() : undefined);
  const json = async (f: string) => {
    const t = await text(f);
    return t === undefined ? undefined : (JSON.parse(t) as Record<string, unknown>);
  };
  const weights = new Map<string, Uint8Array>();
  for (const f of b.files.filter((x) => x.endsWith('.safetensors'))) weights.set(f, new Uint8Array(await (await fetchOk(url(f))).arrayBuffer()));
  const [config, tokenizerJson, vocabTxt, tokenizerConfig, specialTokensMap] = await Promise.all([json('config.json'), json('tokenizer.json'), text('vocab.txt'), json('tokenizer_config.json'), json('special_tokens_map.json')]);
  return bertBaseFrom({
    id: b.name, config: config ?? {}, weights,
    ...(tokenizerJson ? { tokenizerJson } : {}), ...(vocabTxt !== undefined ? { vocabTxt } : {}),
    ...(tokenizerConfig ? { tokenizerConfig } : {}), ...(specialTokensMap ? { specialTokensMap } : {}),
  });
}

/** The base named `name` (the embedded one by default), loaded once. */
function loadBase(name: string = EMBEDDED_BASE_NAME): Promise<BaseModel> {
  let p = bases.get(name);
  if (!p) {
    if (name === EMBEDDED_BASE_NAME) {
      post({ type: 'status', text: 'loading the embedded base (USE-lite, 7M parameters)…' });
      p = fetchUseLiteBase(assetsUrl);
    } else {
      const b = served.find((x) => x.name === name);
      if (!b) return Promise.reject(new AdapterkitError('BAD_CONFIG', `no base ${JSON.stringify(name)} (bases: ${[EMBEDDED_BASE_NAME, ...served.map((x) => x.name)].join(', ')})`));
      post({ type: 'status', text: `loading the base ${b.name} (${b.family}) from the server…` });
      p = fetchServedBase(b);
    }
    bases.set(name, p);
    p.catch(() => bases.delete(name));
  }
  return p;
}

async function start(task: BrowserTask, c: BrowserTrainConfig): Promise<void> {
  const baseName = c.base ?? EMBEDDED_BASE_NAME;
  const b = await loadBase(baseName);
  post({ type: 'status', text: 'building the training graph…' });
  const adapter = adapterConfig({ size: c.adapterSize });
  const frozenPrecision = checkFrozenPrecision(c.frozenPrecision ?? 'fp32', 'frozen precision');
  const model = TaskModel.create(b, {
    mode: { kind: 'adapters', adapter },
    head: headConfig({ kind: 'classification', labels: [...task.labels] }),
    seed: c.seed,
    ...(frozenPrecision === 'int8' ? { frozenPrecision, onFrozenPlan: (plan) => post({ type: 'frozen-plan', summary: summarizeFrozenPlan(plan) }) } : {}),
  });
  const tab = new TabRun(model, task.train, task.dev, {
    taskName: task.name, metrics: task.metrics, lr: c.lr, epochs: c.epochs, batchSize: c.batchSize, maxLength: c.maxLength,
    seed: c.seed, ...(c.maxSteps !== undefined ? { maxSteps: c.maxSteps } : {}), ...(c.evalEvery !== undefined ? { evalEvery: c.evalEvery } : {}),
    onEvent: (event) => post({ type: 'event', event }),
  });
  run = { tab, labels: task.labels, name: taskName(task.name), adapter, maxLength: c.maxLength, base: baseName };
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
    ...(run.base !== EMBEDDED_BASE_NAME ? { base: run.base } : {}),
    training: { step: tab.step, ...(best ? { best: { step: best.step, dev: best.metrics } } : {}), where: 'a browser tab (adapterkit ui, onnxruntime-web)' },
  };
  post({ type: 'exported', upload });
}

async function predict(id: number, texts: readonly string[], name: string | undefined, frozenPrecision: FrozenPrecision | undefined): Promise<void> {
  const precision = checkFrozenPrecision(frozenPrecision ?? 'fp32', 'frozen precision');
  let chosen: { model: TaskModel; labels: readonly string[]; maxLength: number } | undefined;
  if (name === undefined) chosen = run ? { model: run.tab.model, labels: run.labels, maxLength: run.maxLength } : undefined;
  else {
    const t = loaded.get(name);
    if (t) chosen = { model: await openedModel(name, t, precision), labels: t.upload.labels, maxLength: t.upload.maxLength };
  }
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
      basesUrl = m.basesUrl ?? '';
      served = m.bases ?? [];
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
  } else if (m.type === 'predict') predict(m.id, m.texts, m.model, m.frozenPrecision).catch(fail('predict'));
  else if (m.type === 'load-task') loadTask(m.upload).catch(fail('load'));
  else if (m.type === 'export') {
    try {
      exportTask();
    } catch (err) {
      fail('export')(err);
    }
  }
});
