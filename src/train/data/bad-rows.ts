/**
 * One place that decides what happens to a malformed row: throw a BAD_DATA error naming the file
 * and line, or record it in the load report. Rows are never dropped without a trace.
 */
import { AdapterkitError } from '../../errors.js';
import type { LoadReport, OnBadRow } from './types.js';

/** Collects or throws on malformed rows, per the `onBadRow` policy. */
export class BadRows {
  readonly report: LoadReport = { skipped: [] };

  constructor(readonly policy: OnBadRow = 'fail') {}

  /** Reports a malformed row: throws in 'fail' mode, records it in 'skip' mode. */
  bad(file: string, line: number, reason: string): void {
    if (this.policy === 'fail') {
      throw new AdapterkitError('BAD_DATA', `${file}:${line}: ${reason}`, { file, line, reason });
    }
    this.report.skipped.push({ file, line, reason });
  }
}

/** Validates an `onBadRow` option value. */
export function checkOnBadRow(value: unknown): OnBadRow {
  if (value === undefined) return 'fail';
  if (value === 'fail' || value === 'skip') return value;
  throw new AdapterkitError('BAD_CONFIG', `onBadRow must be 'fail' or 'skip', got ${JSON.stringify(value)}`);
}
