/**
 * Library messages in the command line's words. Library errors speak of the library's options
 * (`the option resume: true`); those that name options list them in `details.options`, option name
 * -> the words the message uses, and here those words become the flag (`--resume`).
 *
 * A flag is the option's name in kebab case (`clipNorm` -> `--clip-norm`), except where the CLI
 * names it otherwise ({@link FLAG_EXCEPTIONS}).
 */
import type { AdapterkitError } from '../errors.js';

/** Library options whose flag is not their kebab-case name. */
const FLAG_EXCEPTIONS: Readonly<Record<string, string>> = { outDir: '--out', taskName: '--name' };

/** The command-line flag of a library option. */
export function flagOf(option: string): string {
  return FLAG_EXCEPTIONS[option] ?? `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The error's message with each option it names (see the module comment) worded as its flag. */
export function inCliTerms(e: AdapterkitError): string {
  const named = e.details?.options;
  if (typeof named !== 'object' || named === null) return e.message;
  let message = e.message;
  for (const [option, words] of Object.entries(named as Record<string, unknown>)) {
    if (typeof words === 'string' && words !== '') message = message.split(words).join(flagOf(option));
  }
  return message;
}
