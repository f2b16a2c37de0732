/**
 * headFromAdapterHub refuses the head_config.json options adapterkit has no head for (other head
 * types, layer counts, activations, bias-free heads) as BAD_CONFIG naming the field and what is
 * supported, and reads a two-layer tanh classification head.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdapterkitError } from '../../src/errors.js';
import { headFromAdapterHub } from '../../src/adapters/adapterhub.js';

const weights = { file: 'pytorch_model_head.bin', values: 10_000 };
const read = (config: Record<string, unknown>) => headFromAdapterHub({ config: { num_labels: 2, layers: 2, activation_function: 'tanh', ...config } }, 'head_config.json', weights);
const refused = (config: Record<string, unknown>, re: RegExp) =>
  assert.throws(() => read(config), (e: unknown) => e instanceof AdapterkitError && e.code === 'BAD_CONFIG' && re.test(e.message));

test('a two-layer tanh classification head is read', () => {
  const h = read({ label2id: { no: 0, yes: 1 } });
  assert.equal(h.kind, 'classification');
  assert.equal(h.layers, 2);
  assert.deepEqual(h.labels, ['no', 'yes']);
});

test('options with no adapterkit head are BAD_CONFIG naming the field and what is supported', () => {
  refused({ head_type: 'causal_lm' }, /^head_config\.json: config\.head_type "causal_lm" is not implemented \(adapterkit has classification, multilabel_classification, tagging, question_answering\)$/);
  refused({ layers: 3 }, /^head_config\.json: config\.layers 3 is not implemented \(1 or 2\)$/);
  refused({ activation_function: 'relu' }, /^head_config\.json: config\.activation_function "relu" is not implemented for two-layer heads \(tanh\)$/);
  refused({ bias: false }, /^head_config\.json: config\.bias false is not implemented \(heads have a bias\)$/);
});

test('a label2id that gives one index to two labels is BAD_FILE naming both', () => {
  assert.throws(() => read({ label2id: { ham: 1, spam: 1 } }), (e: unknown) => e instanceof AdapterkitError && e.code === 'BAD_FILE'
    && e.message === 'head_config.json: config.label2id gives index 1 to both "ham" and "spam"');
});
