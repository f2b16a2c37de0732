/**
 * The page half of export-web.test.ts: runs exported `onnx/model*.onnx` files in onnxruntime-web
 * (wasm, one thread), fetched from the export directory as written, fed by adapterkit's browser
 * tokenizers: the export's own tokenizer.json (HfJsonTokenizer) for a BERT task, the embedded USE-lite tokenizer (vocab.json from the ui
 * server's `/assets/use-lite/`) for a USE-lite task. Returns each file's ids and logits.
 */
import * as ort from 'onnxruntime-web';
import { fetchUseLiteTokenizer, hfBaseTokenizer, HfJsonTokenizer, type BaseTokenizer } from '../../src/browser/index.js';

/** One exported file to run: where the page fetches it, how to tokenize, the texts. */
export interface ExportPageCase {
  readonly name: string;
  /** URL of the export directory (ending in `/`), served as written. */
  readonly dir: string;
  /** The file under `dir`: `onnx/model.onnx` or `onnx/model_quantized.onnx`. */
  readonly file: string;
  /** The export's own tokenizer.json and tokenizer_config.json (fetched from `dir`), or the embedded USE-lite's. */
  readonly tokenizer: 'export' | 'use-lite';
  readonly texts: readonly string[];
  readonly maxLength: number;
}

/** What the page gives back per case. */
export interface ExportPageResult {
  readonly name: string;
  readonly inputNames: readonly string[];
  readonly ids: number[];
  readonly logits: number[];
}

async function fetchJson(url: string): Promise<Record<string, unknown>> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return (await r.json()) as Record<string, unknown>;
}

async function tokenizerOf(c: ExportPageCase): Promise<BaseTokenizer> {
  if (c.tokenizer === 'use-lite') return fetchUseLiteTokenizer(`${location.origin}/assets/use-lite/`);
  const [json, config] = await Promise.all([fetchJson(`${c.dir}tokenizer.json`), fetchJson(`${c.dir}tokenizer_config.json`)]);
  return hfBaseTokenizer(new HfJsonTokenizer({ json, source: `${c.dir}tokenizer.json`, side: { dir: c.dir, config, specialTokensMap: {} } }));
}

/** See the module comment. */
export async function run(cases: readonly ExportPageCase[]): Promise<ExportPageResult[]> {
  ort.env.wasm.wasmPaths = `${location.origin}/ort/`;
  ort.env.wasm.numThreads = 1;
  const out: ExportPageResult[] = [];
  for (const c of cases) {
    const batch = (await tokenizerOf(c)).encode(c.texts, c.maxLength);
    const session = await ort.InferenceSession.create(`${c.dir}${c.file}`, { executionProviders: ['wasm'] });
    const shape = [batch.batchSize, batch.seqLen];
    const t = (a: Int32Array) => new ort.Tensor('int64', BigInt64Array.from(a, (x) => BigInt(x)), shape);
    const all: Record<string, ort.Tensor> = { input_ids: t(batch.inputIds), attention_mask: t(batch.attentionMask), token_type_ids: t(batch.tokenTypeIds) };
    const feeds = Object.fromEntries(session.inputNames.map((n) => [n, all[n] as ort.Tensor]));
    const r = await session.run(feeds);
    out.push({ name: c.name, inputNames: [...session.inputNames], ids: Array.from(batch.inputIds), logits: Array.from(r.logits?.data as Float32Array) });
    await session.release();
  }
  return out;
}
