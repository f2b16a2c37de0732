/**
 * ONNX Runtime's telemetry (1.29 and later, Linux and macOS) is off in every process that loads
 * the engine, unless the user has set ORT_DISABLE_TELEMETRY. Each case runs a child process with
 * its own temp directory, where ONNX Runtime's telemetry leaves `mat-debug-<pid>.log` and `.ses`
 * when it runs; the opt-in case shows those files do appear, so their absence means something.
 *
 * ONNX Runtime also keeps telemetry off by itself under a CI runner (`CI`, `GITHUB_ACTIONS`, …,
 * in its core/platform/telemetry_environment.h) or in its own unit tests. The children run without
 * those variables, so both cases behave here as on a user's machine, not as on the runner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { disposableTempDir } from '../temp-dir.js';

const TELEMETRY_FILE = /^(mat-debug-\d+\.log|\.ses)$/;

/** The variables that make ONNX Runtime 1.30 turn telemetry off on its own: its list of CI markers, and its unit-test flag. */
const ORT_OWN_SUPPRESSION = [
  'CI', 'TF_BUILD', 'GITHUB_ACTIONS', 'GITLAB_CI', 'CIRCLECI', 'TRAVIS', 'JENKINS_URL', 'CODEBUILD_BUILD_ID',
  'BUILDKITE', 'TEAMCITY_VERSION', 'APPVEYOR', 'BITBUCKET_BUILD_NUMBER', 'SYSTEM_TEAMFOUNDATIONCOLLECTIONURI',
  'ORT_RUNNING_UNIT_TESTS',
];

function runChild(telemetry: string | undefined): { printed: { y: number[]; ORT_DISABLE_TELEMETRY: string | null }; left: string[] } {
  const { dir, cleanup } = disposableTempDir('ak-telemetry-');
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dir };
    delete env.ORT_DISABLE_TELEMETRY;
    for (const name of ORT_OWN_SUPPRESSION) delete env[name];
    if (telemetry !== undefined) env.ORT_DISABLE_TELEMETRY = telemetry;
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'telemetry-child.ts')], { env, encoding: 'utf8' });
    const left = readdirSync(dir).filter((n) => TELEMETRY_FILE.test(n)).sort();
    return { printed: JSON.parse(out.trim().split('\n').at(-1) ?? '') as never, left };
  } finally {
    cleanup();
  }
}

test('the engine turns ONNX Runtime telemetry off before its first session: no telemetry files in the temp directory', () => {
  const r = runChild(undefined);
  assert.deepEqual(r.printed, { y: [3, 5], ORT_DISABLE_TELEMETRY: '1' });
  assert.deepEqual(r.left, []);
});

test('a value the user set is kept: ORT_DISABLE_TELEMETRY=0 leaves ONNX Runtime telemetry on (and its files appear)', () => {
  const r = runChild('0');
  assert.equal(r.printed.ORT_DISABLE_TELEMETRY, '0');
  assert.equal(r.left.length, 2, `expected ONNX Runtime 1.30's telemetry files (mat-debug-<pid>.log, .ses); found ${r.left.join(', ') || 'none'}: if a newer onnxruntime-node no longer writes them, the first test needs another sign that telemetry is off`);
});
