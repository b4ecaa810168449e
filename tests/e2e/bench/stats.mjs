// Small statistics for the benchmarks: nearest-rank percentiles, no interpolation.

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** {n, min, median, p95, max, mean} of a list of numbers. */
export function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = n ? sorted.reduce((s, v) => s + v, 0) / n : NaN;
  return {
    n,
    min: sorted[0] ?? NaN,
    median: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    max: sorted[n - 1] ?? NaN,
    mean,
  };
}

export const round = (v, digits = 2) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);

/** A summary with every figure rounded, for printing and JSON. */
export function rounded(summary, digits = 2) {
  return Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, k === 'n' ? v : round(v, digits)]));
}
