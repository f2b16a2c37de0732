/** The package version, reported by `adapterkit --version` and stored in task files. */
export const VERSION = '0.1.0';
