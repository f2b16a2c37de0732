/**
 * `adapterkit ui`: a page on 127.0.0.1 that trains a Houlsby adapter on the embedded base inside
 * the browser tab (onnxruntime-web, in a worker), with live charts, stop and resume, and
 * classifies texts with it. The page's script is bundled from the library's sources when the
 * command starts (cached; see src/browser/build.ts).
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { startUiServer } from '../../browser/ui-server.js';
import { fail } from '../../errors.js';
import { installShutdownSignals } from '../../serve/signals.js';
import { intArg } from '../options.js';
import { sentenceDatasetNames } from '../builtin-datasets.js';

interface UiFlags {
  task?: string[];
  base?: string[];
  host: string;
  port: number;
  cacheDir: string;
  rebuild?: boolean;
}

const EXAMPLES = `
The page (open the printed URL):
  Train    the embedded base (use-lite) and a built-in dataset (${sentenceDatasetNames()}; cut to the
           example counts you set) or a CSV you drop in (text and label columns by name; every
           10th row is the dev split); trains a Houlsby adapter in a Web Worker with a live loss
           and dev-metric chart and a progress bar; Stop keeps everything, Resume continues.
  Predict  classify texts with the model trained in the tab, or with a saved task: a zip of a
           task directory dropped on the page, or one named with --task.
  Download the task directory of the model in the tab, as a zip (adapterkit eval / predict load it).

Threads: the server sends the cross-origin isolation headers (COOP/COEP), so the wasm runtime
uses up to 4 threads; add ?threads=1 to the URL for one.

Examples:
  $ adapterkit ui                    # http://127.0.0.1:8765/
  $ adapterkit ui --port 0           # any free port; the URL is printed
  $ adapterkit ui --task spam=runs/spam/best   # Predict offers this saved task too
  $ adapterkit ui --base bert=./bert-base-uncased  # Train offers this base too`;

/** Collects `--<flag> name=dir` values; BAD_CONFIG for another shape. */
function collectNamedDir(flag: string): (value: string, prev: string[] | undefined) => string[] {
  return (value, prev) => {
    const eq = value.indexOf('=');
    if (eq <= 0 || eq === value.length - 1 || !/^[A-Za-z0-9_-]+$/.test(value.slice(0, eq))) {
      fail('BAD_CONFIG', `--${flag} must be name=dir with a name of letters, digits, _ and -, got ${JSON.stringify(value)}`);
    }
    return [...(prev ?? []), value];
  };
}

/** name -> absolute directory of `name=dir` values. */
function namedDirs(values: readonly string[] | undefined): Map<string, string> {
  return new Map((values ?? []).map((t) => [t.slice(0, t.indexOf('=')), resolve(t.slice(t.indexOf('=') + 1))] as const));
}

/** Registers `adapterkit ui`. */
export function registerUi(program: Command): void {
  program
    .command('ui')
    .description('Serve a page that trains an adapter inside the browser tab (onnxruntime-web) and classifies texts with it.')
    .option('--task <name=dir>', 'a saved task (on the embedded base or a --base one) the page may predict with, its frozen base in fp32 or int8 as the page picks; repeatable', collectNamedDir('task'))
    .option('--base <name=dir>', 'a BERT-family model directory (config.json, vocab, model.safetensors) the Train part offers besides the embedded base; repeatable, checked at start', collectNamedDir('base'))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', intArg(0, 65535), 8765)
    .option('--cache-dir <dir>', 'where the page\'s built script is kept', join(tmpdir(), 'adapterkit-ui-cache'))
    .option('--rebuild', 'build the page\'s script again even when the cached one is current')
    .addHelpText('after', EXAMPLES)
    .action(async (o: UiFlags) => {
      const t0 = performance.now();
      const server = await startUiServer({ host: o.host, port: o.port, tasks: namedDirs(o.task), bases: namedDirs(o.base), build: { cacheDir: o.cacheDir, cache: !o.rebuild } });
      process.stderr.write(`page script ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (built from the sources, cached in ${o.cacheDir})\n`);
      process.stdout.write(`adapterkit ui at ${server.url}/ (Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        installShutdownSignals(server.close, {
          onClosed: (code) => {
            process.exitCode = code;
            resolve();
          },
        });
      });
    });
}
