/** All op builders. */
export * from './elementwise.js';
export * from './matmul.js';
export * from './reduce.js';
export * from './nn.js';
export * from './shape.js';
export * from './gather-elements.js';
export * from './losses.js';
export * from './quantized.js';
export type { Operand } from './check.js';
