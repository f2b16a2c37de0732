/**
 * `npm run fuzz`: the reader fuzzer at full size (10,000 cases by default). The cases run in a
 * child process; this process watches it, so a case that hangs (a synchronous loop the per-case
 * time check could never interrupt) or kills the process (out of memory) is reported by number.
 *
 *   npm run fuzz                               # 10,000 cases, seed 1
 *   npm run fuzz -- --cases 50000 --seed 7     # more, another seed
 *   npm run fuzz -- --target tokenizer.json    # one reader (repeatable flag)
 *   npm run fuzz -- --seed 7 --only 1234 --save failing/   # replay one case, keep its files
 *
 * Exit status 1 when any case breaks the promise (or hangs).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatFailure, formatReport, runFuzz, type FuzzFailure, type FuzzOptions } from './fuzz.js';

const HANG_MS = 60_000;

if (process.send === undefined) {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '1' },
      target: { type: 'string', multiple: true },
      only: { type: 'string' },
      save: { type: 'string' },
      'case-ms': { type: 'string', default: '3000' },
    },
  });
  const options: Omit<FuzzOptions, 'onCase'> = {
    seed: Number(values.seed),
    cases: Number(values.cases),
    caseMs: Number(values['case-ms']),
    peakGrowth: 1536 * 2 ** 20,
    liveGrowth: 256 * 2 ** 20,
    ...(values.target ? { targets: values.target } : {}),
    ...(values.only !== undefined ? { only: Number(values.only) } : {}),
    ...(values.save !== undefined ? { saveDir: values.save } : {}),
  };
  // The child runs this same file with an IPC channel; it gets the options as a message.
  const child = fork(fileURLToPath(import.meta.url), [], { execArgv: ['--import', 'tsx', '--max-old-space-size=4096'] });
  child.send(options);
  let last = { i: -1, target: '', at: Date.now() };
  const watchdog = setInterval(() => {
    if (Date.now() - last.at > HANG_MS) {
      console.error(`FAIL case ${last.i} (${last.target}) has run for more than ${HANG_MS / 1000} s: a hang. Replay: --seed ${options.seed} --only ${last.i}`);
      child.kill('SIGKILL');
      process.exitCode = 1;
      clearInterval(watchdog);
    }
  }, 1000);
  type Message = { kind: 'case'; i: number; target: string } | { kind: 'failure'; failure: FuzzFailure } | { kind: 'done'; text: string; failures: number };
  child.on('message', (m: Message) => {
    if (m.kind === 'failure') {
      console.error(formatFailure(m.failure, options.seed));
    } else if (m.kind === 'case') {
      last = { i: m.i, target: m.target, at: Date.now() };
      if (m.i > 0 && m.i % 1000 === 0) console.error(`  ... ${m.i} cases`);
    } else {
      console.log(m.text);
      if (m.failures > 0) process.exitCode = 1; // (each failure was printed as it happened, and again above)
      clearInterval(watchdog);
    }
  });
  child.on('exit', (code, signal) => {
    clearInterval(watchdog);
    if ((code !== 0 || signal !== null) && process.exitCode !== 1) {
      console.error(`FAIL the fuzzing process died (${signal ?? `exit code ${code}`}) during case ${last.i} (${last.target}): a crash or out of memory. Replay: --seed ${options.seed} --only ${last.i}`);
      process.exitCode = 1;
    }
  });
} else {
  process.once('message', (options: FuzzOptions) => {
    void (async () => {
      const report = await runFuzz({
        ...options,
        onCase: (i, target) => process.send!({ kind: 'case', i, target }),
        onFailure: (failure) => process.send!({ kind: 'failure', failure }),
      });
      process.send!({ kind: 'done', text: formatReport(report, options.seed), failures: report.failures.length }, () => process.disconnect());
    })();
  });
}
