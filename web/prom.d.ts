// Types for prom.js (used by tests/web/prom.test.ts); not served.
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
