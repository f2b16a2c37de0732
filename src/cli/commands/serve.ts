/** `adapterkit serve`: an HTTP server for many saved adapters on one shared base. */
import type { Command } from 'commander';
import { fail } from '../../errors.js';
import { loadBase } from '../../models/base.js';
import { ModelBackend } from '../../serve/model-backend.js';
import { startServer } from '../../serve/server.js';
import { installShutdownSignals } from '../../serve/signals.js';
import { DEFAULT_ADMIN_TOKEN_ENV } from '../../serve/admin-auth.js';
import { cliBaseOptions } from '../download-progress.js';
import { readManifest } from '../saved-task.js';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function int(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) fail('BAD_CONFIG', `--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** Registers `serve`. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve saved adapters over HTTP: POST /v1/classify, GET /v1/adapters, /healthz, /metrics')
    .option('--base <source>', "base model: 'use-lite' (embedded), a model directory or a hub id", 'use-lite')
    .option('--adapter <name=dir>', 'load a saved task directory under a name (repeatable)', collect, [])
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', int('port', 0, 65535), 8080)
    .option('--max-length <n>', 'tokens per input; longer texts are truncated and reported', int('max-length', 2, 4096), 128)
    .option('--window-ms <ms>', 'dynamic batching window', int('window-ms', 0, 1000), 5)
    .option('--max-batch <n>', 'largest batch sent through the model', int('max-batch', 1, 1024), 32)
    .option('--max-inputs <n>', 'largest number of inputs in one request', int('max-inputs', 1, 10000), 64)
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', int('threads', 1, 256))
    .addHelpText('after', `
Adapters can also be loaded and unloaded at run time with POST /v1/adapters {"name","dir"} and
DELETE /v1/adapters/<name>; these need "Authorization: Bearer <token>" where the token is the
value of $${DEFAULT_ADMIN_TOKEN_ENV} (unset: run-time loading is disabled).

Examples:
  adapterkit serve --adapter spam=runs/spam-adapters/best
  ${DEFAULT_ADMIN_TOKEN_ENV}=secret adapterkit serve --port 9000 --adapter spam=runs/spam/best --adapter sotu=runs/sotu/best
  curl -s localhost:8080/v1/classify -H 'content-type: application/json' -d '{"task":"spam","inputs":["Win a free prize now"]}'`)
    .action(async (o: { base: string; adapter: string[]; host: string; port: number; maxLength: number; windowMs: number; maxBatch: number; maxInputs: number; threads?: number }) => {
      // before loading the base: a missing directory, or a run directory ("did you mean runs/x/best?")
      for (const spec of o.adapter) if (spec.indexOf('=') > 0) await readManifest(spec.slice(spec.indexOf('=') + 1));
      const base = await loadBase(o.base, cliBaseOptions());
      const backend = new ModelBackend(base, { maxLength: o.maxLength, threads: o.threads });
      for (const spec of o.adapter) {
        const i = spec.indexOf('=');
        if (i <= 0) fail('BAD_CONFIG', `--adapter must be name=dir, got ${JSON.stringify(spec)}`);
        const t = await backend.load(spec.slice(0, i), spec.slice(i + 1));
        process.stderr.write(`loaded ${t.name} (${t.kind}, ${t.labels.length} labels, ${(t.bytes / 1024).toFixed(0)} KiB) from ${spec.slice(i + 1)}\n`);
      }
      const server = await startServer(backend, {
        host: o.host, port: o.port, windowMs: o.windowMs, maxBatch: o.maxBatch, maxInputs: o.maxInputs, logger: false,
      });
      process.stderr.write(`adapterkit serving ${backend.tasks().length} adapter(s) on ${base.id} at ${server.url} (Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        installShutdownSignals(server.close, {
          onClosed: (code) => {
            process.exitCode = code;
            void backend.dispose().then(resolve);
          },
        });
      });
    });
}
