/**
 * Child process of ort-telemetry.test.ts: makes and runs one session through the engine's default
 * runtime backend, then prints the ORT_DISABLE_TELEMETRY value the process ended with.
 */
import * as E from '../../src/engine/index.js';
import { defaultRuntimeBackend } from '../../src/engine/runtime/ort-node.js';

const g = new E.Graph('telemetry-probe');
const x = g.input('x', 'float32', ['n', 2]);
const model = E.serializeGraph(g, { outputs: [E.add(E.mul(x, 2), 1)], outputNames: ['y'] });
const session = await defaultRuntimeBackend.createSession(model.bytes, {});
const out = await session.run({ x: defaultRuntimeBackend.tensor('float32', Float32Array.from([1, 2]), [1, 2]) }, ['y']);
await session.release();
console.log(JSON.stringify({ y: Array.from(out.y?.data as Float32Array), ORT_DISABLE_TELEMETRY: process.env.ORT_DISABLE_TELEMETRY ?? null }));
