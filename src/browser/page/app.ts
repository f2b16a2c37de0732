/// <reference lib="dom" />
/**
 * The ui page's script: the Train part (pick the embedded base or a BERT-family base the server
 * offers (`/api/bases`), and a built-in dataset or drop a
 * CSV, train a Houlsby adapter in a worker with live loss and dev-metric charts, a progress bar,
 * stop and resume), the Predict part (classify texts with the model trained in the tab, or with a
 * saved task: a dropped zip or one the server was started with, its frozen base in fp32 or int8) and the
 * Download part (the task directory as a zip, written by the ui server with saveTask).
 * It talks to the worker through the messages of protocol.ts and to the ui server for the
 * built-in datasets (`/api/datasets`).
 */
import { AdapterkitError } from '../../errors.js';
import { tabularTaskFromTexts } from '../../train/data/tabular-task.js';
import type { Example } from '../../train/data/types.js';
import type { BrowserPrediction, BrowserTask, BrowserTrainConfig, FromWorker, ServedBase, ToWorker } from '../protocol.js';
import type { TaskUpload } from '../task-upload.js';
import { lineChart } from './chart.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

const worker = new Worker('/app/worker.js', { type: 'module' });
const send = (m: ToWorker): void => worker.postMessage(m);

let lastPredictions: readonly BrowserPrediction[] = [];

/** What the page knows of the run. */
const state = {
  losses: [] as [number, number][],
  dev: [] as [number, number][],
  devMetric: '',
  totalSteps: 0,
  training: false,
  stopped: false,
  trained: false,
  /** Runs started in this tab (Train presses that reached the worker). */
  runs: 0,
  /** The int8 outlier guard's summary of the current run ('' with an fp32 base, or before it has run). */
  frozenPlan: '',
  /** The guard's summaries of opened tasks predicting with an int8 base, by task name. */
  predictPlans: {} as Record<string, string>,
  csv: undefined as BrowserTask | undefined,
};

function setMessage(text: string, kind: 'info' | 'error' = 'info'): void {
  const m = $('message');
  m.textContent = text;
  m.className = kind;
}

function setButtons(): void {
  $<HTMLButtonElement>('train').disabled = state.training;
  $<HTMLButtonElement>('stop').disabled = !state.training;
  $<HTMLButtonElement>('resume').disabled = state.training || !state.stopped;
  $<HTMLButtonElement>('classify').disabled = !state.trained && !state.stopped && !state.training && $<HTMLSelectElement>('predict-model').value === 'tab';
  $<HTMLButtonElement>('download').disabled = state.training || (!state.trained && !state.stopped);
}

/** The precision select applies to saved tasks (the tab's model predicts as it trains); the guard's summary of the chosen one with int8. */
function showPredictPlan(): void {
  const model = $<HTMLSelectElement>('predict-model').value;
  const precision = $<HTMLSelectElement>('predict-precision');
  precision.disabled = model === 'tab';
  const plan = model !== 'tab' && precision.value === 'int8' ? state.predictPlans[model] : undefined;
  $('predict-plan').textContent = plan ? `saved task ${model}: ${plan}` : '';
}

function drawCharts(): void {
  $('loss-chart').innerHTML = lineChart(state.losses, { title: 'training loss', xLabel: 'step' });
  $('dev-chart').innerHTML = lineChart(state.dev, { title: state.devMetric ? `dev ${state.devMetric}` : 'dev metric', xLabel: 'step', points: true });
}

function setProgress(step: number): void {
  const p = $<HTMLProgressElement>('progress');
  p.max = Math.max(1, state.totalSteps);
  p.value = step;
  $('progress-text').textContent = `step ${step} / ${state.totalSteps}`;
}

function num(id: string, what: string, o: { integer?: boolean; min?: number; optional?: boolean } = {}): number | undefined {
  const raw = $<HTMLInputElement>(id).value.trim();
  if (raw === '' && o.optional) return undefined;
  const v = Number(raw);
  if (raw === '' || !Number.isFinite(v) || (o.integer && !Number.isInteger(v)) || (o.min !== undefined && v < o.min)) {
    throw new AdapterkitError('BAD_CONFIG', `${what} must be ${o.integer ? 'an integer' : 'a number'}${o.min !== undefined ? ` >= ${o.min}` : ''}, got "${raw}"`);
  }
  return v;
}

function readConfig(): BrowserTrainConfig {
  const maxSteps = num('max-steps', 'max steps', { integer: true, min: 1, optional: true });
  const evalEvery = num('eval-every', 'evaluate every', { integer: true, min: 1, optional: true });
  return {
    adapterSize: num('adapter-size', 'adapter size', { integer: true, min: 1 }) as number,
    lr: num('lr', 'learning rate', { min: 0 }) as number,
    epochs: num('epochs', 'epochs', { integer: true, min: 1 }) as number,
    batchSize: num('batch-size', 'batch size', { integer: true, min: 1 }) as number,
    maxLength: num('max-length', 'max length', { integer: true, min: 2 }) as number,
    seed: num('seed', 'seed', { integer: true, min: 0 }) as number,
    base: $<HTMLSelectElement>('base').value,
    frozenPrecision: $<HTMLSelectElement>('frozen-precision').value === 'int8' ? 'int8' : 'fp32',
    ...(maxSteps !== undefined ? { maxSteps } : {}),
    ...(evalEvery !== undefined ? { evalEvery } : {}),
  };
}

/** The chosen built-in dataset, cut to the example counts asked for. */
async function builtinTask(name: string): Promise<BrowserTask> {
  const train = num('train-examples', 'training examples', { integer: true, min: 1 }) as number;
  const dev = num('dev-examples', 'dev examples', { integer: true, min: 0 }) as number;
  const r = await fetch(`/api/datasets/${encodeURIComponent(name)}?train=${train}&dev=${dev}`);
  const body = (await r.json()) as BrowserTask & { message?: string };
  if (!r.ok) throw new AdapterkitError('BAD_DATA', body.message ?? `the server could not load ${name} (HTTP ${r.status})`);
  return body;
}

/**
 * A dropped CSV as a task: the text and label columns named on the page, every 10th row held
 * out as the dev split. Errors name the file, the line and the column.
 */
async function csvTask(file: File): Promise<BrowserTask> {
  const text = (await file.text()).replace(/^\uFEFF/, '');
  const textColumn = $<HTMLInputElement>('csv-text').value.trim() || 'text';
  const labelColumn = $<HTMLInputElement>('csv-label').value.trim() || 'label';
  const task = await tabularTaskFromTexts({ files: { train: file.name }, columns: { text: textColumn, label: labelColumn }, kind: 'classification', format: 'csv', name: file.name.replace(/\.[^.]*$/, '') }, async () => text);
  const rows = task.splits.train ?? [];
  if (task.labels.length < 2) throw new AdapterkitError('BAD_DATA', `${file.name}: the label column "${labelColumn}" holds ${task.labels.length === 0 ? 'no labels' : `one label only (${task.labels[0]})`}; a classifier needs at least 2`);
  const train: Example[] = [];
  const dev: Example[] = [];
  rows.forEach((e, i) => (i % 10 === 9 ? dev : train).push({ id: e.id, textA: e.textA, ...(e.label !== undefined ? { label: e.label } : {}) }));
  if (train.length === 0) throw new AdapterkitError('BAD_DATA', `${file.name}: no training rows`);
  return { name: task.name, labels: task.labels, train, dev, metrics: task.metrics };
}

async function onCsv(file: File): Promise<void> {
  try {
    state.csv = await csvTask(file);
    const c = state.csv;
    $('csv-info').textContent = `${file.name}: ${c.train.length} training and ${c.dev.length} dev rows, labels ${c.labels.join(', ')}`;
    $<HTMLSelectElement>('dataset').value = 'csv';
    setMessage(`loaded ${file.name}`);
  } catch (e) {
    state.csv = undefined;
    $('csv-info').textContent = '';
    setMessage(`${file.name} was not loaded: ${(e as Error).message}${state.trained || state.stopped ? ' (the model trained so far is kept)' : ''}`, 'error');
  }
}

async function onTrain(): Promise<void> {
  try {
    const config = readConfig();
    const choice = $<HTMLSelectElement>('dataset').value;
    let task: BrowserTask;
    if (choice === 'csv') {
      if (!state.csv) throw new AdapterkitError('BAD_DATA', 'drop a CSV file first (or pick a built-in dataset)');
      task = state.csv;
    } else task = await builtinTask(choice);
    state.losses = [];
    state.dev = [];
    state.frozenPlan = '';
    $('frozen-plan').textContent = '';
    state.devMetric = task.metrics[0] ?? '';
    state.training = true;
    state.stopped = false;
    state.runs++;
    setButtons();
    drawCharts();
    setMessage(`training on ${task.name}: ${task.train.length} examples, labels ${task.labels.join(', ')}`);
    send({ type: 'train', task, config });
  } catch (e) {
    setMessage((e as Error).message, 'error');
  }
}

worker.addEventListener('message', (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  if (m.type === 'ready') {
    $('runtime').textContent = `${m.runtime}, ${m.threads} thread${m.threads > 1 ? 's' : ''}${m.isolated ? ' (cross-origin isolated)' : ' (not cross-origin isolated: one thread)'}`;
  } else if (m.type === 'status') setMessage(m.text);
  else if (m.type === 'frozen-plan') {
    if (m.task !== undefined) {
      state.predictPlans[m.task] = m.summary;
      showPredictPlan();
    } else {
      state.frozenPlan = m.summary;
      $('frozen-plan').textContent = m.summary;
    }
  }
  else if (m.type === 'event') {
    const ev = m.event;
    if (ev.type === 'start') {
      state.totalSteps = ev.totalSteps;
      setProgress(ev.resumedAt);
      setMessage(ev.resumedAt > 0 ? `resumed at step ${ev.resumedAt}` : `training: ${ev.totalSteps} steps on ${ev.examples} examples`);
    } else if (ev.type === 'step') {
      state.losses.push([ev.step, ev.loss]);
      setProgress(ev.step);
      $('loss-now').textContent = `loss ${ev.loss.toFixed(4)}, ${ev.examplesPerSec.toFixed(1)} examples/s`;
      drawCharts();
    } else if (ev.type === 'eval') {
      const v = ev.metrics[state.devMetric];
      if (v !== undefined) state.dev.push([ev.step, v]);
      $('dev-now').textContent = `dev ${Object.entries(ev.metrics).map(([k, x]) => `${k} ${x === undefined ? '–' : x.toFixed(4)}`).join(', ')}${ev.best ? ' (best so far)' : ''}`;
      drawCharts();
    } else if (ev.type === 'eval-progress') setMessage(`evaluating on the dev split: ${ev.done} / ${ev.total}`);
  } else if (m.type === 'stopped') {
    state.training = false;
    state.stopped = true;
    setButtons();
    setMessage(`stopped at step ${m.step} of ${m.totalSteps}: Resume continues from there`);
  } else if (m.type === 'finished') {
    state.training = false;
    state.stopped = false;
    state.trained = true;
    setButtons();
    const best = m.best ? `; best dev ${Object.entries(m.best.metrics).map(([k, v]) => `${k} ${v === null ? '–' : v.toFixed(4)}`).join(', ')} at step ${m.best.step}` : '';
    setMessage(`finished after ${m.step} steps (${m.reason})${best}`);
  } else if (m.type === 'predictions') {
    lastPredictions = m.predictions;
    const texts = $<HTMLTextAreaElement>('predict-text').value.split('\n').filter((t) => t.trim() !== '');
    $('predictions').innerHTML = `<table><thead><tr><th>text</th><th>label</th>${m.labels.map((l) => `<th>p(${escapeHtml(l)})</th>`).join('')}</tr></thead><tbody>${m.predictions
      .map((p, i) => `<tr><td>${escapeHtml(texts[i] ?? '')}</td><td class="label">${escapeHtml(p.label)}</td>${p.probs.map((x) => `<td>${x.toFixed(4)}</td>`).join('')}</tr>`)
      .join('')}</tbody></table>`;
  } else if (m.type === 'exported') void download(m.upload);
  else if (m.type === 'task-loaded') {
    const select = $<HTMLSelectElement>('predict-model');
    const label = `saved task ${m.name} (${m.labels.join(', ')}${m.base !== undefined ? `; on ${m.base}` : ''})`;
    const option = [...select.options].find((o) => o.value === m.name);
    if (option) option.text = label; // a task opened again under its name: its labels or base may have changed
    else select.add(new Option(label, m.name));
    select.value = m.name;
    delete state.predictPlans[m.name];
    showPredictPlan();
    $<HTMLButtonElement>('classify').disabled = false;
    setMessage(`opened the saved task ${m.name} for Predict`);
  }
  else if (m.type === 'error') {
    if (m.during === 'train') {
      state.training = false;
      setButtons();
    }
    setMessage(`${{ predict: 'prediction', init: 'start-up', train: 'training', export: 'download', load: 'opening the task' }[m.during]} failed (${m.code}): ${m.message}`, 'error');
  }
});

let lastZip: Uint8Array | undefined;

/** Asks the ui server to read a saved task (a dropped zip, or one named with --task) and opens it in the worker. */
async function openTask(request: Promise<Response>, what: string): Promise<void> {
  try {
    const r = await request;
    const body = (await r.json()) as TaskUpload & { code?: string; message?: string };
    if (!r.ok) throw new AdapterkitError('BAD_FILE', `${what} was not opened (${body.code ?? r.status}): ${body.message ?? ''}`);
    send({ type: 'load-task', upload: body });
  } catch (e) {
    setMessage((e as Error).message, 'error');
  }
}

/** Has the ui server write the task with the library's saveTask, then saves the zip. */
async function download(upload: TaskUpload): Promise<void> {
  try {
    setMessage('writing the task directory…');
    const r = await fetch('/api/tasks/zip', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upload) });
    if (!r.ok) {
      const body = (await r.json().catch(() => ({}))) as { code?: string; message?: string };
      throw new AdapterkitError('BAD_DATA', `the server could not write the task (${body.code ?? r.status}): ${body.message ?? ''}`);
    }
    lastZip = new Uint8Array(await r.arrayBuffer());
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([lastZip as Uint8Array<ArrayBuffer>], { type: 'application/zip' }));
    a.download = `${upload.name}.zip`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    setMessage(`downloaded ${upload.name}.zip (${(lastZip.byteLength / 1024).toFixed(0)} KiB): unzip it and run adapterkit eval ${upload.name} --dataset …, or adapterkit predict`);
  } catch (e) {
    setMessage((e as Error).message, 'error');
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function init(): Promise<void> {
  const threadsParam = new URLSearchParams(location.search).get('threads');
  const bases = (await (await fetch('/api/bases')).json()) as ServedBase[];
  const baseSelect = $<HTMLSelectElement>('base');
  for (const b of bases) baseSelect.add(new Option(`${b.name} — a ${b.family} base served by adapterkit ui (${b.files.filter((f) => f.endsWith('.safetensors')).join(', ')})`, b.name));
  send({ type: 'init', assetsUrl: `${location.origin}/assets/use-lite/`, ortUrl: `${location.origin}/ort/`, basesUrl: `${location.origin}/assets/bases/`, bases, ...(threadsParam ? { threads: Number(threadsParam) } : {}) });
  const r = await fetch('/api/datasets');
  const list = (await r.json()) as { name: string; description: string; sizes: { train: number } }[];
  const select = $<HTMLSelectElement>('dataset');
  select.innerHTML = `${list.map((d) => `<option value="${escapeHtml(d.name)}">${escapeHtml(d.name)} — ${escapeHtml(d.description)}</option>`).join('')}<option value="csv">a CSV file (drop it below)</option>`;
  $('train').addEventListener('click', () => void onTrain());
  $('stop').addEventListener('click', () => send({ type: 'stop' }));
  $('resume').addEventListener('click', () => {
    state.training = true;
    state.stopped = false;
    setButtons();
    send({ type: 'resume' });
  });
  $('download').addEventListener('click', () => send({ type: 'export' }));
  $<HTMLInputElement>('task-zip').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void openTask(fetch(`/api/tasks/open?name=${encodeURIComponent(f.name)}`, { method: 'POST', headers: { 'content-type': 'application/zip' }, body: f }), f.name);
  });
  for (const name of (await (await fetch('/api/tasks')).json()) as string[]) void openTask(fetch(`/api/tasks/${encodeURIComponent(name)}`), `task ${name}`);
  $('classify').addEventListener('click', () => {
    const texts = $<HTMLTextAreaElement>('predict-text').value.split('\n').filter((t) => t.trim() !== '');
    if (texts.length === 0) return setMessage('type one text per line to classify', 'error');
    const model = $<HTMLSelectElement>('predict-model').value;
    const frozenPrecision = $<HTMLSelectElement>('predict-precision').value === 'int8' ? 'int8' : 'fp32';
    send({ type: 'predict', id: Date.now(), texts, ...(model === 'tab' ? {} : { model, frozenPrecision }) });
  });
  for (const id of ['predict-model', 'predict-precision']) $(id).addEventListener('change', () => {
    showPredictPlan();
    setButtons();
  });
  const drop = $('csv-drop');
  drop.addEventListener('dragover', (e) => e.preventDefault());
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer?.files[0];
    if (f) void onCsv(f);
  });
  $<HTMLInputElement>('csv-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void onCsv(f);
  });
  setButtons();
  showPredictPlan();
  drawCharts();
  // Read-only view of the page's run for scripts and the browser tests (the losses, the dev curve, the flags).
  (window as unknown as { adapterkitUi: unknown }).adapterkitUi = {
    state, predictions: () => lastPredictions,
    lastZipBase64: () => (lastZip ? btoa(Array.from(lastZip, (b) => String.fromCharCode(b)).join('')) : undefined),
  };
  document.body.dataset.ready = 'true';
}

void init();
