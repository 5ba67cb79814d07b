// Collects what the sections measured: table rows for people, flat figures for the last JSON line.

import type { Comparison, Sample } from './stats.js';

export interface Row {
  readonly section: string;
  readonly what: string;
  readonly value: string;
}

const round = (n: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function fmtSample(s: Sample, unit = 'msg/s'): string {
  return `${fmt(s.median)} ${unit} (min ${fmt(s.min)}, max ${fmt(s.max)})`;
}

export class Report {
  readonly rows: Row[] = [];
  readonly figures: Record<string, number | string | boolean | null> = {};
  readonly omitted: { section: string; reason: string }[] = [];

  figure(key: string, value: number, digits = 3): void {
    this.figures[key] = round(value, digits);
  }

  note(key: string, value: string | boolean): void {
    this.figures[key] = value;
  }

  row(section: string, what: string, value: string): void {
    this.rows.push({ section, what, value });
    process.stderr.write(`[bench] ${section}: ${what}: ${value}\n`);
  }

  sample(key: string, s: Sample, digits = 0): void {
    this.figure(`${key}.median`, s.median, digits);
    this.figure(`${key}.min`, s.min, digits);
    this.figure(`${key}.max`, s.max, digits);
  }

  /** A pair: both sides' figures, and the ratio only when it is decided. */
  comparison(
    key: string,
    section: string,
    names: { candidate: string; reference: string },
    c: Comparison,
    target?: number,
    unit = 'msg/s',
  ): void {
    this.sample(`${key}.${names.candidate}.msgs_per_s`, c.candidate);
    this.sample(`${key}.${names.reference}.msgs_per_s`, c.reference);
    this.figure(`${key}.spread`, c.spread);
    this.figures[`${key}.ratio`] = c.decided ? round(c.ratio, 3) : null;
    if (!c.decided) this.figure(`${key}.ratio_undecided`, c.ratio);
    this.row(section, names.candidate, fmtSample(c.candidate, unit));
    this.row(section, names.reference, fmtSample(c.reference, unit));
    this.row(
      section,
      'ratio',
      c.decided
        ? `${c.ratio.toFixed(2)}x (rounds ${c.roundRatios.min.toFixed(2)}-${c.roundRatios.max.toFixed(2)}, spread ${(c.spread * 100).toFixed(0)}%)`
        : `undecided (spread ${(c.spread * 100).toFixed(0)}%; medians give ${c.ratio.toFixed(2)}x, rounds ${c.roundRatios.min.toFixed(2)}-${c.roundRatios.max.toFixed(2)})`,
    );
    if (target !== undefined) this.target(key, section, c, target);
  }

  /**
   * Against the issue's target: met when every round's ratio reaches it, missed when none does,
   * otherwise undecided. Robust to spread: a wide spread far from the target still decides.
   */
  target(
    key: string,
    section: string,
    c: Comparison,
    target: number,
    ratioKey = `${key}.ratio`,
    /** Why the ratio cannot speak for the target even where it reaches it (then: undecided). */
    invalid?: string,
  ): void {
    const verdict =
      c.roundRatios.max < target
        ? 'missed'
        : invalid !== undefined
          ? 'undecided'
          : c.roundRatios.min >= target
            ? 'met'
            : 'undecided';
    this.figure(`${ratioKey}_target`, target);
    this.note(`${ratioKey}_verdict`, verdict);
    this.row(
      section,
      'target',
      `>= ${target}x: ${verdict} (rounds ${c.roundRatios.min.toFixed(2)}-${c.roundRatios.max.toFixed(2)})${invalid ? `; ${invalid}` : ''}`,
    );
  }

  omit(section: string, reason: string): void {
    this.omitted.push({ section, reason });
    process.stderr.write(`[bench] ${section}: omitted: ${reason}\n`);
  }

  table(): string {
    const w1 = Math.max(7, ...this.rows.map((r) => r.section.length));
    const w2 = Math.max(4, ...this.rows.map((r) => r.what.length));
    const lines = [
      `${'section'.padEnd(w1)}  ${'what'.padEnd(w2)}  value`,
      `${'-'.repeat(w1)}  ${'-'.repeat(w2)}  -----`,
    ];
    let last = '';
    for (const r of this.rows) {
      lines.push(`${(r.section === last ? '' : r.section).padEnd(w1)}  ${r.what.padEnd(w2)}  ${r.value}`);
      last = r.section;
    }
    for (const o of this.omitted) lines.push(`${o.section.padEnd(w1)}  ${'omitted'.padEnd(w2)}  ${o.reason}`);
    return lines.join('\n');
  }
}
