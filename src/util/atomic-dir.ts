/**
 * Writing and replacing a directory so that a complete copy exists at every instant, even when
 * the process is killed (SIGKILL, power cut of the process) at any point.
 *
 * {@link writeDirAtomically} fills a fresh temporary sibling `.<name>.tmp-<pid>-<hex>`; only when
 * every file is written does it move the old directory aside to `.<name>.old-<pid>-<hex>`, move the
 * new one in, and delete the old one. At every instant either `<name>` or its `.old-` copy is
 * complete. {@link recoverDir} (which {@link writeDirAtomically} runs first) undoes what a kill
 * left: a missing `<name>` gets its `.old-` copy back, and the temporary and stale copies of
 * writers that are no longer running are deleted.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { fail } from '../errors.js';

/** Options of {@link writeDirAtomically}. */
export interface AtomicDirOptions {
  /** Replace an existing directory (default: refuse). */
  readonly overwrite?: boolean;
  /** Words for the refusal message, e.g. `--force` (default `overwrite: true`). */
  readonly overwriteHint?: string;
  /**
   * Directories that must survive (the inputs of the work): replacing `dir` is refused when it is
   * one of them or holds one, since that would delete it.
   */
  readonly keep?: readonly string[];
}

/** Fails unless `dir` can be written (absent, or an existing directory when overwriting). */
export async function checkWritableDir(dir: string, o: AtomicDirOptions = {}): Promise<void> {
  let s;
  try {
    s = await stat(dir);
  } catch {
    return;
  }
  if (!s.isDirectory()) fail('BAD_CONFIG', `${dir} exists and is not a directory`);
  if (!o.overwrite) fail('BAD_CONFIG', `${dir} already exists; choose another directory or replace it with ${o.overwriteHint ?? 'overwrite: true'}`);
  const target = await realpath(dir);
  for (const k of o.keep ?? []) {
    const kept = await realpath(k).catch(() => undefined);
    if (kept !== undefined && (kept === target || kept.startsWith(`${target}${sep}`))) {
      fail('BAD_CONFIG', kept === target
        ? `${dir} is an input of this command${k === dir ? '' : ` (${k})`}: replacing it would delete it; choose another directory`
        : `${dir} holds ${k}, an input of this command: replacing it would delete that input; choose another directory`);
    }
  }
}

/** This process's part of every temporary name: a pid alone is not enough once pids are reused (a restarted container gets the same pid). */
const INSTANCE = randomBytes(4).toString('hex');

/** A fresh `<pid>-<hex>` tag for a temporary name; its hex starts with this process's {@link INSTANCE}. */
function freshTag(): string {
  return `${process.pid}-${INSTANCE}${randomBytes(2).toString('hex')}`;
}

/**
 * Whether the writer that made a temporary name may still be running: this process when the tag
 * is its own, else whether a process with that id exists. `hex` undefined: a `<name>.tmp-<pid>`
 * name, which cannot tell this process from an earlier one with the same pid (then: running).
 */
export function writerAlive(pid: number, hex?: string): boolean {
  if (pid === process.pid) return hex === undefined || hex.startsWith(INSTANCE);
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // someone else's process
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A sibling of `<name>` that {@link writeDirAtomically} created. */
interface Leftover {
  readonly entry: string;
  /** `old`: the previous complete copy, moved aside; `tmp`: a copy being written (or what a writer nested inside it left). */
  readonly kind: 'tmp' | 'old';
  /** Whether its writer may still be running ({@link writerAlive}). */
  readonly alive: boolean;
}

/**
 * The leftovers of `<name>` among `entries`: `.<name>.tmp-<pid>-<hex>` and `.<name>.old-<pid>-<hex>`,
 * and what a writer filling a temporary copy leaves next to it (`.<name>.tmp-<pid>-<hex>.tmp-…`,
 * `..<name>.tmp-<pid>-<hex>.…`), which count as `tmp`.
 */
function leftoversOf(name: string, entries: readonly string[]): Leftover[] {
  const re = new RegExp(`^(\\.?)\\.${escapeRegExp(name)}\\.(tmp|old)-(\\d+)-([0-9a-f]+)(\\..*)?$`);
  const out: Leftover[] = [];
  for (const entry of entries) {
    const m = re.exec(entry);
    if (!m) continue;
    const nested = m[1] !== '' || m[5] !== undefined;
    out.push({ entry, kind: m[2] === 'old' && !nested ? 'old' : 'tmp', alive: writerAlive(Number(m[3]), m[4]) });
  }
  return out;
}

/** What {@link recoverDir} found and did. */
export interface DirRecovery {
  /**
   * `intact`: the directory was there; `restored`: it was missing (a kill between moving the old
   * copy aside and moving the new one in) and its previous complete copy, `from`, was moved back;
   * `absent`: there is no complete copy.
   */
  readonly state: 'intact' | 'restored' | 'absent';
  /** The copy a `restored` directory came from (its path before the move). */
  readonly from?: string;
  /** Leftovers deleted: temporary copies and stale old copies of writers that are not running. */
  readonly removed: readonly string[];
}

/**
 * Restores `dir` after a kill inside {@link writeDirAtomically} or {@link replaceDir}: when `dir`
 * is missing, its previous complete copy is moved back (if the writer that moved it aside seems
 * to run, after a short wait: its pid may belong to another process by now); temporary and old
 * copies of writers that are no longer running are deleted (those of running writers, this
 * process's included, are left alone). A temporary copy is never taken: it may be incomplete.
 *
 * @example
 * ```ts
 * const r = await recoverDir('runs/spam/best');
 * if (r.state === 'restored') console.log(`best/ restored from ${r.from}`);
 * ```
 */
export async function recoverDir(dir: string): Promise<DirRecovery> {
  const target = resolve(dir);
  const parent = dirname(target);
  const name = basename(target);
  let entries = await entriesOf(parent);
  let from: string | undefined;
  if (!entries.includes(name)) {
    let olds = leftoversOf(name, entries).filter((l) => l.kind === 'old');
    if (olds.length && olds.every((l) => l.alive)) {
      // A running writer is between its two renames (microseconds), or its pid was reused: wait a little.
      await new Promise((r) => setTimeout(r, 200));
      entries = await entriesOf(parent);
      olds = entries.includes(name) ? [] : leftoversOf(name, entries).filter((l) => l.kind === 'old');
    }
    // Normally at most one old copy exists; should there be more, the latest one wins.
    const dated = await Promise.all(olds.map(async (l) => ({ l, t: (await stat(join(parent, l.entry))).mtimeMs })));
    const latest = dated.sort((x, y) => y.t - x.t)[0];
    if (latest) {
      from = join(parent, latest.l.entry);
      await rename(from, target);
      entries = await entriesOf(parent);
    }
  }
  const removed: string[] = [];
  for (const l of leftoversOf(name, entries)) {
    if (l.alive) continue;
    const p = join(parent, l.entry);
    await rm(p, { recursive: true, force: true });
    removed.push(p);
  }
  const state: DirRecovery['state'] = from !== undefined ? 'restored' : entries.includes(name) ? 'intact' : 'absent';
  return { state, ...(from !== undefined ? { from } : {}), removed };
}

async function entriesOf(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Moves the complete directory `src` to `dir`, replacing `dir` if it exists, so that a complete
 * copy exists at every instant: `dir` is first renamed to `.<name>.old-<pid>-<hex>` (which
 * {@link recoverDir} moves back should the process die before `src` is in place), then `src` is
 * renamed to `dir`, then the old copy is deleted. `src` must be on the same file system (a
 * sibling, e.g. one {@link writeDirAtomically} made).
 */
export async function replaceDir(src: string, dir: string): Promise<void> {
  const target = resolve(dir);
  const old = join(dirname(target), `.${basename(target)}.old-${freshTag()}`);
  let moved = false;
  try {
    await rename(target, old);
    moved = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  try {
    await rename(src, target);
  } catch (e) {
    if (moved) await rename(old, target); // put the old one back
    throw e;
  }
  if (moved) await rm(old, { recursive: true, force: true });
}

/**
 * Runs `fill` on a fresh temporary directory next to `dir`, then moves it to `dir` (see the
 * module comment: a complete copy of `dir` exists at every instant). Leftovers of an earlier
 * writer that was killed are cleaned up first ({@link recoverDir}). Returns what `fill` returned.
 *
 * @example
 * ```ts
 * await writeDirAtomically('runs/spam/best', async (tmp) => {
 *   await writeFile(join(tmp, 'adapterkit.json'), manifest);
 * }, { overwrite: true });
 * ```
 */
export async function writeDirAtomically<T>(dir: string, fill: (tmp: string) => Promise<T>, o: AtomicDirOptions = {}): Promise<T> {
  const target = resolve(dir);
  await recoverDir(target);
  await checkWritableDir(target, o);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `.${basename(target)}.tmp-${freshTag()}`);
  await mkdir(tmp);
  let result: T;
  try {
    result = await fill(tmp);
    await checkWritableDir(target, o); // something may have appeared meanwhile
    await replaceDir(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return result;
}

/**
 * Deletes, in `dir`, the temporary files and directories that atomic writers of processes no
 * longer running left behind: entries named `<anything>.tmp-<pid>` or `<anything>.tmp-<pid>-<hex>`
 * (the weight writers' and {@link writeDirAtomically}'s); with `only`, just those whose names
 * start with one of its prefixes (in a directory that holds other files too). Returns the paths
 * deleted.
 */
export async function removeStaleTemps(dir: string, only?: readonly string[]): Promise<string[]> {
  const entries = await entriesOf(dir);
  const removed: string[] = [];
  for (const entry of entries) {
    if (only && !only.some((p) => entry.startsWith(p))) continue;
    const m = /\.tmp-(\d+)(?:-([0-9a-f]+))?$/.exec(entry);
    if (!m || writerAlive(Number(m[1]), m[2])) continue;
    const p = join(dir, entry);
    await rm(p, { recursive: true, force: true });
    removed.push(p);
  }
  return removed;
}
