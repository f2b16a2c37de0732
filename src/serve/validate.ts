/**
 * Validation of request bodies. Every check names the field (and the index of a bad input)
 * so a client can fix its request from the message alone.
 */
import { AdapterkitError } from '../errors.js';
import { MIXED_HEAD_KINDS } from '../heads/mixed.js';
import type { AnswerInput, TagInput, TaskInfo, TextInput } from './backend.js';
import { HttpError } from './http-errors.js';
import { isJsonObject } from '../util/json-text.js';

/** A classify request that passed validation. */
export interface ClassifyRequest {
  task: TaskInfo;
  inputs: TextInput[];
}

/** Most loaded task names listed in an unknown-task message. */
const LIST_LIMIT = 20;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** Most characters of a client's value quoted back in a message. */
const MAX_QUOTED = 200;

/** `s`, cut to {@link MAX_QUOTED} characters (with `…`) so that answers never echo a whole body. */
function quoted(s: string): string {
  return s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED)}…` : s;
}

/** The "unknown task" error, listing (up to 20) loaded task names. */
export function unknownTask(name: string, tasks: readonly TaskInfo[]): AdapterkitError {
  const names = tasks.map((t) => t.name).sort();
  const shown = names.slice(0, LIST_LIMIT).join(', ');
  const more = names.length > LIST_LIMIT ? ` (and ${names.length - LIST_LIMIT} more)` : '';
  const loaded = names.length === 0 ? 'no tasks are loaded' : `loaded tasks: ${shown}${more}`;
  return new AdapterkitError('NOT_FOUND', `unknown task '${quoted(name)}'; ${loaded}`);
}

/**
 * Checks `{ task, inputs }` against the loaded tasks.
 * @throws HttpError BAD_REQUEST / INPUT_KIND_MISMATCH / TOO_MANY_INPUTS, or AdapterkitError NOT_FOUND.
 */
export function parseClassifyRequest(body: unknown, tasks: readonly TaskInfo[], maxInputs: number): ClassifyRequest {
  if (!isJsonObject(body)) throw new HttpError('BAD_REQUEST', `request body must be a JSON object { "task": string, "inputs": [...] }, got ${describe(body)}`);
  const { task: taskName, inputs } = body;
  if (taskName === undefined) throw new HttpError('BAD_REQUEST', 'field "task" is missing: name the task to classify with');
  if (typeof taskName !== 'string' || taskName.length === 0) throw new HttpError('BAD_REQUEST', `field "task" must be a non-empty string, got ${describe(taskName)}`);
  if (inputs === undefined) throw new HttpError('BAD_REQUEST', 'field "inputs" is missing: send an array of texts or [text, text] pairs');
  if (!Array.isArray(inputs)) throw new HttpError('BAD_REQUEST', `field "inputs" must be an array of texts or [text, text] pairs, got ${describe(inputs)}`);
  if (inputs.length === 0) throw new HttpError('BAD_REQUEST', 'field "inputs" is empty: send at least one input');
  if (inputs.length > maxInputs) throw new HttpError('TOO_MANY_INPUTS', `field "inputs" has ${inputs.length} items; at most ${maxInputs} are allowed per request (split it into several requests)`);
  const task = tasks.find((t) => t.name === taskName);
  if (task === undefined) throw unknownTask(taskName, tasks);
  if (task.kind === 'tagging' || task.kind === 'qa') throw wrongRoute(task, '/v1/classify');
  return { task, inputs: checkTextInputs(inputs, task) };
}

/**
 * Checks classify inputs for `task` (the tasks of a request agree on pairs): strings, or pairs
 * `[a, b]` of strings for a pair task; a text with a word in it for a tagging task.
 */
function checkTextInputs(inputs: readonly unknown[], task: TaskInfo): TextInput[] {
  for (let i = 0; i < inputs.length; i++) {
    const input: unknown = inputs[i];
    if (typeof input === 'string') {
      if (task.pair) throw new HttpError('INPUT_KIND_MISMATCH', `task '${task.name}' takes sentence pairs [a, b]; inputs[${i}] is a single string`);
      if (task.kind === 'tagging' && input.trim() === '') throw new HttpError('BAD_REQUEST', `inputs[${i}] is an empty text: tagging task '${task.name}' needs at least one word`);
    } else if (Array.isArray(input)) {
      if (input.length !== 2 || typeof input[0] !== 'string' || typeof input[1] !== 'string') {
        throw new HttpError('BAD_REQUEST', `inputs[${i}] must be a string or a pair of exactly 2 strings, got ${describe(input)}${input.length === 2 ? ' with a non-string item' : ''}`);
      }
      if (!task.pair) throw new HttpError('INPUT_KIND_MISMATCH', `task '${task.name}' takes single texts; inputs[${i}] is a pair`);
    } else {
      throw new HttpError('BAD_REQUEST', `inputs[${i}] must be a string or a pair of exactly 2 strings, got ${describe(input)}`);
    }
  }
  return inputs as TextInput[];
}

/** A classify request for several tasks (`"tasks"` instead of `"task"`) that passed validation. */
export interface ManyTasksRequest {
  tasks: TaskInfo[];
  inputs: TextInput[];
}

/** Whether a classify body asks several tasks (it has a `tasks` field). */
export function asksManyTasks(body: unknown): boolean {
  return isJsonObject(body) && body.tasks !== undefined;
}

/**
 * Checks `{ tasks: [name, ...], inputs }`: every input answered by every task. The tasks are
 * distinct loaded tasks of the kinds a mixed batch serves (sentence-level and tagging tasks; not
 * QA) that all take single texts or all take pairs (tagging tasks take single texts); the
 * answers (inputs x tasks) are at most `maxInputs`.
 * @throws HttpError BAD_REQUEST / INPUT_KIND_MISMATCH / TOO_MANY_INPUTS, or AdapterkitError NOT_FOUND.
 */
export function parseManyTasksRequest(body: unknown, tasks: readonly TaskInfo[], maxInputs: number): ManyTasksRequest {
  if (!isJsonObject(body)) throw new HttpError('BAD_REQUEST', `request body must be a JSON object { "tasks": [string, ...], "inputs": [...] }, got ${describe(body)}`);
  const { task, tasks: names, inputs } = body;
  if (task !== undefined) throw new HttpError('BAD_REQUEST', 'send either "task" (one task) or "tasks" (several), not both');
  if (!Array.isArray(names)) throw new HttpError('BAD_REQUEST', `field "tasks" must be an array of task names, got ${describe(names)}`);
  if (names.length === 0) throw new HttpError('BAD_REQUEST', 'field "tasks" is empty: name at least one task');
  const picked: TaskInfo[] = [];
  names.forEach((n: unknown, k) => {
    if (typeof n !== 'string' || n.length === 0) throw new HttpError('BAD_REQUEST', `tasks[${k}] must be a non-empty string, got ${describe(n)}`);
    if (names.indexOf(n) !== k) throw new HttpError('BAD_REQUEST', `tasks[${k}] '${quoted(n)}' is listed twice (at ${names.indexOf(n)} and ${k})`);
    const t = tasks.find((x) => x.name === n);
    if (t === undefined) throw unknownTask(n, tasks);
    if (!MIXED_HEAD_KINDS.includes(t.kind)) throw new HttpError('INPUT_KIND_MISMATCH', `task '${t.name}' is a ${t.kind} task; "tasks" takes ${MIXED_HEAD_KINDS.join(', ')} tasks (a QA task answers a question over a context, not a text): send it to POST ${routeOf(t.kind)} on its own`);
    picked.push(t);
  });
  const pair = picked.find((t) => t.pair);
  const single = picked.find((t) => !t.pair);
  if (pair && single) throw new HttpError('INPUT_KIND_MISMATCH', `tasks '${pair.name}' (sentence pairs) and '${single.name}' (single texts) take different inputs; ask them in separate requests`);
  if (inputs === undefined) throw new HttpError('BAD_REQUEST', 'field "inputs" is missing: send an array of texts or [text, text] pairs');
  if (!Array.isArray(inputs)) throw new HttpError('BAD_REQUEST', `field "inputs" must be an array of texts or [text, text] pairs, got ${describe(inputs)}`);
  if (inputs.length === 0) throw new HttpError('BAD_REQUEST', 'field "inputs" is empty: send at least one input');
  if (inputs.length * picked.length > maxInputs) {
    throw new HttpError('TOO_MANY_INPUTS', `${inputs.length} inputs x ${picked.length} tasks ask ${inputs.length * picked.length} answers; at most ${maxInputs} are allowed per request (split it into several requests)`);
  }
  return { tasks: picked, inputs: checkTextInputs(inputs, picked.find((t) => t.kind === 'tagging') ?? (picked[0] as TaskInfo)) };
}

/** Route of each task kind. */
function routeOf(kind: TaskInfo['kind']): string {
  return kind === 'tagging' ? '/v1/tag' : kind === 'qa' ? '/v1/answer' : '/v1/classify';
}

/** The error for a task sent to another kind's route. */
function wrongRoute(task: TaskInfo, route: string): HttpError {
  return new HttpError('INPUT_KIND_MISMATCH', `task '${task.name}' is a ${task.kind} task; ${route} does not serve it: send it to POST ${routeOf(task.kind)}`);
}

/** Checks the common part of token-level requests: `{ task, inputs }` with a non-empty, bounded inputs array and a loaded task of `kind`. */
function tokenRequest(body: unknown, tasks: readonly TaskInfo[], maxInputs: number, kind: 'tagging' | 'qa', route: string, shape: string): { task: TaskInfo; inputs: unknown[] } {
  if (!isJsonObject(body)) throw new HttpError('BAD_REQUEST', `request body must be a JSON object { "task": string, "inputs": [${shape}] }, got ${describe(body)}`);
  const { task: taskName, inputs } = body;
  if (taskName === undefined) throw new HttpError('BAD_REQUEST', `field "task" is missing: name the ${kind} task`);
  if (typeof taskName !== 'string' || taskName.length === 0) throw new HttpError('BAD_REQUEST', `field "task" must be a non-empty string, got ${describe(taskName)}`);
  if (inputs === undefined) throw new HttpError('BAD_REQUEST', `field "inputs" is missing: send an array of ${shape}`);
  if (!Array.isArray(inputs)) throw new HttpError('BAD_REQUEST', `field "inputs" must be an array of ${shape}, got ${describe(inputs)}`);
  if (inputs.length === 0) throw new HttpError('BAD_REQUEST', 'field "inputs" is empty: send at least one input');
  if (inputs.length > maxInputs) throw new HttpError('TOO_MANY_INPUTS', `field "inputs" has ${inputs.length} items; at most ${maxInputs} are allowed per request (split it into several requests)`);
  const task = tasks.find((t) => t.name === taskName);
  if (task === undefined) throw unknownTask(taskName, tasks);
  if (task.kind !== kind) throw wrongRoute(task, route);
  return { task, inputs };
}

/** A tag request that passed validation. */
export interface TagRequest {
  task: TaskInfo;
  inputs: TagInput[];
}

/**
 * Checks `{ task, inputs: [text | [word, ...]] }` for POST /v1/tag: a text must have a
 * non-whitespace character; a word list must be non-empty strings without whitespace.
 * @throws HttpError BAD_REQUEST / INPUT_KIND_MISMATCH / TOO_MANY_INPUTS, or AdapterkitError NOT_FOUND.
 */
export function parseTagRequest(body: unknown, tasks: readonly TaskInfo[], maxInputs: number): TagRequest {
  const { task, inputs } = tokenRequest(body, tasks, maxInputs, 'tagging', '/v1/tag', 'texts or word lists');
  inputs.forEach((input: unknown, i) => {
    if (typeof input === 'string') {
      if (input.trim() === '') throw new HttpError('BAD_REQUEST', `inputs[${i}] is an empty text: send at least one word`);
      return;
    }
    if (!Array.isArray(input)) throw new HttpError('BAD_REQUEST', `inputs[${i}] must be a text or an array of words, got ${describe(input)}`);
    if (input.length === 0) throw new HttpError('BAD_REQUEST', `inputs[${i}] is an empty word list: send at least one word`);
    input.forEach((w: unknown, k) => {
      if (typeof w !== 'string' || w.length === 0 || /\s/u.test(w)) {
        throw new HttpError('BAD_REQUEST', `inputs[${i}][${k}] must be a non-empty word without whitespace, got ${typeof w === 'string' ? JSON.stringify(quoted(w)) : describe(w)}`);
      }
    });
  });
  return { task, inputs: inputs as TagInput[] };
}

/** An answer request that passed validation. */
export interface AnswerRequest {
  task: TaskInfo;
  inputs: AnswerInput[];
}

/**
 * Checks `{ task, inputs: [{ question, context }] }` for POST /v1/answer: both strings, non-blank.
 * @throws HttpError BAD_REQUEST / INPUT_KIND_MISMATCH / TOO_MANY_INPUTS, or AdapterkitError NOT_FOUND.
 */
export function parseAnswerRequest(body: unknown, tasks: readonly TaskInfo[], maxInputs: number): AnswerRequest {
  const { task, inputs } = tokenRequest(body, tasks, maxInputs, 'qa', '/v1/answer', '{ "question": string, "context": string } objects');
  const out = inputs.map((input: unknown, i): AnswerInput => {
    if (!isJsonObject(input)) throw new HttpError('BAD_REQUEST', `inputs[${i}] must be an object { "question": string, "context": string }, got ${describe(input)}`);
    for (const key of ['question', 'context'] as const) {
      const v = input[key];
      if (typeof v !== 'string') throw new HttpError('BAD_REQUEST', `inputs[${i}].${key} must be a string, got ${v === undefined ? 'nothing' : describe(v)}`);
      if (v.trim() === '') throw new HttpError('BAD_REQUEST', `inputs[${i}].${key} is empty`);
    }
    return { question: input.question as string, context: input.context as string };
  });
  return { task, inputs: out };
}

/** Names a task can be loaded under: letters, digits, `.`, `_`, `-`; 1 to 64 characters. */
export const TASK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** {@link TASK_NAME_PATTERN} in words, for messages. */
export const TASK_NAME_RULE = "1-64 characters of letters, digits, '.', '_' or '-' starting with a letter or digit";

/** Longest `dir` a load request may name. */
const MAX_DIR_LENGTH = 4096;

/**
 * Checks `{ name, dir? }` of a load request: `dir` (optional) is a path inside an adapter root;
 * without it the name is looked up in the registry (then as `<root>/<name>`).
 */
export function parseLoadRequest(body: unknown): { name: string; dir: string | undefined } {
  if (!isJsonObject(body)) throw new HttpError('BAD_REQUEST', `request body must be a JSON object { "name": string, "dir"?: string }, got ${describe(body)}`);
  const { name, dir } = body;
  if (typeof name !== 'string' || !TASK_NAME_PATTERN.test(name)) {
    throw new HttpError('BAD_REQUEST', `field "name" must be ${TASK_NAME_RULE}, got ${typeof name === 'string' ? JSON.stringify(name.slice(0, 80)) : describe(name)}`);
  }
  if (dir !== undefined && (typeof dir !== 'string' || dir.length === 0 || dir.length > MAX_DIR_LENGTH)) {
    throw new HttpError('BAD_REQUEST', `field "dir" must be a non-empty path string of at most ${MAX_DIR_LENGTH} characters (a directory inside an adapter root), or absent to load the name from the registry; got ${typeof dir === 'string' ? `a string of ${dir.length}` : describe(dir)}`);
  }
  return { name, dir };
}
