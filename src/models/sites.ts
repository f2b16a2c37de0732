/**
 * Hook sites: the places inside an encoder where adapter methods act, declared by each encoder
 * as data and validated once against its weight declarations.
 *
 * - A **sub-layer** site is one attention or feed-forward block with its residual connection and
 *   layer norm. Bottleneck adapters act here: the encoder hands over the block's input, its
 *   output before the residual add (`h`), the residual, and its original layer norm.
 * - A **linear** site is one projection (query, key, value, attention output, intermediate,
 *   output) with its weight, bias and widths; a projection that is a column block of a fused
 *   weight (USE-lite's Q|K|V kernel) names the columns. LoRA and IA³ act here.
 * - An **attention** site describes one self-attention (heads, head width), where prefix methods
 *   will join keys and values.
 * - The **embeddings** site is the embedding output that enters layer 0.
 *
 * Every site has a `key` (`<layer>.<name>`, e.g. `3.ffn`, `3.query`) that adapter tensor names
 * use; keys are unique across kinds within one encoder.
 */
import { fail } from '../errors.js';
import type { WeightSpec } from './encoder.js';

/** The two sub-layer blocks of a Transformer layer. */
export type SubLayerName = 'attention' | 'ffn';

/** All sub-layer names, in the order they run within a layer. */
export const SUBLAYER_NAMES: readonly SubLayerName[] = ['attention', 'ffn'];

/** A sub-layer block with its residual connection and layer norm. */
export interface SubLayerSite {
  readonly kind: 'sublayer';
  /** `<layer>.<sublayer>`, e.g. `0.attention`. */
  readonly key: string;
  readonly layer: number;
  readonly sublayer: SubLayerName;
  /** Width of the block's output `h` and of the residual it is added to. */
  readonly width: number;
  /** Width of the block's input (differs from `width` where the residual is widened, USE-lite layer 0). */
  readonly inputWidth: number;
  /**
   * `post`: the block computes `LN(h + residual)` (BERT family). `pre`: it normalises its input
   * first and computes `h + residual` (USE-lite).
   */
  readonly norm: 'post' | 'pre';
  /**
   * Prefix of the block's layer-norm weights (`<prefix>.weight`, `<prefix>.bias`). Absent: the
   * block normalises nothing (ModernBERT's layer 0 attention, whose `attn_norm` is the identity).
   */
  readonly normPrefix?: string;
  /** False when the block's layer norm has a gain only (no `<prefix>.bias`: ModernBERT's `norm_bias: false`). */
  readonly normBias?: boolean;
  /**
   * Module path (without the model prefix) where AdapterHub keeps bottleneck adapters of this
   * block, e.g. `encoder.layer.0.attention.output`; keys continue with `.adapters.<name>.…`.
   */
  readonly module: string;
  /**
   * The other layers whose sites run the same weights (ALBERT's shared layers). Adapters stay per
   * site, so `module` then carries `.depth.<layer>` and AdapterHub / PEFT (which keep one adapter
   * per shared module) cannot load them. Absent: the weights are this layer's own.
   */
  readonly sharedWith?: readonly number[];
}

/** Roles of the projections that linear sites name. */
export type LinearRole = 'query' | 'key' | 'value' | 'attention_output' | 'intermediate' | 'output';

/** All linear roles, in the order they run within a layer. */
export const LINEAR_ROLES: readonly LinearRole[] = ['query', 'key', 'value', 'attention_output', 'intermediate', 'output'];

/** One projection `y = x W + b` of a layer. */
export interface LinearSite {
  readonly kind: 'linear';
  /** `<layer>.<role>`, e.g. `0.query`. */
  readonly key: string;
  readonly layer: number;
  readonly role: LinearRole;
  /** Weight name ([in, out], possibly fused: see `columns`). */
  readonly weight: string;
  /** Bias name; absent for a projection without bias (ModernBERT's `attention_bias` / `mlp_bias` false). */
  readonly bias?: string;
  readonly inWidth: number;
  readonly outWidth: number;
  /** For a block of a fused weight: the columns `[from, to)` of `weight` and `bias` this projection is. */
  readonly columns?: readonly [number, number];
  /**
   * Module path (without the model prefix) of the projection in the checkpoint's module tree,
   * e.g. `encoder.layer.0.attention.self.query`; LoRA keys continue with `.loras.<name>.lora_A`
   * (AdapterHub) or `.lora_A.weight` (PEFT).
   */
  readonly module: string;
  /** As {@link SubLayerSite.sharedWith}. */
  readonly sharedWith?: readonly number[];
}

/** One self-attention, for methods that extend its keys and values. */
export interface AttentionSite {
  readonly kind: 'attention';
  /** `<layer>.self_attention`. */
  readonly key: string;
  readonly layer: number;
  readonly heads: number;
  readonly headDim: number;
  /** Width of the attention's input. */
  readonly inputWidth: number;
  /**
   * AdapterHub's location key of this attention's prefixes (its `PrefixTuningLayer`): prefix
   * tuning keys read `<model prefix>prefix_tuning.prefix_tunings.<name>.<prefixLocation>.…`.
   * Absent: `self_prefix`, the key of the BERT-style attentions (ALBERT's too).
   */
  readonly prefixLocation?: string;
}

/** The embedding output that enters layer 0. */
export interface EmbeddingsSite {
  readonly kind: 'embeddings';
  readonly key: 'embeddings';
  readonly width: number;
}

/** Any hook site. */
export type HookSite = SubLayerSite | LinearSite | AttentionSite | EmbeddingsSite;

/** The declaration an encoder makes: every site, in forward order within each kind. */
export interface HookSiteDeclaration {
  readonly sublayers: readonly SubLayerSite[];
  readonly linears: readonly LinearSite[];
  readonly attentions: readonly AttentionSite[];
  readonly embeddings: EmbeddingsSite;
}

/** Builds a sub-layer site (its key is derived). */
export function subLayerSite(s: Omit<SubLayerSite, 'kind' | 'key'>): SubLayerSite {
  return Object.freeze({ kind: 'sublayer', key: `${s.layer}.${s.sublayer}`, ...s });
}

/** Builds a linear site (its key is derived). */
export function linearSite(s: Omit<LinearSite, 'kind' | 'key'>): LinearSite {
  return Object.freeze({ kind: 'linear', key: `${s.layer}.${s.role}`, ...s, ...(s.columns ? { columns: Object.freeze([...s.columns]) as readonly [number, number] } : {}) });
}

/** Builds an attention site. */
export function attentionSite(s: Omit<AttentionSite, 'kind' | 'key'>): AttentionSite {
  return Object.freeze({ kind: 'attention', key: `${s.layer}.self_attention`, ...s });
}

/** An encoder's hook sites, validated, with lookups. */
export class HookSites {
  /** The residual blocks bottleneck adapters attach to (attention and feed-forward output of each layer), in forward order. */
  readonly sublayers: readonly SubLayerSite[];
  /** The projections LoRA and IA³ attach to, in forward order. */
  readonly linears: readonly LinearSite[];
  /** The self-attentions prefix tuning extends, in forward order. */
  readonly attentions: readonly AttentionSite[];
  /** The embedding output prompt tuning joins its prompt to. */
  readonly embeddings: EmbeddingsSite;
  private readonly byKey = new Map<string, HookSite>();

  /**
   * Validates a declaration against the encoder's weights: every referenced weight exists with a
   * shape that fits the declared widths, columns lie inside the weight, layers are in range, and
   * keys are unique.
   *
   * @throws AdapterkitError GRAPH_ERROR naming the site and what does not fit.
   */
  constructor(family: string, numLayers: number, d: HookSiteDeclaration, weightSpecs: readonly WeightSpec[]) {
    const specs = new Map(weightSpecs.map((s) => [s.name, s]));
    const bad = (site: HookSite, msg: string): never => fail('GRAPH_ERROR', `${family} encoder: hook site ${site.kind} ${site.key}: ${msg}`);
    const shapeOf = (site: HookSite, name: string): readonly number[] => {
      const s = specs.get(name);
      if (!s) bad(site, `weight ${name} is not declared`);
      return (s as WeightSpec).shape;
    };
    const all: HookSite[] = [...d.sublayers, ...d.linears, ...d.attentions, d.embeddings];
    for (const site of all) {
      if (this.byKey.has(site.key)) bad(site, 'the key is used twice');
      this.byKey.set(site.key, site);
      if (site.kind !== 'embeddings' && !(Number.isInteger(site.layer) && site.layer >= 0 && site.layer < numLayers)) {
        bad(site, `layer ${site.layer} is outside 0..${numLayers - 1}`);
      }
    }
    for (const s of d.sublayers) {
      if (s.normPrefix === undefined) {
        if (s.norm === 'post') bad(s, 'a post-norm block needs a layer norm');
        continue;
      }
      const w = shapeOf(s, `${s.normPrefix}.weight`);
      if (s.normBias !== false) shapeOf(s, `${s.normPrefix}.bias`);
      const normWidth = s.norm === 'post' ? s.width : s.inputWidth;
      if (w.length !== 1 || w[0] !== normWidth) bad(s, `layer norm ${s.normPrefix} has shape [${w.join(', ')}], expected [${normWidth}]`);
    }
    for (const s of d.linears) {
      const w = shapeOf(s, s.weight);
      const b = s.bias === undefined ? undefined : shapeOf(s, s.bias);
      const [from, to] = s.columns ?? [0, s.outWidth];
      if (w.length !== 2 || w[0] !== s.inWidth) bad(s, `weight ${s.weight} has shape [${w.join(', ')}], expected [${s.inWidth}, …]`);
      if (!(from >= 0 && to - from === s.outWidth && to <= (w[1] as number))) bad(s, `columns ${from}..${to} do not give ${s.outWidth} outputs of ${s.weight} [${w.join(', ')}]`);
      if (b && (b.length !== 1 || b[0] !== w[1])) bad(s, `bias ${s.bias} has shape [${b.join(', ')}], expected [${w[1]}]`);
    }
    for (const s of d.attentions) {
      if (!(s.heads >= 1 && s.headDim >= 1)) bad(s, `heads ${s.heads} x ${s.headDim} is not a valid geometry`);
    }
    this.sublayers = Object.freeze([...d.sublayers]);
    this.linears = Object.freeze([...d.linears]);
    this.attentions = Object.freeze([...d.attentions]);
    this.embeddings = d.embeddings;
  }

  /** The site with `key`, or undefined. */
  get(key: string): HookSite | undefined {
    return this.byKey.get(key);
  }

  /** The sub-layer site of `layer`; GRAPH_ERROR when the encoder does not declare it. */
  sublayer(layer: number, sublayer: SubLayerName): SubLayerSite {
    const s = this.byKey.get(`${layer}.${sublayer}`);
    if (s?.kind !== 'sublayer') fail('GRAPH_ERROR', `no sub-layer site ${layer}.${sublayer}`);
    return s;
  }

  /** The linear site of `layer` with `role`; GRAPH_ERROR when the encoder does not declare it. */
  linear(layer: number, role: LinearRole): LinearSite {
    const s = this.byKey.get(`${layer}.${role}`);
    if (s?.kind !== 'linear') fail('GRAPH_ERROR', `no linear site ${layer}.${role}`);
    return s;
  }

  /** The attention site of `layer`. */
  attention(layer: number): AttentionSite {
    const s = this.byKey.get(`${layer}.self_attention`);
    if (s?.kind !== 'attention') fail('GRAPH_ERROR', `no attention site in layer ${layer}`);
    return s;
  }
}
