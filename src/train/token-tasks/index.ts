/** Token-level tasks (tagging, extractive QA) on the task model and trainer. */
export { wordPieces, type WordPieces } from './pieces.js';
export {
  evaluateTagging, predictTaggingRows, predictTags, rowTags, splitWords, taggingMetricNames, taggingRows, taggingTrainingData,
  type TagInput, type TagPrediction, type TaggingRow,
} from './tagging.js';
export { QA_METRICS, evaluateQa, predictAnswers, predictQaRows, qaRows, qaTrainingData, type AnswerPrediction, type QaInput, type QaRow } from './qa.js';
export { isTokenDatasetName, isTokenTaskSpec, loadTokenTask, type LoadedTokenTask, type TaggingFilesSpec, type TokenTaskFiles, type TokenTaskSpec } from './data.js';
