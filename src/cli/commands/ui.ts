/**
 * `adapterkit ui`: a page on 127.0.0.1 that trains a Houlsby adapter on the embedded base inside
 * the browser tab (onnxruntime-web, in a worker), with live charts, stop and resume, and
 * classifies texts with it. The page's script is bundled from the library's sources when the
 * command starts (cached; see src/browser/build.ts).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { startUiServer } from '../../browser/ui-server.js';
import { installShutdownSignals } from '../../serve/signals.js';
import { intArg } from '../options.js';

interface UiFlags {
  host: string;
  port: number;
  cacheDir: string;
  rebuild?: boolean;
}

const EXAMPLES = `
The page (open the printed URL):
  Train    the embedded base (use-lite) and a built-in dataset (spam, sotu, brown; cut to the
           example counts you set) or a CSV you drop in (text and label columns by name; every
           10th row is the dev split); trains a Houlsby adapter in a Web Worker with a live loss
           and dev-metric chart and a progress bar; Stop keeps everything, Resume continues.
  Predict  classify texts with the model trained in the tab.

Threads: the server sends the cross-origin isolation headers (COOP/COEP), so the wasm runtime
uses up to 4 threads; add ?threads=1 to the URL for one.

Examples:
  $ adapterkit ui                    # http://127.0.0.1:8765/
  $ adapterkit ui --port 0           # any free port; the URL is printed`;

/** Registers `adapterkit ui`. */
export function registerUi(program: Command): void {
  program
    .command('ui')
    .description('Serve a page that trains an adapter inside the browser tab (onnxruntime-web) and classifies texts with it.')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', intArg(0, 65535), 8765)
    .option('--cache-dir <dir>', 'where the page\'s built script is kept', join(tmpdir(), 'adapterkit-ui-cache'))
    .option('--rebuild', 'build the page\'s script again even when the cached one is current')
    .addHelpText('after', EXAMPLES)
    .action(async (o: UiFlags) => {
      const t0 = performance.now();
      const server = await startUiServer({ host: o.host, port: o.port, build: { cacheDir: o.cacheDir, cache: !o.rebuild } });
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
