/**
 * The nonlinearities the encoders and adapters use, as graph ops: one switch that the BERT family's
 * `hidden_act` and the bottleneck adapters' `non_linearity` both map their names onto.
 */
import { gelu, relu, silu, tanh, type Value } from '../engine/index.js';

/** A nonlinearity as the graph computes it (`gelu` is the exact erf form, `gelu_tanh` the tanh approximation). */
export type GraphActivation = 'gelu' | 'gelu_tanh' | 'relu' | 'silu' | 'tanh';

/** Applies a nonlinearity. */
export function activate(x: Value, a: GraphActivation): Value {
  switch (a) {
    case 'gelu':
      return gelu(x);
    case 'gelu_tanh':
      return gelu(x, 'tanh');
    case 'relu':
      return relu(x);
    case 'silu':
      return silu(x);
    case 'tanh':
      return tanh(x);
  }
}
