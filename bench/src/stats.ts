// Figures from alternating rounds: median, min and max per side, and a ratio only where the noise
// lets us claim one.

export interface Sample {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly values: readonly number[];
}

export function summarize(values: readonly number[]): Sample {
  if (values.length === 0) throw new Error('no values to summarize');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, values };
}

/** Relative spread (max - min) / median. */
export function spread(sample: Sample): number {
  return sample.median === 0 ? Number.POSITIVE_INFINITY : (sample.max - sample.min) / sample.median;
}

export interface Comparison {
  readonly candidate: Sample;
  readonly reference: Sample;
  /** candidate median / reference median. */
  readonly ratio: number;
  /** The ratio of each round's pair (both sides ran back to back, so drift of the machine cancels). */
  readonly roundRatios: Sample;
  /** Relative spread of the per-round ratios. */
  readonly spread: number;
  /** False when the per-round ratios disagree by more than the allowed noise: no ratio is claimed. */
  readonly decided: boolean;
}

/**
 * Compares two sides measured in the same rounds (`candidate[i]` and `reference[i]` ran back to back).
 * The ratio is decided when the per-round ratios spread by at most `maxSpread` around their median:
 * a machine that slows down for a while slows both sides of a round, not the ratio.
 */
export function compare(candidate: readonly number[], reference: readonly number[], maxSpread: number): Comparison {
  if (candidate.length !== reference.length) throw new Error('both sides need the same number of rounds');
  const roundRatios = summarize(candidate.map((c, i) => c / reference[i]!));
  const c = summarize(candidate);
  const r = summarize(reference);
  const s = spread(roundRatios);
  return { candidate: c, reference: r, ratio: c.median / r.median, roundRatios, spread: s, decided: s <= maxSpread };
}

/** Least-squares slope of y over x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
