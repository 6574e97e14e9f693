// Types for prom.js (the one Prometheus text parser: the status page, the tests and tools/); not served.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Counts {
  requests: number;
  clientErrors: number;
  serverErrors: number;
}
export function parseMetrics(text: string): Sample[];
export function requestCounts(samples: Sample[]): Record<string, Counts>;
export function scalar(samples: Sample[], name: string): number | undefined;
export function select(samples: Sample[], name: string, labels?: Record<string, string>): Sample[];
