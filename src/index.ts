/**
 * adapterkit — parameter-efficient transfer learning (bottleneck adapters, LoRA, IA³) for
 * TypeScript, with all tensor work on ONNX Runtime.
 *
 * @example
 * ```ts
 * import { loadBase, loadTask, TaskModel, adapterConfig, headConfig, train } from 'adapterkit';
 * const base = await loadBase();                       // the embedded USE-lite encoder
 * const data = await loadTask({ builtin: 'spam' });
 * const model = TaskModel.create(base, {
 *   mode: { kind: 'adapters', adapter: adapterConfig({ size: 64 }) },
 *   head: headConfig({ kind: data.kind, labels: data.labels }),
 *   seed: 42,
 * });
 * const r = await train(model, data.splits.train!, data.splits.dev, { outDir: 'runs/spam', taskName: 'spam', metrics: data.metrics });
 * console.log(r.best?.metrics); // e.g. { accuracy: 0.98, f1: 0.96 }
 * ```
 */
export { AdapterkitError, ERROR_CODES, type ErrorCode } from './errors.js';
export { VERSION } from './version.js';
export { loadBase, DEFAULT_BASE, baseFingerprint, baseParamCount, type BaseModel, type TextInput, type LoadBaseOptions } from './models/base.js';
export {
  adapterConfig, bottleneckConfig, loraConfig, ia3Config, methodConfig, methodOf, checkMethodConfig, fromAdapterHubConfig, METHODS, METHOD_PRESETS, PRESET_NAMES,
  type MethodConfig, type BottleneckConfig, type LoraConfig, type Ia3Config,
} from './adapters/methods/index.js';
export type { AdapterMethod, AdapterTensor, MethodHooks, MethodContext } from './adapters/method.js';
export {
  Stack, Fuse, Split, BatchSplit, Parallel, Average, parseComposition, formatComposition, checkComposition, ALLOWED_NESTINGS,
  type Composition, type Block,
} from './adapters/composition.js';
export type { NamedAdapter, AdapterDrop } from './adapters/compose.js';
export { fusionConfig, FUSION_PRESETS, DEFAULT_FUSION_PRESET, fuseName, type FusionConfig, type NamedFusion } from './adapters/fusion.js';
export { fusionTemperature, FUSION_TEMPERATURE_START, FUSION_TEMPERATURE_STEP, FUSION_TEMPERATURE_FLOOR, type FusionCallCounts } from './adapters/fusion-temperature.js';
export { mergeAdapters, MERGE_METHODS, type MergeMethod, type MergeOptions } from './adapters/merge.js';
export { mergeTaskModels, type MergeTasksOptions } from './train/merge-tasks.js';
export type { HookSites, SubLayerSite, LinearSite, AttentionSite, LinearRole, SubLayerName } from './models/sites.js';
export { headConfig, type HeadConfig, type HeadKind } from './heads/head.js';
export { HEAD_POOLINGS, type HeadPooling } from './heads/pooling.js';
export { TaskModel, type TaskModelOptions, type TaskModelStats } from './train/task-model.js';
export { describeMode, isAdapterSetup, MODE_NAMES, MODES, type TrainingMode, type AdapterSetupMode } from './train/modes.js';
export { train, DEFAULT_LR, type TrainOptions, type TrainResult, type TrainEvent } from './train/trainer.js';
export { saveTask, loadSavedTask, type SavedTask } from './train/task-io.js';
export {
  predictExamples, predictTexts, scorePredictions, toPrediction, type Prediction, type PredictExamplesOptions, type PredictTextsOptions, type TextOrPair,
} from './train/evaluate.js';
export { resolveMaxLength, DEFAULT_MAX_LENGTH, type MaxLengthOptions } from './train/max-length.js';
export {
  loadTask, loadTabularTask, listBuiltinDatasets, loadBuiltinDataset,
  type TaskSpec, type TabularTaskOptions, type TabularColumns, type ColumnRef, type TabularFormat,
} from './train/data/index.js';
export type { Example, TaskData, LoadedTask, LoadReport, TaskKind } from './train/data/types.js';
export { computeMetrics, type MetricName, type MetricValues } from './train/metrics/index.js';
export {
  loadTokenTask, predictTags, predictAnswers, taggingTrainingData, qaTrainingData, evaluateTagging, evaluateQa,
  type TokenTaskSpec, type QaInput, type AnswerPrediction,
} from './train/token-tasks/index.js';
export { trainOn, type TrainDataOptions } from './train/trainer.js';
export type { TrainingData } from './train/training-data.js';
export { listTokenDatasets, loadTokenDataset } from './train/data/builtin/index.js';
export { MultiTaskModel } from './train/multi-task-model.js';
export { trainMultiTask, type MultiTaskTask, type MultiTaskOptions, type MultiTaskResult, type MultiTaskEvent } from './train/multi-task-trainer.js';
export { MixedTaskTrainer, type MixedStepResult } from './train/multi-task-train-model.js';
export { mixedEpoch, taskProbabilities, parseSampling, type MultiTaskSampling } from './train/multi-task-sampling.js';
export { exportTask, type ExportOptions, type ExportResult, type ExportedFile } from './export/index.js';
