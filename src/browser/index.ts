/**
 * adapterkit's browser build: what runs in a page or worker on onnxruntime-web. Bundle it with
 * the substitutions of build.ts (`*-node.ts` -> `*-web.ts`; onnxruntime-web from a URL), or let
 * `adapterkit ui` do it. Files come in as bytes (fetch) rather than paths.
 *
 * @example
 * ```ts
 * configureWebRuntime({ threads: 2, wasmPaths: '/ort/' });
 * const base = await fetchUseLiteBase('/assets/use-lite/');
 * const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 64 }) }, head: headConfig({ kind: 'classification', labels: ['ham', 'spam'] }), seed: 42 });
 * const run = new TabRun(model, train, dev, { taskName: 'spam', metrics: ['f1', 'accuracy'], epochs: 1, onEvent: console.log });
 * await run.run(abort.signal); // { kind: 'stopped', step: 12 } or { kind: 'finished', ... }
 * ```
 */
export * from '../engine/index.js';
export { configureWebRuntime, webRuntimeThreads, webThreadsAvailable, type WebRuntimeOptions } from '../engine/runtime/ort-web.js';
export { AdapterkitError, ERROR_CODES, type ErrorCode } from '../errors.js';
export { adapterConfig, bottleneckConfig, loraConfig, ia3Config, methodConfig, METHOD_PRESETS, type MethodConfig } from '../adapters/methods/index.js';
export { headConfig, type HeadConfig } from '../heads/head.js';
export { baseFingerprint, baseParamCount, hfBaseTokenizer, type BaseModel, type BaseTokenizer, type TextInput } from '../models/base-model.js';
export { useLiteBaseFrom, useLiteBaseTokenizer, type UseLiteAssets } from '../models/use-lite/base.js';
export { BertEncoder } from '../models/bert/encoder.js';
export { parseBertConfig, type BertConfig } from '../models/bert/config.js';
export { HfJsonTokenizer, type HfJsonTokenizerOptions } from '../models/tokenizers/hf-json.js';
export { WordPieceTokenizer, parseVocabTxt } from '../models/tokenizers/wordpiece.js';
export { TaskModel, type TaskModelOptions } from '../train/task-model.js';
export { predictTexts, predictExamples, scorePredictions, type Prediction } from '../train/evaluate.js';
export { computeMetrics, type MetricName } from '../train/metrics/index.js';
export { tabularTaskFromTexts, type TabularTaskOptions } from '../train/data/tabular-task.js';
export type { Example, TaskData } from '../train/data/types.js';
export { AdamW } from '../train/optim/adamw.js';
export { linearWarmupDecay } from '../train/optim/schedule.js';
export { clipByGlobalNorm } from '../train/optim/clip.js';
export { runStepLoop } from '../train/trainer-loop.js';
export { TabRun, type TabRunOptions, type TabRunOutcome } from './tab-run.js';
export { fetchUseLiteBase, fetchUseLiteTokenizer } from './use-lite-assets.js';
export { bertBaseFrom, type BertFiles } from './bert-assets.js';
