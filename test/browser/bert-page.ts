/**
 * The page half of bert.test.ts: builds the tiny BERT base from its files' bytes with the browser
 * build (onnxruntime-web), creates the same adapter task model as the Node half, and returns the
 * base's fingerprint, the logits of some texts and the loss of one training step.
 */
import { adapterConfig, baseFingerprint, bertBaseFrom, configureWebRuntime, headConfig, TaskModel } from '../../src/browser/index.js';

/** What the test passes in: the files (base64 or text) and the texts. */
export interface BertPageInput {
  readonly config: string;
  readonly safetensors: string;
  readonly vocab: string;
  readonly tokenizerConfig: string;
  readonly texts: readonly string[];
}

const bytes = (b64: string): Uint8Array => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

/** See the module comment. */
export async function run(i: BertPageInput): Promise<{ fingerprint: string; logits: number[]; loss: number }> {
  configureWebRuntime({ threads: 1, wasmPaths: `${location.origin}/ort/` });
  const base = await bertBaseFrom({
    id: 'tiny-bert', config: JSON.parse(i.config) as Record<string, unknown>, weights: new Map([['model.safetensors', bytes(i.safetensors)]]),
    vocabTxt: i.vocab, tokenizerConfig: JSON.parse(i.tokenizerConfig) as Record<string, unknown>,
  });
  const model = TaskModel.create(base, { mode: { kind: 'adapters', adapter: adapterConfig({ size: 8 }) }, head: headConfig({ kind: 'classification', labels: ['negative', 'positive'] }), seed: 5 });
  const batch = base.tokenizer.encode(i.texts, 16);
  const logits = Array.from(await model.predict(batch));
  const step = await model.trainStep(batch, i.texts.map((_, k) => k % 2));
  return { fingerprint: baseFingerprint(base), logits, loss: step.loss };
}
