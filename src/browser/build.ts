/**
 * The browser build: the page's script and its training worker, bundled with esbuild from the
 * library's own sources. Two rules make the Node library a browser one, both here:
 *
 * - every module named `*-node.ts` (the few that touch Node: the ONNX Runtime binding
 *   `engine/runtime/ort-node.ts`, external model data `engine/onnx/external-data-node.ts`, SHA-256
 *   `util/sha256-node.ts`) is replaced by its sibling `*-web.ts`, which implements the same
 *   interface (onnxruntime-web, no file system, plain TypeScript);
 * - packages with a separate browser entry ({@link BROWSER_PACKAGE_ENTRIES}) are bundled from it;
 * - onnxruntime-web is not bundled: the page loads it from `/ort/` (its files, served as they are
 *   installed), so its wasm and thread workers come from the same place.
 *
 * Anything else that imports a Node built-in fails the build, naming the module and who imports
 * it: that is the check that the browser path stays free of Node.
 *
 * The bundle is built when `adapterkit ui` starts and kept in a cache directory keyed by the
 * sources' modification times, so a user never runs a build step and a restart is instant.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from '../errors.js';

/** The library's source folder (`src/`), from this file's place. */
export const SOURCE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The entry points and the bundles they become. */
export const BROWSER_ENTRIES = { app: 'browser/page/app.ts', worker: 'browser/worker/train-worker.ts' } as const;

/** Where the page imports onnxruntime-web from (the ui server serves the package's `dist/` there). */
export const ORT_URL_PREFIX = '/ort/';
const ORT_MODULE_URL = `${ORT_URL_PREFIX}ort.wasm.min.mjs`;

/** Packages whose Node entry needs Node (Buffer, streams) and the browser entry used instead. */
export const BROWSER_PACKAGE_ENTRIES: Readonly<Record<string, string>> = { 'csv-parse/sync': 'csv-parse/browser/esm/sync' };

/** A built bundle set: file name (`app.js`, `worker.js`) -> JavaScript. */
export type BrowserBundle = ReadonlyMap<string, string>;

/** Options of {@link buildBrowserBundle}. */
export interface BrowserBuildOptions {
  /** Cache directory (default: `$TMPDIR/adapterkit-ui-cache`); none with `cache: false`. */
  cacheDir?: string;
  /** Rebuild even when the cache is fresh (default false). */
  cache?: boolean;
  /** Minify (default true). */
  minify?: boolean;
}

/** Newest modification time (ms) of the TypeScript sources under `dir`. */
function newestSource(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestSource(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** The shortest import chain from an entry point to `target` (paths as esbuild's metafile has them). */
function importChain(inputs: Record<string, { imports: { path: string }[] }>, entryFiles: readonly string[], target: string): string {
  const parent = new Map<string, string>();
  const queue = entryFiles.map((e) => relative(process.cwd(), e)).filter((e) => e in inputs);
  const seen = new Set(queue);
  while (queue.length) {
    const f = queue.shift() as string;
    if (f === target) break;
    for (const i of inputs[f]?.imports ?? []) {
      if (!seen.has(i.path) && i.path in inputs) {
        seen.add(i.path);
        parent.set(i.path, f);
        queue.push(i.path);
      }
    }
  }
  const chain = [target];
  for (let f = parent.get(target); f; f = parent.get(f)) chain.unshift(f);
  return chain.join(' -> ');
}

interface EsbuildLike {
  build(o: Record<string, unknown>): Promise<{ outputFiles?: { path: string; text: string }[]; metafile?: { inputs: Record<string, { imports: { path: string }[] }> } }>;
}

/**
 * Bundles the page and the worker (see the module comment), from the cache when the sources have
 * not changed since.
 *
 * @throws AdapterkitError NOT_FOUND when esbuild is not installed; BAD_CONFIG when the build fails or
 *   reaches a Node built-in from the library's sources (the message lists each import chain).
 */
export async function buildBrowserBundle(o: BrowserBuildOptions = {}): Promise<BrowserBundle> {
  const cacheDir = o.cacheDir ?? join(tmpdir(), 'adapterkit-ui-cache');
  const stamp = `${Math.floor(newestSource(SOURCE_DIR))}-${o.minify === false ? 'dev' : 'min'}`;
  const names = Object.keys(BROWSER_ENTRIES).map((k) => `${k}.js`);
  const cached = join(cacheDir, stamp);
  if (o.cache !== false && names.every((n) => existsSync(join(cached, n)))) {
    return new Map(names.map((n) => [n, readFileSync(join(cached, n), 'utf8')]));
  }
  const out = await bundleForBrowser(Object.fromEntries(Object.entries(BROWSER_ENTRIES).map(([k, v]) => [k, join(SOURCE_DIR, v)])), o.minify ?? true);
  if (o.cache !== false) {
    mkdirSync(cached, { recursive: true });
    for (const [n, text] of out) writeFileSync(join(cached, n), text);
  }
  return out;
}

/**
 * Bundles `entries` (name -> absolute path of a .ts file) for the browser with the rules of the
 * module comment; returns `<name>.js` -> JavaScript. Used by {@link buildBrowserBundle} and by
 * bench/browser.bench.ts for its own worker.
 */
export async function bundleForBrowser(entries: Readonly<Record<string, string>>, minify = true): Promise<Map<string, string>> {
  let esbuild: EsbuildLike;
  try {
    esbuild = (await import('esbuild')) as unknown as EsbuildLike;
  } catch (cause) {
    return fail('NOT_FOUND', `the browser page needs the npm package esbuild to build its script (${(cause as Error).message})`);
  }
  const nodeImports: { module: string; imports: string }[] = [];
  const result = await esbuild.build({
    entryPoints: entries,
    bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', outdir: '/out',
    minify, sourcemap: false, metafile: true, logLevel: 'silent', legalComments: 'none', alias: BROWSER_PACKAGE_ENTRIES,
    plugins: [{
      name: 'adapterkit-browser',
      setup(b: { onResolve(f: { filter: RegExp }, cb: (a: { path: string; resolveDir: string; importer: string }) => unknown): void }) {
        b.onResolve({ filter: /^onnxruntime-web(\/.*)?$/ }, () => ({ path: ORT_MODULE_URL, external: true }));
        b.onResolve({ filter: /-node\.js$/ }, (a) => ({ path: resolve(a.resolveDir, a.path.replace(/-node\.js$/, '-web.ts')) }));
        b.onResolve({ filter: /^(node:|fs$|path$|os$|crypto$|zlib$|worker_threads$|child_process$)/ }, (a) => {
          // Dependencies probe for Node modules inside try/catch (protobufjs does); our sources may not import them.
          if (!relative(SOURCE_DIR, a.importer).startsWith('..')) nodeImports.push({ module: a.importer, imports: a.path });
          return { path: a.path, external: true };
        });
      },
    }],
  }).catch((e: Error) => fail('BAD_CONFIG', `the browser build failed: ${e.message}`));
  if (nodeImports.length) {
    const inputs = result.metafile?.inputs ?? {};
    const lines = [...new Set(nodeImports.map((n) => `${importChain(inputs, Object.values(entries), relative(process.cwd(), n.module))} imports ${n.imports}`))];
    fail('BAD_CONFIG', `the browser build reaches Node-only modules (move the Node part behind an interface, or into a *-node.ts module with a *-web.ts sibling):\n  ${lines.join('\n  ')}`);
  }
  return new Map((result.outputFiles ?? []).map((f) => [f.path.slice(f.path.lastIndexOf('/') + 1), f.text]));
}
