/**
 * Where a task's encoder can be cut for a frozen-layer cache, judged on the built graph: the
 * lowest layers whose input depends on no trainable tensor ({@link frozenLayersOf}), and the check
 * that a graph fed at layer k reads nothing the layers below compute ({@link checkCutGraph}).
 *
 * Working on the graph rather than on the mode's description means every method (bottleneck
 * adapters, LoRA, prefix and prompt tuning, IA³), composition, AdapterDrop, `leave_out`, top-k and
 * trained layer norms are judged by the same rule, and that every family whose layers run through
 * the encoder's layer hook works without a declaration of its own.
 */
import { fail } from '../errors.js';
import { liveNodes, type Graph, type Value } from '../engine/index.js';

/** Name of the graph input that carries a cut layer's input [batch, seq, width]. */
export const LAYER_INPUT_NAME = 'frozen_layer_input';

/** What {@link frozenLayersOf} found. */
export interface FrozenLayers {
  /** k: the input of layer k depends on no trainable tensor (0: something trains in the embeddings or layer 0 reads a trained value). */
  readonly layers: number;
  /** Why the cut cannot go higher (or at all), naming the trainable tensor that stops it. */
  readonly why: string;
}

/** The trainable tensors among `used`, in graph order. */
function trainedIn(graph: Graph, used: ReadonlySet<Value>, trainable: ReadonlySet<string>): string[] {
  return graph.params.filter((p) => used.has(p) && trainable.has(p.name)).map((p) => p.name);
}

/** The graph inputs among `used` whose feed changes from call to call, in graph order. */
function varyingIn(graph: Graph, used: ReadonlySet<Value>, varying: ReadonlySet<string>): string[] {
  return graph.inputs.filter((v) => used.has(v) && varying.has(v.name)).map((v) => v.name);
}

/**
 * The number of lowest layers nothing trains in. `inputs[l]`: the hidden state entering layer l,
 * as the encoder handed it to its layer hook; `trainable`: the names of the tensors that train;
 * `varying`: graph inputs fed a new value at every call (a fusion's annealed temperature), which
 * stop the cut as a trainable tensor does.
 */
export function frozenLayersOf(graph: Graph, inputs: readonly Value[], trainable: ReadonlySet<string>, varying: ReadonlySet<string> = new Set()): FrozenLayers {
  if (inputs.length === 0) fail('GRAPH_ERROR', 'the encoder did not call its layer hook: it cannot start training at a layer');
  for (let l = 0; l < inputs.length; l++) {
    const used = liveNodes(graph, [inputs[l] as Value]).used;
    const hit = trainedIn(graph, used, trainable);
    const fed = varyingIn(graph, used, varying);
    if (hit.length === 0 && fed.length === 0) continue;
    const where = l === 0 ? 'the embeddings (before layer 0)' : `layer ${l - 1}`;
    const why = hit.length
      ? `${hit[0]}${hit.length > 1 ? ` (and ${hit.length - 1} more)` : ''} trains in ${where}, so the input of layer ${l} changes as training goes`
      : `${fed[0]} (fed anew at every forward call: an AdapterFusion temperature annealed per call) is read in ${where}, so the input of layer ${l} changes from step to step`;
    return { layers: Math.max(0, l - 1), why: l === 0 ? `${why}: no layer's input stays the same` : why };
  }
  return { layers: inputs.length - 1, why: `the cut stops at the last layer (${inputs.length - 1}): its output feeds the pooling and the head directly` };
}

/**
 * GRAPH_ERROR unless the graph computing `outputs` from the input of `layer` leaves the layers
 * below dead: no value on the path from the input of layer 0 (`first`) to the original input of
 * `layer` (`below`) may be live. What the upper layers legitimately share with the lower ones
 * (masks, position ids, relative-position terms, rotary tables: functions of the fed ids and mask
 * and of frozen weights) is recomputed and allowed; reading a lower layer's hidden states would
 * rerun those layers and defeat the cache.
 */
export function checkCutGraph(graph: Graph, outputs: readonly Value[], first: Value, below: Value, layer: number): void {
  const lower = liveNodes(graph, [below]).used;
  const path = new Set<Value>([first]); // descendants of `first` among the ancestors of `below`
  for (const n of graph.nodes) {
    if (!n.inputs.some((v) => v && path.has(v))) continue;
    for (const v of n.outputs) if (lower.has(v)) path.add(v);
  }
  const live = liveNodes(graph, outputs).used;
  for (const v of path) {
    if (live.has(v)) fail('GRAPH_ERROR', `the graph started at layer ${layer} still reads ${v.name}, which the layers below it compute from their hidden states: this encoder cannot train from cached layer inputs`);
  }
}
