/**
 * External data in a browser: there is no file system to write it to. The browser build puts
 * this module in the place of `external-data-node.ts` (see src/browser/build.ts).
 */
import { fail } from '../../errors.js';
import type { ExternalDataFiles } from './external-data-node.js';

/** Refuses external data, naming the limit. */
export const externalDataFiles: ExternalDataFiles = {
  open: () => fail('GRAPH_ERROR', 'external data (models over 1.5 GB) needs a file system; the browser build keeps models in memory only'),
};
