/**
 * The `adapterkit` command line. Each sub-command lives in `commands/<name>.ts` and registers
 * itself on the program; this file only wires them and maps errors to exit codes.
 */
import { Command, CommanderError } from 'commander';
import { AdapterkitError } from '../errors.js';
import { COMMANDS } from './commands/index.js';
import { inCliTerms } from './library-terms.js';
import { VERSION } from '../version.js';

/** Builds the program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command('adapterkit')
    .description('Parameter-efficient transfer learning (Houlsby adapters) for TypeScript, on ONNX Runtime.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (s, write) => write(s) })
    .exitOverride();
  for (const register of COMMANDS) register(program);
  return program;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof AdapterkitError) {
      process.stderr.write(`adapterkit: error [${e.code}]: ${inCliTerms(e)}\n`);
      return e.exitCode;
    }
    process.stderr.write(`adapterkit: unexpected error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
