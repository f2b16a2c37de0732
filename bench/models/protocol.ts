/**
 * What a child process of bench:models reports: one JSON line, the last line of its stdout
 * (progress goes to stderr). `spawnChild` runs one and waits for it.
 */
import { spawn } from 'node:child_process';
import type { MemoryCheckpoint } from './measure.js';

/** Times of one family against BERT-base in the same child (ms, each timed run). */
export interface PairResult {
  kind: 'pair';
  family: string;
  batch: number;
  seq: number;
  params: number;
  trainable: number;
  refParams: number;
  refTrainable: number;
  infer: number[];
  refInfer: number[];
  step: number[];
  refStep: number[];
  /** The child's peak RSS (process.resourceUsage().maxRSS), MiB. */
  peakRssMiB: number;
  memory: MemoryCheckpoint[];
}

/** ModernBERT-base's inference alone on long inputs (ms per timed batch). */
export interface LongResult {
  kind: 'long';
  family: string;
  batch: number;
  seq: number;
  infer: number[];
  peakRssMiB: number;
  memory: MemoryCheckpoint[];
}

export type ChildResult = PairResult | LongResult;

/** How a child ended: its result, or why there is none (a signal such as the OOM killer's SIGKILL, an exit code, stderr's tail). */
export type ChildOutcome = { ok: true; result: ChildResult; seconds: number } | { ok: false; reason: string; lastProgress: string; seconds: number };

/**
 * Runs `node --import tsx <script> ...args` and waits for it. Its stderr is passed through as it
 * comes (indented progress lines); its last stdout line is parsed as its {@link ChildResult}.
 */
export function spawnChild(script: string, args: readonly string[]): Promise<ChildOutcome> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let lastProgress = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      process.stderr.write(s);
      const lines = s.split('\n').map((l) => l.trim()).filter(Boolean);
      if (lines.length) lastProgress = lines[lines.length - 1] as string;
    });
    child.on('close', (code, signal) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code === 0) {
        const line = out.trim().split('\n').pop() ?? '';
        try {
          resolve({ ok: true, result: JSON.parse(line) as ChildResult, seconds });
        } catch {
          resolve({ ok: false, reason: `its last stdout line is not JSON: ${line.slice(0, 200)}`, lastProgress, seconds });
        }
        return;
      }
      const reason = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ' (the kernel\'s OOM killer?)' : ''}` : `exit code ${String(code)}`;
      resolve({ ok: false, reason, lastProgress, seconds });
    });
  });
}
