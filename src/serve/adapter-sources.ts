/**
 * Where `POST /v1/adapters` may load adapters from: the registry (names the operator gave at
 * start) and the adapter roots (directories whose sub-directories may be loaded).
 *
 * - **Registry**: `name -> directory`, e.g. the CLI's `--adapter name=dir`. A load request that
 *   gives only a name loads the directory registered under it (after an unload, say).
 * - **Adapter roots**: a load request names a directory inside a root, relative to it
 *   (`"dir": "spam/best"`) or absolute; a request without `dir` tries `<root>/<name>`. The real
 *   path (symlinks resolved) must lie inside the root, and so must every symlink inside the
 *   adapter directory; special files (FIFOs, devices, sockets) are refused, and the directory
 *   must hold one of the files that mark a task directory ({@link TASK_DIR_MARKERS}).
 *
 * Every way a request can fail to locate an adapter (no such directory, unreadable, outside every
 * root, a symlink that leaves the root, not a task directory, not in the registry) gives the same
 * `404 NOT_FOUND` with
 * the same message, which quotes only what the caller sent: the answer tells nothing about the
 * file system. Without roots, only registry names load.
 *
 * Residual: the checks run just before the load; someone who can write inside a root can still
 * swap files between the check and the read. Roots are meant to hold the operator's adapters only.
 */
import { constants } from 'node:fs';
import { access, lstat, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AdapterkitError, fail } from '../errors.js';

/** Most entries looked at inside one adapter directory, and how deep. */
const WALK_LIMITS = { entries: 512, depth: 4 } as const;

/** Most characters of the caller's `dir` quoted back in a refusal. */
const MAX_QUOTED = 200;

/**
 * Files of which a task directory holds at least one (adapterkit's manifest, or AdapterHub's and
 * PEFT's configs); a directory with none of them is "not available" like a missing one.
 */
export const TASK_DIR_MARKERS = ['adapterkit.json', 'adapter_config.json', 'head_config.json'] as const;

/** Options of {@link AdapterSources.open}. */
export interface AdapterSourceOptions {
  /** Directories whose sub-directories may be loaded. Default none. */
  roots?: readonly string[];
  /** Names loadable without a path, each with its directory (trusted: the operator chose it). */
  registry?: Readonly<Record<string, string>>;
}

/** A located adapter directory. */
export interface LocatedAdapter {
  /** Path to load from (the real path for root loads). */
  readonly path: string;
  /** How to call it in messages and listings: the `dir` the caller sent, else the name. */
  readonly label: string;
  /** Rewrites a loader message so it shows the label instead of server paths. */
  readonly scrub: (message: string) => string;
}

/** Resolves load requests to directories, confined to the registry and the roots. */
export class AdapterSources {
  private constructor(
    /** Real paths of the roots. */
    readonly roots: readonly string[],
    private readonly registry: ReadonlyMap<string, string>,
    /** The roots as configured (to scrub from messages too). */
    private readonly given: readonly string[],
  ) {}

  /**
   * Checks the roots (each must be an existing directory) and takes the registry.
   * @throws AdapterkitError BAD_CONFIG for a root that is missing or not a directory.
   */
  static async open(o: AdapterSourceOptions = {}): Promise<AdapterSources> {
    const roots: string[] = [];
    for (const r of o.roots ?? []) {
      let real: string;
      try {
        real = await realpath(r);
        if (!(await stat(real)).isDirectory()) fail('BAD_CONFIG', `adapter root ${r} is not a directory`);
      } catch (e) {
        if (e instanceof AdapterkitError) throw e;
        return fail('BAD_CONFIG', `adapter root ${r} does not exist or cannot be read`);
      }
      roots.push(real);
    }
    return new AdapterSources(roots, new Map(Object.entries(o.registry ?? {})), [...(o.roots ?? [])].map((r) => resolve(r)));
  }

  /**
   * The directory to load for a request `{ name, dir? }`.
   * @throws AdapterkitError NOT_FOUND, the same for every reason (see the module comment).
   */
  async locate(name: string, dir: string | undefined): Promise<LocatedAdapter> {
    const label = dir ?? name;
    const unavailable = (): never => {
      const shown = label.length > MAX_QUOTED ? `${label.slice(0, MAX_QUOTED)}…` : label;
      const how = this.roots.length === 0
        ? (dir === undefined ? 'it is not in the registry' : 'this server loads adapters by registry name only (it has no adapter roots)')
        : 'it is not in the registry or not a readable adapter directory inside the adapter roots';
      throw new AdapterkitError('NOT_FOUND', `adapter '${shown}' is not available: ${how}`);
    };
    if (dir === undefined) {
      const registered = this.registry.get(name);
      if (registered !== undefined) return { path: registered, label, scrub: (m) => replaceAll(replaceAll(m, resolve(registered), label), registered, label) };
    }
    if (dir !== undefined && (dir.includes('\0') || this.roots.length === 0)) return unavailable();
    for (const root of this.roots) {
      const found = await this.inside(root, dir ?? name);
      if (found !== undefined) return { path: found, label, scrub: (m) => this.scrubPaths(m, found, label) };
    }
    return unavailable();
  }

  /** The real path of `p` (relative to `root`, or absolute) when it is a clean adapter directory inside `root`. */
  private async inside(root: string, p: string): Promise<string | undefined> {
    try {
      const real = await realpath(isAbsolute(p) ? p : join(root, p));
      if (!within(root, real) || real === root) return undefined;
      if (!(await stat(real)).isDirectory()) return undefined;
      await access(real, constants.R_OK | constants.X_OK);
      if (!(await cleanTree(root, real))) return undefined;
      return (await Promise.all(TASK_DIR_MARKERS.map((f) => isFile(join(real, f))))).some(Boolean) ? real : undefined;
    } catch {
      return undefined;
    }
  }

  /** Replaces the adapter's real path with its label and the roots with `<adapter-root>`. */
  private scrubPaths(message: string, real: string, label: string): string {
    let m = replaceAll(message, real, label);
    for (const r of [...this.roots, ...this.given].sort((a, b) => b.length - a.length)) m = replaceAll(m, r, '<adapter-root>');
    return m;
  }
}

/** `text` with every `what` replaced by `by` (an empty `what` changes nothing). */
function replaceAll(text: string, what: string, by: string): string {
  return what.length === 0 ? text : text.split(what).join(by);
}

/** True when `p` is a regular file (after symlinks, which {@link cleanTree} has checked). */
async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** True when `p` is `root` or below it (both real, absolute paths). */
function within(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * True when every entry under `dir` is a readable regular file or directory, or a symlink whose
 * target is one inside `root`; bounded by {@link WALK_LIMITS}.
 */
async function cleanTree(root: string, dir: string): Promise<boolean> {
  let seen = 0;
  const walk = async (d: string, depth: number): Promise<boolean> => {
    for (const entry of await readdir(d)) {
      if (++seen > WALK_LIMITS.entries) return false;
      const p = join(d, entry);
      let target = p;
      let st = await lstat(p);
      if (st.isSymbolicLink()) {
        target = await realpath(p);
        if (!within(root, target)) return false;
        st = await stat(target);
      }
      if (st.isDirectory()) {
        if (depth >= WALK_LIMITS.depth || !within(dir, target) || !(await walk(target, depth + 1))) return false;
      } else if (st.isFile()) {
        await access(target, constants.R_OK);
      } else {
        return false;
      }
    }
    return true;
  };
  return walk(dir, 0);
}
