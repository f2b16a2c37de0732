/** Child process of bench:models: loads a model directory and reports time and peak RSS as JSON. */
import { loadBertModel } from '../src/models/bert/load.js';

const dir = process.argv[2] as string;
const baseline = process.resourceUsage().maxRSS / 1024;
const t = performance.now();
const m = await loadBertModel(dir);
const seconds = (performance.now() - t) / 1000;
console.log(JSON.stringify({ seconds, peakRssMiB: process.resourceUsage().maxRSS / 1024, baselineRssMiB: baseline, tensors: m.weights.size }));
