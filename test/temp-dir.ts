/**
 * Temporary directories for tests, in one place. Each is made in the OS temp directory and removed
 * when the test file's process exits (node --test runs every file in its own process), whether the
 * test passed or not. `npm test` fails the run if anything is left in its temp directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();
let hooked = false;

function removeAll(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}

/** A new empty directory named `<prefix>XXXXXX`, removed when this process exits. */
export function tempDir(prefix: string): string {
  if (!hooked) {
    hooked = true;
    process.once('exit', removeAll);
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** {@link tempDir} with a `cleanup` that removes it now (it is removed at exit otherwise). */
export function disposableTempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = tempDir(prefix);
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      made.delete(dir);
    },
  };
}
