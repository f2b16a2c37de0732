/** The client process of {@link runLoadInChild}: reads a JSON array of load phases on stdin, runs them in order, prints their results as JSON. */
import { runLoad, type LoadOptions, type LoadResult } from './load.js';

let input = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) input += chunk as string;
const results: LoadResult[] = [];
for (const phase of JSON.parse(input) as LoadOptions[]) results.push(await runLoad(phase));
process.stdout.write(JSON.stringify(results));
