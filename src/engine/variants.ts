/**
 * @internal Switches between the current and the previous form of a few graph patterns, for
 * benchmarks that time both in one process (bench/engine-variants.bench.ts) or profile the previous
 * one (bench/profile.bench.ts with BENCH_ENGINE=previous), and for the test that checks both give
 * the same gradients. Not for applications: module state, not exported from the engine's index;
 * every switch defaults to the current form, and graphs already built keep the form they were
 * built with.
 */

/** The patterns that have an older form. */
export interface BuildVariants {
  /** `linear` with a bias as one Gemm over rows (true) or MatMul + Add (false). */
  readonly fusedBias: boolean;
  /** The GELU and LayerNormalization gradients with fewer element-wise passes (true) or as before (false). */
  readonly leanGradients: boolean;
}

const CURRENT: BuildVariants = { fusedBias: true, leanGradients: true };
let variants: BuildVariants = CURRENT;

/** The variants graphs are built with now. */
export function buildVariants(): BuildVariants {
  return variants;
}

/** Sets some variants (`'current'`: all back to the current forms); returns the previous setting. */
export function setBuildVariants(v: Partial<BuildVariants> | 'current'): BuildVariants {
  const was = variants;
  variants = v === 'current' ? CURRENT : { ...variants, ...v };
  return was;
}

/** Every pattern in its previous form. */
export const PREVIOUS_VARIANTS: BuildVariants = { fusedBias: false, leanGradients: false };
