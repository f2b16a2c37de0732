/** `adapterkit serve`: an HTTP server for many saved adapters on one shared base. */
import type { Command } from 'commander';
import { AdapterkitError, fail } from '../../errors.js';
import { loadBase } from '../../models/base.js';
import { resolveToken } from '../../models/hub/settings.js';
import { AdapterSources } from '../../serve/adapter-sources.js';
import { DEFAULT_MAX_QUEUE } from '../../serve/batcher.js';
import { ModelBackend } from '../../serve/model-backend.js';
import { SERVE_DEFAULTS, startServer } from '../../serve/server.js';
import { installShutdownSignals } from '../../serve/signals.js';
import { AdminGuard, DEFAULT_ADMIN_TOKEN_ENV } from '../../serve/admin-auth.js';
import { TASK_NAME_PATTERN, TASK_NAME_RULE } from '../../serve/validate.js';
import { makeRedactor, secretsFromEnv, type Redactor } from '../../util/redact.js';
import { isDir } from '../../util/fs.js';
import { cliBaseOptions } from '../download-progress.js';
import { baseSource, readManifest } from '../saved-task.js';
import { addFrozenPrecisionOptions, frozenPrecisionOptions, type FrozenPrecisionFlags } from '../frozen-precision-options.js';

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function int(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) fail('BAD_CONFIG', `--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return n;
  };
}

interface ServeFlags extends FrozenPrecisionFlags {
  base?: string; revision?: string; adapter?: string[]; adapterRoot?: string[]; host: string; port: number; maxLength: number; windowMs: number;
  maxBatch: number; maxInputs: number; maxQueue: number; requestTimeoutMs: number; maxAnswerWindows: number; shutdownTimeoutMs: number; threads?: number;
}

/** Extra time after --shutdown-timeout-ms for releasing the sessions before the process stops waiting. */
const DISPOSE_GRACE_MS = 1000;

/**
 * `--adapter name=dir` specs as a name -> dir map (BAD_CONFIG for a malformed or repeated name, or
 * one the admin routes could not reload or unload: the same rule as POST /v1/adapters).
 */
function adapterSpecs(specs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const spec of specs) {
    const i = spec.indexOf('=');
    if (i <= 0 || i === spec.length - 1) fail('BAD_CONFIG', `--adapter must be name=dir, got ${JSON.stringify(spec)}`);
    const name = spec.slice(0, i);
    if (!TASK_NAME_PATTERN.test(name)) fail('BAD_CONFIG', `--adapter ${JSON.stringify(name.slice(0, 80))}=...: the name must be ${TASK_NAME_RULE} (as POST /v1/adapters requires, so that it can be unloaded and reloaded by name)`);
    if (out.has(name)) fail('BAD_CONFIG', `--adapter ${name}=... is given twice`);
    out.set(name, spec.slice(i + 1));
  }
  return out;
}

/**
 * The base to serve on: --base (with --revision), else the one the adapters' adapterkit.json
 * record (they must agree), else use-lite when no adapter is given. Returns the id and revision.
 */
async function chooseBase(o: ServeFlags, dirs: ReadonlyMap<string, string>): Promise<{ id: string; revision?: string }> {
  const recorded = new Map<string, string>(); // base id -> first adapter recording it
  let unrecorded: string | undefined;
  // before loading the base: a missing directory, or a run directory ("did you mean runs/x/best?")
  for (const [name, dir] of dirs) {
    const id = (await readManifest(dir))?.base?.id;
    if (typeof id === 'string' && id.length > 0) {
      if (!recorded.has(id)) recorded.set(id, name);
    } else unrecorded ??= name;
  }
  if (o.base !== undefined) return { id: await baseSource(o.base), ...(o.revision !== undefined ? { revision: o.revision } : {}) };
  if (recorded.size > 1) {
    const list = [...recorded].map(([id, name]) => `${name}: ${id}`).join(', ');
    fail('ADAPTER_MISMATCH', `the adapters were trained on different bases (${list}); one server serves one base: start one server per base, or give --base`);
  }
  const [only] = recorded.keys();
  if (only === undefined) {
    if (unrecorded !== undefined) fail('BAD_CONFIG', `adapter '${unrecorded}' has no adapterkit.json recording its base (an AdapterHub adapter?): give the base model with --base <source>`);
    return { id: 'use-lite' };
  }
  // A recorded hub id may carry its revision as id@revision (a directory path is taken whole).
  const at = only.lastIndexOf('@');
  if (at > 0 && !(await isDir(only))) return { id: only.slice(0, at), revision: o.revision ?? only.slice(at + 1) };
  return { id: only, ...(o.revision !== undefined ? { revision: o.revision } : {}) };
}

async function serve(o: ServeFlags, redact: Redactor): Promise<void> {
  const dirs = adapterSpecs(o.adapter ?? []);
  // settings startServer would refuse, refused before the base loads (with the flags' names)
  if (o.maxQueue < o.maxInputs) fail('BAD_CONFIG', `--max-queue (${o.maxQueue}) is smaller than --max-inputs (${o.maxInputs}): a request of --max-inputs inputs could never be queued (503 QUEUE_FULL for ever); raise --max-queue or lower --max-inputs`);
  new AdminGuard(DEFAULT_ADMIN_TOKEN_ENV, process.env); // a token with whitespace could never be sent
  const roots = o.adapterRoot ?? [];
  await AdapterSources.open({ roots }); // a bad --adapter-root fails before the base loads
  const chosen = await chooseBase(o, dirs);
  const base = await loadBase(chosen.id, cliBaseOptions(chosen.revision));
  const backend = new ModelBackend(base, { maxLength: o.maxLength, threads: o.threads, frozen: frozenPrecisionOptions(o, (line) => process.stderr.write(`${line}\n`)) });
  for (const [name, dir] of dirs) {
    const t = await backend.load(name, dir);
    process.stderr.write(`loaded ${t.name} (${t.kind}, ${t.labels.length} labels, ${(t.bytes / 1024).toFixed(0)} KiB) from ${dir}\n`);
  }
  const server = await startServer(backend, {
    host: o.host, port: o.port, windowMs: o.windowMs, maxBatch: o.maxBatch, maxInputs: o.maxInputs, maxQueue: o.maxQueue,
    requestTimeoutMs: o.requestTimeoutMs, maxAnswerWindows: o.maxAnswerWindows, shutdownTimeoutMs: o.shutdownTimeoutMs,
    adapterRoots: roots, registry: Object.fromEntries(dirs), logger: false,
  });
  process.stderr.write(`adapterkit serving ${backend.tasks().length} adapter(s) on ${redact(base.id)} at ${server.url} (Ctrl-C to stop)\n`);
  if (roots.length > 0) process.stderr.write(`run-time loads (POST /v1/adapters) from inside: ${roots.join(', ')}\n`);
  // The server stops waiting for requests after --shutdown-timeout-ms, but a running backend call
  // cannot be cancelled (nor its sessions released meanwhile): past the timeout (and a short grace
  // for the release) the process stops without it, whether the close is still waiting for it or
  // it alone keeps the process alive once the close is done.
  const log = (line: string): void => { process.stderr.write(`adapterkit serve: ${line}\n`); };
  const giveUpAfterMs = o.shutdownTimeoutMs + DISPOSE_GRACE_MS;
  let stopBy = Infinity;
  await new Promise<void>((resolve) => {
    installShutdownSignals(async () => {
      stopBy = performance.now() + giveUpAfterMs;
      await server.close();
      await backend.dispose();
    }, {
      log, giveUpAfterMs,
      onGiveUp: () => process.exit(1),
      onClosed: (code) => {
        process.exitCode = code;
        resolve();
      },
    });
  });
  if (Number.isFinite(stopBy)) {
    setTimeout(() => {
      log(`closed, but work still running ${giveUpAfterMs} ms after the signal: giving up on running work (a backend call cannot be cancelled) and stopping now`);
      process.exit(1);
    }, Math.max(0, stopBy - performance.now())).unref(); // fires only if something still holds the process
  }
}

/** The same error with secrets (tokens, passwords) taken out of its message and stack. */
function redacted(e: unknown, redact: Redactor): unknown {
  if (e instanceof AdapterkitError) return new AdapterkitError(e.code, redact(e.message));
  if (!(e instanceof Error) || (e as { code?: unknown }).code?.toString().startsWith('commander.')) return e;
  const copy = new Error(redact(e.message));
  copy.stack = redact(e.stack ?? copy.message);
  return copy;
}

/** Registers `serve`. */
export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description('Serve saved adapters over HTTP: POST /v1/classify, /v1/tag, /v1/answer, GET /v1/adapters, /healthz, /metrics')
    .option('--base <source>', "base model: 'use-lite' (embedded), a model directory or a hub id (default: the base recorded in the --adapter tasks' adapterkit.json, else use-lite)")
    .option('--revision <rev>', 'hub revision of the base')
    .option('--adapter <name=dir>', 'load a saved task directory under a name at start; the name can be reloaded later by name alone (repeatable)', collect)
    .option('--adapter-root <dir>', 'directory whose sub-directories POST /v1/adapters may load (repeatable; default none: run-time loads by --adapter name only)', collect)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', int('port', 0, 65535), 8080)
    .option('--max-length <n>', 'tokens per input; longer texts are truncated and reported', int('max-length', 2, 4096), 128)
    .option('--window-ms <ms>', 'dynamic batching window', int('window-ms', 0, 1000), 5)
    .option('--max-batch <n>', 'largest batch sent through the model', int('max-batch', 1, 1024), 32)
    .option('--max-inputs <n>', 'largest number of inputs in one request', int('max-inputs', 1, 10000), SERVE_DEFAULTS.maxInputs)
    .option('--max-queue <n>', 'most inputs waiting for the model (at least --max-inputs); beyond it requests get 503 QUEUE_FULL with Retry-After', int('max-queue', 1, 1_000_000), DEFAULT_MAX_QUEUE)
    .option('--request-timeout-ms <ms>', 'longest time from a request\'s arrival to its answer; past it 503 DEADLINE_EXCEEDED with Retry-After (0: no limit)', int('request-timeout-ms', 0, 3_600_000), SERVE_DEFAULTS.requestTimeoutMs)
    .option('--max-answer-windows <n>', 'most windows of --max-length tokens one POST /v1/answer context may take (answering costs time linear in them); beyond it 413 INPUT_TOO_LONG', int('max-answer-windows', 1, 100_000), SERVE_DEFAULTS.maxAnswerWindows)
    .option('--shutdown-timeout-ms <ms>', 'on SIGINT/SIGTERM, how long to wait for in-flight requests; then they are cut, and a backend call still running is abandoned (the process exits with code 1)', int('shutdown-timeout-ms', 0, 3_600_000), SERVE_DEFAULTS.shutdownTimeoutMs)
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', int('threads', 1, 256));
  addFrozenPrecisionOptions(cmd, 'serving (the guard runs on the first batch of each model: the shared base\'s mixed batches, and each task served on its own)');
  cmd
    .addHelpText('after', `
Adapters can also be loaded and unloaded at run time with POST /v1/adapters and DELETE
/v1/adapters/<name>; these need "Authorization: Bearer <token>" where the token is the value of
$${DEFAULT_ADMIN_TOKEN_ENV} (unset: run-time loading is disabled). A load names either
  {"name": "spam"}                  an --adapter name given at start (e.g. after an unload), or
                                    <root>/spam for the first --adapter-root that holds it, or
  {"name": "spam", "dir": "a/best"} a directory inside an --adapter-root (relative to it).
Nothing outside the roots loads, symlinks leaving a root included, and every refusal gives the
same 404 answer. Tokens (HF_TOKEN, hf_..., Authorization values, URL passwords) are redacted
from every message.

Load limits: at most --max-queue inputs wait (then 503 QUEUE_FULL, Retry-After: 1); a request
not answered within --request-timeout-ms leaves the queue with 503 DEADLINE_EXCEEDED (one whose
body is not received by then gets 408 REQUEST_TIMEOUT). A /v1/answer context over
--max-answer-windows windows is refused with 413 INPUT_TOO_LONG; a /v1/tag text longer than
--max-length x 64 characters is cut (its result says "truncated": true).

Examples:
  adapterkit serve --adapter spam=runs/spam-adapters/best
  ${DEFAULT_ADMIN_TOKEN_ENV}=secret adapterkit serve --port 9000 --adapter spam=runs/spam/best --adapter-root /srv/adapters
  adapterkit serve --adapter spam=runs/spam/best --max-queue 128 --request-timeout-ms 2000 --threads 1
  curl -s localhost:8080/v1/classify -H 'content-type: application/json' -d '{"task":"spam","inputs":["Win a free prize now"]}'
  curl -s localhost:8080/v1/classify -H 'content-type: application/json' -d '{"tasks":["spam","pos"],"inputs":["Win a free prize now"]}'
      (one input, several tasks in one pass; a tagging task answers its words' tags as /v1/tag does)`)
    .action(async (o: ServeFlags) => {
      const hfToken = resolveToken();
      const redact = makeRedactor([...secretsFromEnv(process.env), ...(hfToken !== undefined ? [hfToken] : [])]);
      try {
        await serve(o, redact);
      } catch (e) {
        throw redacted(e, redact);
      }
    });
}
