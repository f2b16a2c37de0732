/**
 * Prometheus metrics of the server, on a registry of its own (never prom-client's global one),
 * so several servers in one process (tests, embedding apps) never collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric the server exports, by its name in /metrics. */
export const METRIC_NAMES = {
  requests: 'adapterkit_http_requests_total',
  latency: 'adapterkit_http_request_duration_seconds',
  batchSize: 'adapterkit_batch_size',
  batchDuration: 'adapterkit_batch_duration_seconds',
  batchFailures: 'adapterkit_batch_failures_total',
  queueDepth: 'adapterkit_queue_depth',
  adaptersLoaded: 'adapterkit_adapters_loaded',
  inputsClassified: 'adapterkit_inputs_classified_total',
  inputsTruncated: 'adapterkit_inputs_truncated_total',
} as const;

/** Where the gauges read their current values from. */
export interface MetricsSources {
  adaptersLoaded: () => number;
  queueDepth: () => number;
}

/** The server's metrics, ready to be updated by hooks and scraped by GET /metrics. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly latency: Histogram<'method' | 'route'>;
  readonly batchSize: Histogram;
  readonly batchDuration: Histogram;
  readonly batchFailures: Counter;
  readonly inputsClassified: Counter<'task'>;
  readonly inputsTruncated: Counter<'task'>;

  /**
   * @param sources read by the gauges at scrape time.
   * @param processMetrics also export prom-client's default process metrics (CPU, memory, event loop), prefixed `adapterkit_`.
   */
  constructor(sources: MetricsSources, processMetrics = false) {
    const registers = [this.registry];
    this.requests = new Counter({ name: METRIC_NAMES.requests, help: 'HTTP requests answered, by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers });
    this.latency = new Histogram({
      name: METRIC_NAMES.latency, help: 'HTTP request latency in seconds, by method and route pattern', labelNames: ['method', 'route'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.batchSize = new Histogram({ name: METRIC_NAMES.batchSize, help: 'Items per backend classify call made by the batcher', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers });
    this.batchDuration = new Histogram({
      name: METRIC_NAMES.batchDuration, help: 'Duration of backend classify calls in seconds', registers,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.batchFailures = new Counter({ name: METRIC_NAMES.batchFailures, help: 'Backend classify calls that failed', registers });
    this.inputsClassified = new Counter({ name: METRIC_NAMES.inputsClassified, help: 'Inputs classified, by task', labelNames: ['task'], registers });
    this.inputsTruncated = new Counter({ name: METRIC_NAMES.inputsTruncated, help: 'Inputs truncated to the maximum length, by task', labelNames: ['task'], registers });
    new Gauge({
      name: METRIC_NAMES.adaptersLoaded, help: 'Adapters (tasks) currently loaded', registers,
      collect() { this.set(sources.adaptersLoaded()); },
    });
    new Gauge({
      name: METRIC_NAMES.queueDepth, help: 'Inputs waiting in the batch queue', registers,
      collect() { this.set(sources.queueDepth()); },
    });
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'adapterkit_' });
  }

  /** Records one backend call made by the batcher. */
  observeBatch(size: number, seconds: number, ok: boolean): void {
    this.batchSize.observe(size);
    this.batchDuration.observe(seconds);
    if (!ok) this.batchFailures.inc();
  }

  /** Records the outputs returned to one classify request. */
  observeClassified(task: string, inputs: number, truncated: number): void {
    this.inputsClassified.inc({ task }, inputs);
    if (truncated > 0) this.inputsTruncated.inc({ task }, truncated);
  }
}
