/**
 * Hugging Face hub client: download model files into the cache shared with Python's
 * `huggingface_hub`, and resolve a model source (directory or hub id) to a local directory.
 */
export { resolveHubCacheDir, resolveHfHome, repoFolderName, isCommitHash, RepoCache, type HubEnv } from './cache.js';
export { downloadFile, resolveUrl, type DownloadProgress, type DownloadResult, type HubOptions } from './download.js';
export { resolveModel, DEFAULT_MODEL_FILES, WEIGHT_FILES, type ModelFileSet, type ResolveOptions, type ResolvedModel } from './resolve.js';
export { validateRepoId } from './repo-id.js';
export { resolveEndpoint, resolveToken, isOfflineEnv, DEFAULT_ENDPOINT } from './settings.js';
