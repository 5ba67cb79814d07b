// Runs a pair alternately: each round prepares its data, then runs both sides back to back, the
// side that goes first swapping every round so warm caches and broker state favour neither.

import { type Comparison, compare } from './stats.js';

export interface SideRun {
  /** Messages per second this run achieved. */
  readonly rate: number;
  /** Anything else the side measured this round (order violations, calls per message, ...). */
  readonly extra?: Readonly<Record<string, number>>;
}

export interface PairSpec<R> {
  readonly name: string;
  readonly rounds: number;
  readonly maxSpread: number;
  /** Run one round first and discard it (JIT of this process and of the broker, caches, connections). */
  readonly warmup?: boolean;
  prepare(round: number): Promise<R>;
  candidate(round: R, index: number): Promise<SideRun>;
  reference(round: R, index: number): Promise<SideRun>;
  /** After both sides ran (delete topics, queues). */
  cleanup?(round: R): Promise<void>;
}

export interface PairResult {
  readonly comparison: Comparison;
  readonly candidateExtra: Readonly<Record<string, number>>[];
  readonly referenceExtra: Readonly<Record<string, number>>[];
}

export async function runPair<R>(spec: PairSpec<R>): Promise<PairResult> {
  const candidate: number[] = [];
  const reference: number[] = [];
  const candidateExtra: Record<string, number>[] = [];
  const referenceExtra: Record<string, number>[] = [];
  if (spec.warmup) {
    const round = await spec.prepare(-1);
    try {
      const c = await spec.candidate(round, -1);
      const r = await spec.reference(round, -1);
      process.stderr.write(
        `[bench] ${spec.name} warm-up (not counted): candidate ${Math.round(c.rate)}, reference ${Math.round(r.rate)} msg/s\n`,
      );
    } finally {
      await spec.cleanup?.(round);
    }
  }
  for (let i = 0; i < spec.rounds; i++) {
    const round = await spec.prepare(i);
    try {
      const order = i % 2 === 0 ? (['candidate', 'reference'] as const) : (['reference', 'candidate'] as const);
      for (const side of order) {
        const run = side === 'candidate' ? await spec.candidate(round, i) : await spec.reference(round, i);
        (side === 'candidate' ? candidate : reference).push(run.rate);
        (side === 'candidate' ? candidateExtra : referenceExtra).push({ ...run.extra });
        process.stderr.write(
          `[bench] ${spec.name} round ${i + 1}/${spec.rounds} ${side}: ${Math.round(run.rate)} msg/s\n`,
        );
      }
    } finally {
      await spec.cleanup?.(round);
    }
  }
  return { comparison: compare(candidate, reference, spec.maxSpread), candidateExtra, referenceExtra };
}
