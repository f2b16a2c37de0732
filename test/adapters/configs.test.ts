/**
 * Method configs: presets, validation errors that name the field, AdapterHub's width rule
 * (`int(hidden // reduction_factor)` in Python's float arithmetic), JSON exactly as Python writes
 * it, and the hook sites each encoder declares.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pythonFloorDiv, reductionFactorFor } from '../../src/adapters/methods/bottleneck.js';
import { checkMethodConfig, fromAdapterHubConfig, methodConfig, methodOf, METHOD_PRESETS, PRESET_NAMES } from '../../src/adapters/methods/index.js';
import { loadBase } from '../../src/models/base.js';
import { HookSites, linearSite, subLayerSite } from '../../src/models/sites.js';
import { pyFloat, pythonFloatRepr, pythonJson } from '../../src/util/python-json.js';

test('JSON as Python writes it: float repr, key order, indentation, ensure_ascii', () => {
  // expected strings printed by CPython 3.11's json.dumps
  const cases: [number, string][] = [
    [1, '1.0'], [4, '4.0'], [0.0001, '0.0001'], [1e-5, '1e-05'], [1e16, '1e+16'], [1.5e16, '1.5e+16'], [123456789012345.6, '123456789012345.6'],
    [0.1, '0.1'], [6.3999999999999995, '6.3999999999999995'], [2.56, '2.56'], [0.00012, '0.00012'], [-0, '-0.0'], [1e22, '1e+22'], [5e-324, '5e-324'],
  ];
  for (const [x, want] of cases) assert.equal(pythonFloatRepr(x), want, String(x));
  assert.equal(
    pythonJson({ b: 'é\x7f\u2603\u{1F600}', a: [1, pyFloat(2.5), {}], c: [] }),
    '{\n  "a": [\n    1,\n    2.5,\n    {}\n  ],\n  "b": "\\u00e9\\u007f\\u2603\\ud83d\\ude00",\n  "c": []\n}',
  );
  assert.equal(pythonJson({ s: pyFloat(1), n: null, t: true }), '{\n  "n": null,\n  "s": 1.0,\n  "t": true\n}');
});

test('reduction factors give back the width under AdapterHub\'s int(hidden // rf), also where hidden / m is not a double', () => {
  // Python: 32 // 6.4 == 4.0 and 768 // 2.56 == 299.0, the widths the issue reports were lost
  assert.equal(pythonFloorDiv(32, 6.4), 4);
  assert.equal(pythonFloorDiv(768, 768 / 300), 299);
  assert.equal(pythonFloorDiv(768, 2.56), 299);
  assert.equal(pythonFloorDiv(32, 6.3999999999999995), 5);
  for (const [h, m] of [[32, 5], [768, 300], [768, 64], [512, 48], [384, 7], [1024, 3], [768, 1], [768, 767]] as const) {
    const rf = reductionFactorFor(h, m);
    assert.equal(pythonFloorDiv(h, rf), m, `hidden ${h}, m ${m}: rf ${rf}`);
    if (h % m === 0) assert.equal(rf, h / m);
  }
});

test('presets are AdapterHub\'s and the paper\'s; overrides are validated with the field named', () => {
  assert.deepEqual([...PRESET_NAMES], ['paper', 'houlsby', 'pfeiffer', 'parallel', 'compacter', 'compacter++', 'lora', 'ia3', 'ia3-peft', 'prefix', 'prefix-flat', 'prompt', 'prompt-peft', 'mam', 'unipelt']);
  const p = METHOD_PRESETS.paper;
  assert.ok(p?.method === 'bottleneck' && p.size === 64 && p.non_linearity === 'gelu' && p.trainLayerNorms && p.mh_adapter && p.output_adapter);
  const h = methodConfig('double_seq_bn');
  assert.ok(h.method === 'bottleneck' && h.preset === 'houlsby' && h.reduction_factor === 16 && h.non_linearity === 'swish' && !h.trainLayerNorms);
  const par = methodConfig('par_bn', { size: 8 });
  assert.ok(par.method === 'bottleneck' && par.is_parallel && par.scaling === 4 && par.size === 8 && par.reduction_factor === undefined);
  const bad: [() => unknown, RegExp][] = [
    [() => methodConfig('paper', { size: 0 }), /paper config: size must be a positive integer, got 0/],
    [() => methodConfig('paper', { non_linearity: 'mish' }), /paper config: non_linearity "mish" is not one of "gelu", "gelu_new", "relu", "swish", "silu", "tanh"/],
    [() => methodConfig('pfeiffer', { residual_before_ln: 'post_add', original_ln_before: false }), /residual_before_ln "post_add" needs original_ln_before/],
    [() => methodConfig('houlsby', { mh_adapter: false, output_adapter: false }), /neither mh_adapter nor output_adapter is set/],
    [() => methodConfig('houlsby', { scaling: 'wide' }), /scaling must be a number, "learned" or "channel", got "wide"/],
    [() => methodConfig('lora', { r: 0 }), /lora config: r must be an integer >= 1, got 0/],
    [() => methodConfig('lora', { attn_matrices: ['q', 'x'] }), /attn_matrices must list distinct "q", "k", "v", got \["q","x"\]/],
    [() => methodConfig('lora', { selfattn_lora: false }), /no projection is selected/],
    [() => methodConfig('ia3', { feedforward: ['intermediate'] }), /intermediate would be scaled at both input and output/],
    [() => methodConfig('ia3', { colour: 'red' }), /ia3 config: unknown field colour/],
    [() => methodConfig('nope'), /unknown adapter method preset "nope"/],
    [() => checkMethodConfig({ method: 'prefix' }), /method "prefix" is not one of bottleneck, lora, ia3/],
  ];
  for (const [f, re] of bad) assert.throws(f, re);
});

test('AdapterHub configs: its presets read back as adapterkit\'s presets; what adapterkit does not implement is refused by field', () => {
  const bn = { mh_adapter: false, output_adapter: true, reduction_factor: 16, non_linearity: 'relu', original_ln_before: true, original_ln_after: true, residual_before_ln: true, is_parallel: false, scaling: 1.0, use_gating: false };
  assert.equal(fromAdapterHubConfig(bn, 'f').preset, 'pfeiffer');
  // a config without AdapterHub's version field is adapter-transformers': its "gelu" is "gelu_new"
  const legacy = fromAdapterHubConfig({ ...bn, non_linearity: 'gelu' }, 'f', false);
  assert.ok(legacy.method === 'bottleneck' && legacy.non_linearity === 'gelu_new');
  const lora = fromAdapterHubConfig({ architecture: 'lora', r: 4, alpha: 16, attn_matrices: ['q', 'k'], composition_mode: 'add' }, 'f');
  assert.ok(lora.method === 'lora' && lora.r === 4 && lora.alpha === 16);
  const ia3 = fromAdapterHubConfig({ architecture: 'lora', r: 1, alpha: 1, composition_mode: 'scale', attn_matrices: ['k', 'v'], intermediate_lora: true }, 'f');
  assert.equal(ia3.method, 'ia3');
  const refused: [unknown, RegExp][] = [
    [{ ...bn, phm_layer: true, learn_phm: false }, /f: learn_phm false \(a frozen PHM rule\) is not implemented/],
    [{ ...bn, phm_layer: true, hypercomplex_nonlinearity: 'kaiming' }, /f: hypercomplex_nonlinearity "kaiming" is not one of "glorot-uniform", "glorot-normal", "normal", "phm"/],
    [{ ...bn, inv_adapter: 'nice' }, /config\.inv_adapter "nice": invertible adapters are not implemented/],
    [{ ...bn, stochastic_depth: 0.1 }, /config\.stochastic_depth 0\.1 is not implemented/],
    [{ ...bn, non_linearity: 'leakyrelu' }, /config\.non_linearity "leakyrelu" is not implemented/],
    [{ ...bn, wings: 2 }, /config\.wings is not a field adapterkit knows for bottleneck adapters/],
    [{ architecture: 'lora', use_dora: true }, /config\.use_dora is true: DoRA is not implemented/],
    [{ architecture: 'lora', use_dora: true }, /config\.use_dora is true: DoRA is not implemented/],
    [{ architecture: 'lora', vera_d: 0.1 }, /config\.vera_d is set: VeRA is not implemented/],
    [{ architecture: 'lora', composition_mode: 'scale', r: 2 }, /config\.r 2: AdapterHub's composition_mode "scale" needs r = 1/],
    [{ architecture: 'lora', composition_mode: 'blend' }, /config\.composition_mode "blend" is not one of/],
    [{ architecture: 'union', configs: [] }, /f: configs must list at least two method configs, got \[\]/],
    [{ architecture: 'reft' }, /config\.architecture "reft" \(ReFT\) is not implemented/],
    [{ architecture: 'prompt_tuning', prompt_tokens: 3 }, /config\.prompt_tokens is not a field adapterkit knows for prompt-tuning adapters/],
    [{ architecture: 'prompt_tuning', combine: 'suffix' }, /config: combine "suffix" is not one of "prefix", "prefix_after_bos"/],
    [{ architecture: 'prefix_tuning', encoder_prefix: false }, /config: encoder_prefix is false/],
  ];
  for (const [c, re] of refused) assert.throws(() => fromAdapterHubConfig(c, 'f'), re);
});

test('Compacter presets are AdapterHub\'s compacter and compacter++; PHM fields are checked with the field named', () => {
  const c = methodConfig('compacter');
  assert.ok(c.method === 'bottleneck' && c.preset === 'compacter' && c.phm_layer && c.mh_adapter && c.output_adapter && c.reduction_factor === 32 && c.non_linearity === 'gelu');
  assert.ok(c.phm_dim === 4 && c.phm_rank === 1 && c.factorized_phm_W && !c.shared_W_phm && c.shared_phm_rule && !c.factorized_phm_rule && c.phm_bias);
  assert.ok(c.phm_c_init === 'normal' && c.phm_init_range === 0.0001 && c.hypercomplex_nonlinearity === 'glorot-uniform' && c.learn_phm);
  const pp = methodConfig('compacter++');
  assert.ok(pp.method === 'bottleneck' && !pp.mh_adapter && pp.output_adapter && pp.original_ln_before && pp.phm_layer && pp.reduction_factor === 32);
  // AdapterHub's to_dict of CompacterConfig() (every PHM field as AdapterHub's defaults) reads back as the preset
  const hub = {
    mh_adapter: true, output_adapter: true, reduction_factor: 32, non_linearity: 'gelu', original_ln_before: false, original_ln_after: true, residual_before_ln: true,
    is_parallel: false, scaling: 1.0, use_gating: false, init_weights: 'bert', phm_layer: true, phm_dim: 4, factorized_phm_W: true, shared_W_phm: false, shared_phm_rule: true,
    factorized_phm_rule: false, phm_c_init: 'normal', phm_init_range: 0.0001, learn_phm: true, hypercomplex_nonlinearity: 'glorot-uniform', phm_rank: 1, phm_bias: true,
  };
  const read = fromAdapterHubConfig(hub, 'f');
  assert.equal(read.preset, 'compacter');
  assert.deepEqual({ ...read }, { ...c });
  // without phm_layer AdapterHub ignores the PHM fields, and so does the reader: it is double_seq_bn with gelu
  const plain = fromAdapterHubConfig({ ...hub, phm_layer: false, non_linearity: 'swish', reduction_factor: 16 }, 'f');
  assert.ok(plain.method === 'bottleneck' && plain.preset === 'houlsby' && plain.phm_layer === undefined && plain.phm_dim === undefined);
  const bad: [() => unknown, RegExp][] = [
    [() => methodConfig('houlsby', { phm_dim: 8 }), /houlsby config: phm_dim applies only with phm_layer: true/],
    [() => methodConfig('compacter', { phm_dim: 0 }), /compacter config: phm_dim must be an integer >= 1, got 0/],
    [() => methodConfig('compacter', { phm_rank: 1.5 }), /compacter config: phm_rank must be an integer >= 1, got 1\.5/],
    [() => methodConfig('compacter', { phm_init_range: 0 }), /phm_init_range must be a number > 0, got 0/],
    [() => methodConfig('compacter', { phm_c_init: 'zeros' }), /phm_c_init "zeros" is not one of "normal", "uniform"/],
    [() => methodConfig('compacter', { shared_phm_rule: 'yes' }), /shared_phm_rule must be true or false, got "yes"/],
    [() => methodConfig('compacter', { learn_phm: false }), /learn_phm false \(a frozen PHM rule\) is not implemented/],
    [() => methodConfig('compacter', { shared_W_phm: true, factorized_phm_W: false }), /shared_W_phm with factorized_phm_W false is not implemented/],
    [() => methodConfig('compacter', { init_weights: 'houlsby' }), /init_weights "houlsby" is not defined for PHM layers/],
  ];
  for (const [f, re] of bad) assert.throws(f, re);
});

test('Compacter against an encoder: phm_dim must divide the widths, shared weights need one shape', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const v = (c: ReturnType<typeof methodConfig>) => methodOf(c).validateFor(c, base.encoder);
  // 32 // 32 = 1: AdapterHub asserts that phm_dim divides the PHM layer's widths
  assert.throws(() => v(methodConfig('compacter')), /bottleneck config at 0\.attention \(width 32, bottleneck 1\): phm_dim 4 does not divide the PHM layer's output width 1/);
  assert.throws(() => v(methodConfig('compacter', { reduction_factor: 4, phm_dim: 3 })), /phm_dim 3 does not divide the PHM layer's input width 32/);
  assert.throws(() => v(methodConfig('compacter', { reduction_factor: { 0: 4, default: 8 }, shared_W_phm: true })), /shared_W_phm needs one shape at every site; the bert encoder's sites have 32->8, 32->4/);
  const ok = methodConfig('compacter', { reduction_factor: 4 });
  v(ok);
  assert.equal(methodOf(ok).describe(ok, base.encoder), 'bottleneck (compacter, m=8, PHM n=4)');
  // 4 sites x (W_left 8, W_right 2, b 8, W_left 2, W_right 8, b 32) + the shared rule 4 x 4 x 4
  const ts = methodOf(ok).tensors(ok, base.encoder, 'a');
  assert.equal(ts.reduce((n, t) => n + t.shape.reduce((x, y) => x * y, 1), 0), 4 * (32 + 8 + 8 + 8 + 32 + 32) + 64);
  assert.deepEqual(ts[0], { name: 'adapters.a.shared.phm_rule', shape: [16, 4], init: { kind: 'normal', std: 0.0001 }, site: { kind: 'sublayer', key: 'shared', layer: -1 }, neutral: 0 });
});

test('configs checked against an encoder: layers that exist, a width for every layer', async () => {
  const base = await loadBase('test/fixtures/models/tiny-bert');
  const v = (c: ReturnType<typeof methodConfig>) => methodOf(c).validateFor(c, base.encoder);
  assert.throws(() => v(methodConfig('paper', { leave_out: [5] })), /leave_out layer 5 does not exist \(the bert encoder has 2 layers\)/);
  assert.throws(() => v(methodConfig('lora', { leave_out: [0, 1] })), /every layer is left out/);
  const perLayer = methodConfig('houlsby', { reduction_factor: { 1: 8 } });
  assert.throws(() => methodOf(perLayer).tensors(perLayer, base.encoder, 'a'), /reduction_factor has no entry for layer 0 and no "default"/);
  assert.equal(methodOf(perLayer).describe(methodConfig('houlsby', { reduction_factor: { 1: 8, default: 16 } }), base.encoder), 'bottleneck (houlsby, m=2/4)');
});

test('hook sites: each encoder declares them, and a declaration that does not fit the weights is refused', async () => {
  const bert = (await loadBase('test/fixtures/models/tiny-bert')).encoder;
  assert.equal(bert.sites.sublayers.length, 4);
  assert.equal(bert.sites.linears.length, 12);
  assert.deepEqual([bert.sites.sublayer(1, 'ffn').module, bert.sites.linear(0, 'value').module], ['encoder.layer.1.output', 'encoder.layer.0.attention.self.value']);
  const distil = (await loadBase('test/fixtures/models/tiny-distilbert')).encoder;
  assert.deepEqual([distil.sites.sublayer(0, 'attention').module, distil.sites.sublayer(0, 'ffn').module, distil.sites.linear(0, 'intermediate').module],
    ['transformer.layer.0.attention_adapters', 'transformer.layer.0.output_adapters', 'transformer.layer.0.ffn.lin1']);
  const specs = bert.weightSpecs;
  const good = { sublayers: [...bert.sites.sublayers], linears: [...bert.sites.linears], attentions: [...bert.sites.attentions], embeddings: bert.sites.embeddings };
  assert.throws(() => new HookSites('bert', 2, { ...good, linears: [...good.linears, linearSite({ layer: 0, role: 'query', weight: 'nope.weight', bias: 'nope.bias', inWidth: 32, outWidth: 32, module: 'x' })] }, specs),
    /hook site linear 0\.query: the key is used twice/);
  assert.throws(() => new HookSites('bert', 2, { ...good, linears: [linearSite({ layer: 0, role: 'query', weight: 'nope.weight', bias: 'nope.bias', inWidth: 32, outWidth: 32, module: 'x' })] }, specs),
    /hook site linear 0\.query: weight nope\.weight is not declared/);
  assert.throws(() => new HookSites('bert', 2, { ...good, linears: [linearSite({ layer: 0, role: 'query', weight: 'encoder.layer.0.attention.self.query.weight', bias: 'encoder.layer.0.attention.self.query.bias', inWidth: 32, outWidth: 16, columns: [20, 36], module: 'x' })] }, specs),
    /columns 20\.\.36 do not give 16 outputs/);
  assert.throws(() => new HookSites('bert', 2, { ...good, sublayers: [subLayerSite({ layer: 3, sublayer: 'ffn', width: 32, inputWidth: 32, norm: 'post', normPrefix: 'encoder.layer.1.output.LayerNorm', module: 'm' })] }, specs),
    /hook site sublayer 3\.ffn: layer 3 is outside 0\.\.1/);
});
