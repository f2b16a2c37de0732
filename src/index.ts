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
 * console.log(r.best?.metrics); // e.g. { f1: 0.96, accuracy: 0.98 }
 * ```
 */
export { AdapterkitError, ERROR_CODES, type ErrorCode } from './errors.js';
export { VERSION } from './version.js';
export { loadBase, DEFAULT_BASE, baseFingerprint, baseParamCount, type BaseModel, type TextInput, type LoadBaseOptions } from './models/base.js';
export type { BaseTokenizer, SpecialIds } from './models/base-model.js';
export type {
  Encoder, EncoderWeights, EncoderInputs, EncoderOutputs, BuildContext, AttentionParts, LayerInput, SubLayerParts, WeightSpec, WeightRole,
} from './models/encoder.js';
export type { SentenceTransformersConfig, StModule, StPoolingConfig, StPoolingMode } from './models/sentence-transformers/config.js';
export type { EncodedBatch } from './models/tokenizers/types.js';
export {
  adapterConfig, bottleneckConfig, loraConfig, ia3Config, methodConfig, methodOf, checkMethodConfig, fromAdapterHubConfig, METHODS, METHOD_PRESETS, PRESET_NAMES, promptFromText,
  type MethodConfig, type SingleMethodConfig, type BottleneckConfig, type LoraConfig, type Ia3Config, type PrefixConfig, type PromptConfig,
} from './adapters/methods/index.js';
export type { BottleneckActivation } from './adapters/methods/bottleneck.js';
export type { PhmFields } from './adapters/methods/phm.js';
export type { AttnMatrix } from './adapters/methods/linear-targets.js';
export type { UnionConfig } from './adapters/methods/union.js';
export type { RawConfig } from './adapters/methods/config-checks.js';
export type {
  AdapterMethod, AdapterTensor, MethodHooks, MethodContext, AdapterHubConfig, PeftConfig, FileTensorKey, MethodConfigBase, MethodId, MethodUnits, PositionKind, TensorInit,
  SubLayerUnit, LinearUnit, AttentionUnit, BottleneckPlacement,
} from './adapters/method.js';
export {
  Stack, Fuse, Split, BatchSplit, Parallel, Average, parseComposition, formatComposition, checkComposition, ALLOWED_NESTINGS,
  type Composition, type Block, type BlockType,
} from './adapters/composition.js';
export type { NamedAdapter, AdapterDrop } from './adapters/compose.js';
export { fusionConfig, FUSION_PRESETS, DEFAULT_FUSION_PRESET, fuseName, type FusionConfig, type NamedFusion } from './adapters/fusion.js';
export { fusionTemperature, FUSION_TEMPERATURE_START, FUSION_TEMPERATURE_STEP, FUSION_TEMPERATURE_FLOOR, type FusionCallCounts } from './adapters/fusion-temperature.js';
export { mergeAdapters, MERGE_METHODS, type MergeMethod, type MergeOptions, type MergeInput, type MergedAdapter } from './adapters/merge.js';
export { readFusionDir } from './adapters/task-files/fusion-files.js';
export type { TaskManifest, LoadedTaskFiles } from './adapters/task-files/manifest.js';
export { mergeTaskModels, type MergeTasksOptions } from './train/merge-tasks.js';
export type { HookSites, SubLayerSite, LinearSite, AttentionSite, LinearRole, SubLayerName, EmbeddingsSite, HookSite, HookSiteDeclaration } from './models/sites.js';
export { headConfig, type HeadConfig, type HeadKind, type QaHeadOptions } from './heads/head.js';
export { HEAD_POOLINGS, type HeadPooling } from './heads/pooling.js';
export { TaskModel, type TaskModelOptions, type TaskModelStats, type BatchLabels } from './train/task-model.js';
export type { FrozenOptions, FrozenPlan, FrozenPrecision, FrozenMatmulChoice, FrozenErrors } from './train/frozen-precision.js';
export type { FrozenLayers } from './train/frozen-layers.js';
export { describeMode, isAdapterSetup, MODE_NAMES, MODES, type TrainingMode, type AdapterSetupMode, type SingleTrainingMode, type ModeKind, type ModeSpec } from './train/modes.js';
export { train, DEFAULT_LR, type TrainOptions, type TrainResult, type TrainEvent } from './train/trainer.js';
export type { StopReason } from './train/trainer-events.js';
export { saveTask, loadSavedTask, type SavedTask, type SaveTaskOptions, type LoadSavedTaskOptions } from './train/task-io.js';
export {
  predictExamples, predictTexts, scorePredictions, toPrediction, type Prediction, type PredictExamplesOptions, type PredictTextsOptions, type TextOrPair,
} from './train/evaluate.js';
export type { TokenizedExample, TokenizedRow } from './train/batching.js';
export { resolveMaxLength, DEFAULT_MAX_LENGTH, type MaxLengthOptions } from './train/max-length.js';
export {
  loadTask, loadTabularTask, listBuiltinDatasets, loadBuiltinDataset,
  type TaskSpec, type TabularTaskOptions, type TabularColumns, type ColumnRef, type TabularFormat,
} from './train/data/index.js';
export type { MetricChoice } from './train/data/metric-choice.js';
export type { GlueLoadOptions } from './train/data/glue.js';
export type { Example, TaskData, LoadedTask, LoadReport, TaskKind, OnBadRow, SkippedRow } from './train/data/types.js';
export { computeMetrics, type MetricName, type MetricValues, type ComputeMetricsOptions } from './train/metrics/index.js';
export { squadScores, type SquadScores } from './train/metrics/squad.js';
export {
  loadTokenTask, predictTags, predictAnswers, taggingTrainingData, qaTrainingData, evaluateTagging, evaluateQa,
  type TokenTaskSpec, type TaggingFilesSpec, type TokenTaskFiles, type LoadedTokenTask, type QaInput, type AnswerPrediction, type QaRow,
  type TagInput, type TagPrediction, type TaggingRow,
} from './train/token-tasks/index.js';
export type { TaggingFormat, TaggingFileOptions } from './train/data/conll.js';
export type { TaggedSentence, TaggingData, TagScheme, QaExample, QaAnswer } from './train/tokens/types.js';
export type { ExtractedAnswer, AnswerCandidate } from './train/tokens/qa-answers.js';
export type { AlignedRow } from './train/tokens/align.js';
export type { QaWindow, CharSpan } from './train/tokens/qa-windows.js';
export { trainOn, type TrainDataOptions } from './train/trainer.js';
export type { TrainingData, EvaluateOptions, TaskMetricValues } from './train/training-data.js';
export { listTokenDatasets, loadTokenDataset, type BuiltinDatasetInfo, type BuiltinTokenDatasetInfo } from './train/data/builtin/index.js';
export { MultiTaskModel, type SharedAdapter } from './train/multi-task-model.js';
export {
  trainMultiTask, type MultiTaskTask, type SentenceMultiTask, type TaggingMultiTask, type MultiTaskOptions, type MultiTaskResult, type MultiTaskEvent, type MultiTaskStopReason,
} from './train/multi-task-trainer.js';
export { MixedTaskTrainer, type MixedTaskTrainerOptions, type MixedStepResult, type MixedLabel } from './train/multi-task-train-model.js';
export { mixedEpoch, taskProbabilities, parseSampling, type MultiTaskSampling, type MixedDraw } from './train/multi-task-sampling.js';
export { exportTask, type ExportOptions, type ExportResult, type ExportedFile } from './export/index.js';
