/**
 * The browser half of bench/browser.bench.ts: a module worker that sets onnxruntime-web's thread
 * count, fetches the embedded base from the ui server and runs {@link timeSteps}.
 */
import { configureWebRuntime, webRuntimeThreads } from '../../src/engine/runtime/ort-web.js';
import { fetchUseLiteBase } from '../../src/browser/use-lite-assets.js';
import { timeSteps, type StepBenchConfig } from './steps.js';

interface Scope {
  postMessage(m: unknown): void;
  addEventListener(type: 'message', cb: (e: { data: { threads: number; origin: string; config: StepBenchConfig } }) => void): void;
}
const scope = globalThis as unknown as Scope;

scope.addEventListener('message', (e) => {
  const { threads, origin, config } = e.data;
  void (async () => {
    try {
      configureWebRuntime({ threads, wasmPaths: `${origin}/ort/` });
      const base = await fetchUseLiteBase(`${origin}/assets/use-lite/`);
      const r = await timeSteps(base, config);
      scope.postMessage({ ok: true, threads: webRuntimeThreads(), ...r });
    } catch (err) {
      scope.postMessage({ ok: false, message: (err as Error).message });
    }
  })();
});
