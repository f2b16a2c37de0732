/**
 * Hub settings read from the environment the way `huggingface_hub` reads them: endpoint, token,
 * offline mode. Explicit options always win over the environment.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveHfHome, type HubEnv } from './cache.js';

/** The public hub. */
export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** Hub endpoint without a trailing slash: the option, else `$HF_ENDPOINT`, else huggingface.co. */
export function resolveEndpoint(explicit?: string, env: HubEnv = process.env): string {
  const raw = explicit ?? (env['HF_ENDPOINT'] !== undefined && env['HF_ENDPOINT'] !== '' ? env['HF_ENDPOINT'] : DEFAULT_ENDPOINT);
  return raw.replace(/\/+$/, '');
}

/**
 * Access token: the option (`false` disables), else `$HF_TOKEN`, else the legacy
 * `$HUGGING_FACE_HUB_TOKEN`, else the file at `$HF_TOKEN_PATH`, else `$HF_HOME/token`
 * (where `huggingface-cli login` stores it). `undefined` when none is set.
 */
export function resolveToken(explicit?: string | false, env: HubEnv = process.env): string | undefined {
  if (explicit === false) return undefined;
  const candidates = [explicit, env['HF_TOKEN'], env['HUGGING_FACE_HUB_TOKEN']];
  for (const c of candidates) {
    const t = c?.trim();
    if (t) return t;
  }
  const file = env['HF_TOKEN_PATH'] || join(resolveHfHome(env), 'token');
  try {
    const t = readFileSync(file, 'utf8').trim();
    return t || undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `$HF_HUB_OFFLINE` (or, when that is unset or empty, `$TRANSFORMERS_OFFLINE`) is
 * 1/ON/YES/TRUE in any case, as `huggingface_hub` reads them.
 */
export function isOfflineEnv(env: HubEnv = process.env): boolean {
  const raw = env['HF_HUB_OFFLINE'] || env['TRANSFORMERS_OFFLINE'];
  const v = raw?.trim().toUpperCase();
  return v === '1' || v === 'ON' || v === 'YES' || v === 'TRUE';
}
