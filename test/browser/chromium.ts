/**
 * Debian's headless Chromium driven by playwright-core, for the browser tests, the report test
 * and the browser benchmark: launch it, open a page of a given size that records its console,
 * and wait for a condition in the page with a failure message that says what was awaited and
 * what the page logged. (playwright-core downloads no browser; it runs /usr/bin/chromium.)
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`). */
export const CHROMIUM = '/usr/bin/chromium';
/** A skip reason for node:test when Chromium is missing, else false. */
export const skipWithoutChromium = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found (apt-get install -y chromium to run this test)`;

/** Starts headless Chromium (a fresh temporary profile; playwright adds --no-sandbox and the quiet-start flags). */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--disable-gpu', '--disable-quic', ...extraArgs] });
}

const consoles = new WeakMap<Page, string[]>();

/** Opens `url` in a new page of `width` x `height`, recording console lines and uncaught exceptions, and waits for its load event. */
export async function openPage(browser: Browser, url: string, size = { width: 1200, height: 900 }): Promise<Page> {
  const page = await browser.newPage({ viewport: size });
  const lines: string[] = [];
  consoles.set(page, lines);
  page.on('console', (m) => void lines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => void lines.push(`exception: ${e.stack ?? e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  return page;
}

/** Waits until `expression` is truthy in the page (polling every 100 ms); after `timeoutMs` throws naming `what`, with the page's last console lines. */
export async function waitFor(page: Page, expression: string, timeoutMs: number, what: string): Promise<void> {
  try {
    await page.waitForFunction(expression, undefined, { timeout: timeoutMs, polling: 100 });
  } catch (e) {
    throw new Error(`waiting for ${what}: ${(e as Error).message.split('\n')[0]}; page console:\n${(consoles.get(page) ?? []).slice(-20).join('\n')}`, { cause: e });
  }
}
