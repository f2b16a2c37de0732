/** Registers every gradient rule (import for side effects). */
import './elementwise.js';
import './reduce.js';
import './matmul.js';
import './normalization.js';
import './shape.js';
import './gather-elements.js';
import './quantized.js';
