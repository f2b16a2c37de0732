/**
 * Writing a model with external data (see `SerializeOptions.externalData`) to the file system.
 * The browser build replaces this module with `external-data-web.ts` (see src/browser/build.ts).
 */
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** An external data file being written; see {@link ExternalDataFiles}. */
export interface ExternalDataFile {
  /** Writes `bytes` at byte offset `at`. */
  write(bytes: Uint8Array, at: number): void;
  /** Closes the file (also after a failure; idempotent). */
  close(): void;
  /** Renames the finished data file into place and writes the model next to it; returns the model's path. */
  commit(modelFile: string, model: Uint8Array): string;
}

/** Where external data goes. */
export interface ExternalDataFiles {
  /** Opens a temporary data file in `dir` that {@link ExternalDataFile.commit} names `dataName`. */
  open(dir: string, dataName: string): ExternalDataFile;
}

/** External data in the file system (Node). */
export const externalDataFiles: ExternalDataFiles = {
  open(dir, dataName) {
    const tmp = join(dir, `${dataName}.tmp-${process.pid}`);
    let fd: number | undefined = openSync(tmp, 'w');
    const close = (): void => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    };
    return {
      write: (bytes, at) => void writeSync(fd as number, bytes, 0, bytes.byteLength, at),
      close,
      commit: (modelFile, model) => {
        close();
        const path = join(dir, modelFile);
        renameSync(tmp, join(dir, dataName));
        writeFileSync(path, model);
        return path;
      },
    };
  },
};
