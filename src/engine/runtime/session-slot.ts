/**
 * A session built on first use and shared until dropped, safe under calls that overlap: what a
 * model keeps for each graph it runs (a task's training, prediction and bottom-layer sessions).
 *
 * A plain `if (!this.session) this.session = await Session.create(…)` builds one session per call
 * that arrives before the first build resolves, and keeps only the last (the others are never
 * released); a slot builds once and every call that arrives meanwhile waits for that build.
 * A build that fails leaves the slot empty, so a later call builds again. Dropping the slot
 * (dispose, or a change that makes the graph stale) while its session is being built or run
 * releases the session once that build and every run that took it have finished: nothing leaks,
 * and no run has its session released under it.
 */
import type { Session } from './session.js';

/** One filled slot: the build, and the uses that took it. */
interface Entry<V> {
  readonly value: Promise<V>;
  readonly uses: Set<Promise<unknown>>;
}

/**
 * Holds one session and whatever its user keeps beside it (`V`: the session and e.g. the graph
 * values it fetches, so that a use always reads the outputs of the session it runs).
 *
 * @example
 * ```ts
 * const slot = new SessionSlot<{ session: Session; y: Value }>();
 * const build = async () => ({ session: await Session.create(g, { outputs: [y] }), y });
 * const run = () => slot.use(build, async ({ session, y }) => (await session.run(feeds))[y.name]);
 * const [a, b] = await Promise.all([run(), run()]); // one session built, both runs on it
 * await slot.drop(); // released
 * ```
 */
export class SessionSlot<V extends { readonly session: Session }> {
  private entry?: Entry<V>;

  /** Whether a session is built or being built. */
  get filled(): boolean {
    return this.entry !== undefined;
  }

  /**
   * Runs `use` on the slot's session, building it with `build` first when the slot is empty (a
   * call during a build waits for that build and shares its failure).
   */
  use<T>(build: () => Promise<V>, use: (v: V) => Promise<T>): Promise<T> {
    const e = this.entry ?? this.fill(build);
    const run = e.value.then(use);
    e.uses.add(run);
    const done = () => e.uses.delete(run);
    run.then(done, done);
    return run;
  }

  /**
   * Empties the slot (the next use builds anew). Resolves once its session, if one was built, is
   * released: after the build and the uses that took it have settled. Rejects only when the
   * release fails.
   */
  async drop(): Promise<void> {
    const e = this.entry;
    if (!e) return;
    this.entry = undefined;
    await Promise.allSettled([e.value, ...e.uses]); // no use can join e any more: it has left the slot
    const built = await e.value.then((v) => v, () => undefined);
    await built?.session.dispose();
  }

  private fill(build: () => Promise<V>): Entry<V> {
    const e: Entry<V> = { value: new Promise<V>((resolve) => resolve(build())), uses: new Set() }; // a build that throws at once rejects like one that fails later
    this.entry = e;
    e.value.catch(() => {
      if (this.entry === e) this.entry = undefined; // a later use builds again
    });
    return e;
  }
}
