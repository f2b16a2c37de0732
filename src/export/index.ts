/**
 * Export: a task as one standalone ONNX graph in the layout transformers.js loads (above the
 * training layer, below the CLI). See {@link exportTask}.
 */
export { exportTask, type ExportOptions, type ExportResult, type ExportedFile } from './export-task.js';
export { architectureOf, checkExportable, exportConfig, HF_FAMILIES, hfFamily, pipelineTask, runsInTransformersJs, type HfFamily } from './hf-config.js';
export { quantizeExportedModel, type QuantizedModel } from './quantize.js';
export { exportTokenizerFiles, type ExportTokenizerFiles } from './tokenizer-files.js';
