/**
 * The inference routes: POST /v1/classify (through the batcher, merged across tasks; with
 * `"tasks"`, tagging tasks too, answered as POST /v1/tag answers), POST /v1/tag and POST
 * /v1/answer (token-level tasks, one request at a time, taking turns with classify batches). Every
 * request waits at most until its deadline; queued inputs (an answer request's windows) count
 * towards `maxQueue`.
 */
import type { FastifyPluginAsync } from 'fastify';
import { AdapterkitError } from '../../errors.js';
import type { AnswerOutput, ClassifyOutput, ItemOutput, TagOutput } from '../backend.js';
import { isLoaded, type PluginOptions, type ServeContext } from '../context.js';
import { HttpError } from '../http-errors.js';
import { asksManyTasks, parseAnswerRequest, parseClassifyRequest, parseManyTasksRequest, parseTagRequest, unknownTask } from '../validate.js';

/** Response of POST /v1/classify. */
export interface ClassifyResponse {
  task: string;
  results: ClassifyOutput[];
  /** How many inputs were truncated to the backend's maximum length. */
  truncated: number;
}

/**
 * Response of POST /v1/classify with `"tasks"`: per input, each task's answer by task name (a
 * tagging task's is what POST /v1/tag answers for the text: its words and their tags).
 */
export interface ManyTasksResponse {
  tasks: string[];
  results: Record<string, ItemOutput>[];
  /** How many inputs were truncated to the backend's maximum length. */
  truncated: number;
}

/** Response of POST /v1/tag. */
export interface TagResponse {
  task: string;
  results: TagOutput[];
  /** How many inputs lost words to the backend's maximum length. */
  truncated: number;
}

/** Response of POST /v1/answer. */
export interface AnswerResponse {
  task: string;
  results: AnswerOutput[];
}

/**
 * Runs a token-level task with the backend to itself, between classify batches (so an unload
 * never overlaps it); its inputs count towards the queue bound while it waits.
 */
function runTokenTask<T>(ctx: ServeContext, name: string, what: string, weight: number, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  return ctx.queue.exclusive(async () => {
    if (!isLoaded(ctx, name)) throw unknownTask(name, ctx.backend.tasks());
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AdapterkitError || err instanceof HttpError) throw err;
      throw new HttpError('BACKEND_FAILED', `${what} with task '${name}' failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }, { weight, signal });
}

export const inferenceRoutes: FastifyPluginAsync<PluginOptions> = async (app, { ctx }) => {
  const { backend, queue, metrics } = ctx;
  const { maxInputs, maxAnswerWindows } = ctx.limits;

  app.post('/v1/classify', async (req): Promise<ClassifyResponse | ManyTasksResponse> => {
    if (asksManyTasks(req.body)) {
      // input after input, each asked of every task: the backend runs an input once below its fan-out layer
      const { tasks, inputs } = parseManyTasksRequest(req.body, backend.tasks(), maxInputs);
      const tagging = tasks.find((t) => t.kind === 'tagging');
      if (tagging && !backend.tag) throw new HttpError('INPUT_KIND_MISMATCH', `task '${tagging.name}' is a tagging task and this server's backend does not serve tagging tasks`);
      const flat = await queue.submit(inputs.flatMap((input) => tasks.map((t) => ({ task: t.name, input }))), req.deadline);
      const k = tasks.length;
      const results = inputs.map((_, i) => Object.fromEntries(tasks.map((t, j) => [t.name, flat[i * k + j] as ItemOutput])));
      const truncated = inputs.reduce<number>((n, _, i) => n + (flat.slice(i * k, (i + 1) * k).some((r) => r.truncated) ? 1 : 0), 0);
      tasks.forEach((t, j) => metrics.observeClassified(t.name, inputs.length, inputs.reduce<number>((n, _, i) => n + (flat[i * k + j]?.truncated ? 1 : 0), 0)));
      return { tasks: tasks.map((t) => t.name), results, truncated };
    }
    const { task, inputs } = parseClassifyRequest(req.body, backend.tasks(), maxInputs);
    // sentence-level answers only: parseClassifyRequest refuses tagging tasks
    const results = await queue.submit(inputs.map((input) => ({ task: task.name, input })), req.deadline) as ClassifyOutput[];
    const truncated = results.reduce((n, r) => n + (r.truncated ? 1 : 0), 0);
    metrics.observeClassified(task.name, results.length, truncated);
    return { task: task.name, results, truncated };
  });

  app.post('/v1/tag', async (req): Promise<TagResponse> => {
    const { task, inputs } = parseTagRequest(req.body, backend.tasks(), maxInputs);
    const tag = backend.tag?.bind(backend);
    if (!tag) throw new HttpError('INPUT_KIND_MISMATCH', 'this server\'s backend does not serve tagging tasks');
    const results = await runTokenTask(ctx, task.name, 'tagging', inputs.length, req.deadline, () => tag(task.name, inputs));
    const truncated = results.reduce((n, r) => n + (r.truncated ? 1 : 0), 0);
    metrics.observeClassified(task.name, results.length, truncated);
    return { task: task.name, results, truncated };
  });

  app.post('/v1/answer', async (req): Promise<AnswerResponse> => {
    const { task, inputs } = parseAnswerRequest(req.body, backend.tasks(), maxInputs);
    const answer = backend.answer?.bind(backend);
    if (!answer) throw new HttpError('INPUT_KIND_MISMATCH', 'this server\'s backend does not serve question answering tasks');
    // Answering costs time linear in the contexts' windows: bounded per input, and weighed in the
    // queue by windows (a request heavier than the whole queue waits for an empty one).
    const windows = backend.answerWindows?.(task.name, inputs);
    windows?.forEach((w, i) => {
      if (w > maxAnswerWindows) {
        throw new HttpError('INPUT_TOO_LONG', `inputs[${i}].context takes ${w} windows of ${backend.maxLength} tokens; at most ${maxAnswerWindows} are allowed per input (maxAnswerWindows; adapterkit serve --max-answer-windows): send a shorter context, or split it`);
      }
    });
    const weight = Math.min(queue.maxQueue, windows?.reduce((a, b) => a + b, 0) ?? inputs.length);
    const results = await runTokenTask(ctx, task.name, 'answering', weight, req.deadline, () => answer(task.name, inputs));
    metrics.observeClassified(task.name, results.length, 0);
    return { task: task.name, results };
  });
};
