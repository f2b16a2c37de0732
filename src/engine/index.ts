/**
 * adapterkit's engine: a graph builder that emits ONNX, reverse-mode differentiation on that
 * graph, and execution on onnxruntime-node.
 *
 * @example
 * ```ts
 * import { Graph, Session, f32, matmul, reduceMean, gradients } from 'adapterkit/engine';
 * const g = new Graph('demo');
 * const x = g.input('x', 'float32', ['batch', 2]);
 * const w = g.param('w', f32([2, 1], [0.5, -1]));
 * const loss = reduceMean(matmul(x, w));
 * const [dw] = gradients(loss, [w]);
 * g.output(loss, dw!);
 * const s = await Session.create(g);
 * const out = await s.run({ x: f32([1, 2], [1, 2]) });
 * // out[loss.name].data -> Float32Array [-1.5]; out[dw.name].data -> Float32Array [1, 2]
 * ```
 */
export { Graph, Value, attr, type Attr, type LinearKernel, type Node, type OutputSpec, type SymbolSource, type ValueKind } from './graph.js';
export * from './tensor.js';
export * from './shape.js';
export * from './ops/index.js';
export { gradients, unbroadcast, type GradientOptions } from './autodiff/differentiate.js';
export { registeredOps, gradientEntry, type GradientEntry, type GradRule, type GradContext } from './autodiff/registry.js';
export { serializeGraph, liveNodes, type SerializeOptions, type SerializedModel } from './onnx/serialize.js';
export { EXTERNAL_MEMORY_BYTES, Session, externalDataDefault, type SessionOptions } from './runtime/session.js';
export { SessionSlot } from './runtime/session-slot.js';
export { setRuntimeBackend, type RuntimeBackend, type OrtSession, type OrtSessionOptions, type OrtTensor, type ModelFiles } from './runtime/backend.js';
