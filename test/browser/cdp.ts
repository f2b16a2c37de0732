/**
 * A small Chrome DevTools Protocol client over `--remote-debugging-pipe` for driving Debian's
 * headless Chromium from the browser tests and the browser benchmark: open a page, evaluate
 * script in it (awaiting promises), set a file input, take a screenshot. (The issue asks for
 * playwright-core, which is not installed here; this client needs nothing but Node.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Debian's Chromium, as the report test uses it. */
export const CHROMIUM = '/usr/bin/chromium';
/** A skip reason for node:test when Chromium is missing, else false. */
export const skipWithoutChromium = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found (apt-get install -y chromium to run this test)`;

type Json = Record<string, unknown>;

/** One page (a CDP session attached to a tab). */
export interface CdpPage {
  /** Evaluates `expression` in the page, awaiting a promise; returns its JSON value. Throws with the page's exception text. */
  evaluate<T = unknown>(expression: string, timeoutMs?: number): Promise<T>;
  /** Waits until `expression` is truthy (polling every 100 ms), or throws after `timeoutMs`. */
  waitFor(expression: string, timeoutMs: number, what: string): Promise<void>;
  /** Sets the files of the `<input type=file>` matched by `selector` (fires its change event). */
  setInputFiles(selector: string, files: readonly string[]): Promise<void>;
  /** A PNG of the whole page. */
  screenshot(): Promise<Buffer>;
  /** Console lines and uncaught exceptions seen so far, for failure messages. */
  readonly console: string[];
  /** Sends a raw CDP command to this page's session. */
  send(method: string, params?: Json): Promise<Json>;
}

/** A running headless Chromium. */
export interface Cdp {
  /** Opens `url` in a new tab of `width` x `height` and waits for its load event. */
  open(url: string, size?: { width: number; height: number }): Promise<CdpPage>;
  close(): Promise<void>;
}

/** Starts headless Chromium with a fresh profile. */
export async function launchChromium(extraFlags: readonly string[] = []): Promise<Cdp> {
  const profile = mkdtempSync(join(tmpdir(), 'adapterkit-cdp-'));
  const child: ChildProcess = spawn(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--disable-extensions', '--mute-audio', `--user-data-dir=${profile}`, '--remote-debugging-pipe', ...extraFlags, 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  const toChrome = child.stdio[3] as Writable;
  const fromChrome = child.stdio[4] as Readable;
  let stderr = '';
  (child.stderr as Readable).on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void; method: string }>();
  const listeners = new Map<string, ((params: Json) => void)[]>(); // key: sessionId + ' ' + method
  let buf = '';
  fromChrome.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buf.slice(0, i)) as { id?: number; result?: Json; error?: { message: string }; method?: string; params?: Json; sessionId?: string };
      buf = buf.slice(i + 1);
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p?.resolve(msg.result ?? {});
      } else if (msg.method) for (const l of listeners.get(`${msg.sessionId ?? ''} ${msg.method}`) ?? []) l(msg.params ?? {});
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => {
    for (const p of pending.values()) p.reject(new Error(`chromium exited: ${stderr.slice(-1000)}`));
  });
  const send = (method: string, params: Json = {}, sessionId?: string): Promise<Json> => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject, method });
    toChrome.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
  });
  const on = (sessionId: string, method: string, cb: (p: Json) => void): void => {
    const k = `${sessionId} ${method}`;
    listeners.set(k, [...(listeners.get(k) ?? []), cb]);
  };
  await send('Browser.getVersion');

  return {
    async open(url, size = { width: 1200, height: 900 }) {
      const { targetId } = (await send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
      const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
      const s = (method: string, params: Json = {}) => send(method, params, sessionId);
      const consoleLines: string[] = [];
      on(sessionId, 'Runtime.consoleAPICalled', (p) => consoleLines.push(`${String(p.type)}: ${((p.args as { value?: unknown; description?: string }[]) ?? []).map((a) => a.value ?? a.description).join(' ')}`));
      on(sessionId, 'Runtime.exceptionThrown', (p) => consoleLines.push(`exception: ${JSON.stringify((p.exceptionDetails as Json)?.exception ?? p)}`));
      await s('Runtime.enable');
      await s('Page.enable');
      await s('Emulation.setDeviceMetricsOverride', { width: size.width, height: size.height, deviceScaleFactor: 1, mobile: false });
      const loaded = new Promise<void>((resolve) => on(sessionId, 'Page.loadEventFired', () => resolve()));
      await s('Page.navigate', { url });
      await loaded;
      const page: CdpPage = {
        console: consoleLines,
        send: s,
        async evaluate<T>(expression: string, timeoutMs = 30_000): Promise<T> {
          const r = (await s('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true, timeout: timeoutMs })) as { result: { value?: unknown }; exceptionDetails?: { text: string; exception?: { description?: string } } };
          if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
          return r.result.value as T;
        },
        async waitFor(expression, timeoutMs, what) {
          const until = Date.now() + timeoutMs;
          for (;;) {
            if (await page.evaluate<boolean>(`Boolean(${expression})`)) return;
            if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; page console:\n${consoleLines.slice(-20).join('\n')}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        },
        async setInputFiles(selector, files) {
          const { result } = (await s('Runtime.evaluate', { expression: `document.querySelector(${JSON.stringify(selector)})` })) as { result: { objectId?: string } };
          if (!result.objectId) throw new Error(`no element ${selector}`);
          await s('DOM.enable');
          await s('DOM.setFileInputFiles', { files: [...files], objectId: result.objectId });
        },
        async screenshot() {
          const { data } = (await s('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true })) as { data: string };
          return Buffer.from(data, 'base64');
        },
      };
      return page;
    },
    async close() {
      await send('Browser.close').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
