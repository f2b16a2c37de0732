/**
 * A value worked out once by an async computation (e.g. the int8 outlier guard's plan), safe
 * under calls that overlap: calls that come while it is being computed share that computation
 * instead of starting their own. A failure is not kept (the next call computes again), and
 * {@link AsyncOnce.reset} forgets the value; a computation under way when reset is called still
 * answers the calls that started it, but its result is not kept.
 *
 * @example
 * ```ts
 * const plan = new AsyncOnce<number>();
 * let runs = 0;
 * const work = async () => ++runs;
 * await Promise.all([plan.get(work), plan.get(work)]); // [1, 1]: one run
 * plan.current; // 1
 * plan.reset();
 * await plan.get(work); // 2
 * ```
 */
export class AsyncOnce<T> {
  private kept?: { readonly value: T };
  private pending?: Promise<T>;

  /** The value, once computed and not reset (undefined before). */
  get current(): T | undefined {
    return this.kept?.value;
  }

  /**
   * The kept value, or the computation under way, or a new run of `compute`. `onKept` is called
   * with a new run's value once it is kept ({@link current} gives it by then); not for a result
   * that a reset made stale.
   */
  get(compute: () => Promise<T>, onKept?: (value: T) => void): Promise<T> {
    if (this.kept) return Promise.resolve(this.kept.value);
    if (this.pending) return this.pending;
    const p: Promise<T> = new Promise<T>((resolve) => resolve(compute())).then(
      (value) => {
        if (this.pending === p) {
          this.kept = { value };
          this.pending = undefined;
          onKept?.(value);
        }
        return value;
      },
      (e: unknown) => {
        if (this.pending === p) this.pending = undefined; // the next call computes again
        throw e;
      },
    );
    this.pending = p;
    return p;
  }

  /** Forgets the value (and any computation under way: its result will not be kept). */
  reset(): void {
    this.kept = undefined;
    this.pending = undefined;
  }
}
