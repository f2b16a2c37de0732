#!/usr/bin/env node
/** Executable entry of the `adapterkit` command. */
import { runCli } from './main.js';

// A reader that went away (`adapterkit predict … | head -1`): on stdout, stop quietly as Unix tools
// do; on stderr (progress lines), keep working without them, so that a training run still saves.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});
process.stderr.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});

process.exitCode = await runCli(process.argv.slice(2));
