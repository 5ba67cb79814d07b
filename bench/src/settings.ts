// Command line and the two profiles (full, --quick). Every count the run uses is here, so the
// README and the printed header can state them.

import { InvalidOptionError } from '@switchyard/core';

export const Sections = ['kafka', 'keyed', 'produce', 'ceiling', 'sqs', 'memory'] as const;
export type Section = (typeof Sections)[number];

export interface Settings {
  readonly quick: boolean;
  readonly rounds: number;
  /** Largest relative spread of the per-round ratios for a ratio to be claimed. */
  readonly maxSpread: number;
  readonly sections: readonly Section[];
  /** Pairs 1, 2: messages per round (3 partitions). */
  readonly kafkaMessages: number;
  readonly kafkaPartitions: number;
  /** Pair 3: messages per round for concurrency 16, and for concurrency 1 (10 ms each). */
  readonly keyedMessages: number;
  readonly keyedSerialMessages: number;
  readonly keyedKeys: number;
  /** Longest a side of pair 3 runs from its first handler call (a slow side still gets a figure). */
  readonly keyedCapSeconds: number;
  readonly handlerMs: number;
  /** Pair 4: messages per round; publishes outstanding at once (Switchyard) = batch size (raw). */
  readonly produceMessages: number;
  readonly produceWindow: number;
  /** Pair 5 and 6: messages per round. */
  readonly sqsMessages: number;
  readonly sqsSlowMessages: number;
  /** Pair 6: the in-flight bound both sides get (sqs-consumer's batchSize, Switchyard's maxInFlight). */
  readonly sqsInFlight: number;
  /** Memory: messages each child consumes; rounds of children. */
  readonly memoryMessages: number;
  readonly memoryRounds: number;
  /** Messages per side for the bytes-allocated-per-message pair. */
  readonly allocationMessages: number;
  /** Backlog: seconds of sampling, and the consumer's in-flight bound. */
  readonly backlogSeconds: number;
  readonly backlogInFlight: number;
  /** Runs of Kafka's Java consumer perf tool. */
  readonly ceilingRuns: number;
}

const full = {
  rounds: 5,
  kafkaMessages: 200_000,
  kafkaPartitions: 3,
  keyedMessages: 4_000,
  keyedSerialMessages: 400,
  keyedKeys: 1_000,
  keyedCapSeconds: 20,
  handlerMs: 10,
  produceMessages: 100_000,
  produceWindow: 1_000,
  sqsMessages: 10_000,
  sqsSlowMessages: 3_000,
  sqsInFlight: 10,
  memoryMessages: 1_000_000,
  memoryRounds: 3,
  allocationMessages: 200_000,
  backlogSeconds: 30,
  backlogInFlight: 16,
  ceilingRuns: 3,
};

const quick: typeof full = {
  rounds: 3,
  kafkaMessages: 20_000,
  kafkaPartitions: 3,
  keyedMessages: 2_000,
  keyedSerialMessages: 200,
  keyedKeys: 1_000,
  keyedCapSeconds: 8,
  handlerMs: 10,
  produceMessages: 20_000,
  produceWindow: 1_000,
  sqsMessages: 2_000,
  sqsSlowMessages: 1_000,
  sqsInFlight: 10,
  memoryMessages: 30_000,
  memoryRounds: 1,
  allocationMessages: 30_000,
  backlogSeconds: 12,
  backlogInFlight: 16,
  ceilingRuns: 1,
};

export const usage = `npm run bench -- [--quick] [--rounds N] [--only ${Sections.join(',')}] [--skip ${Sections.join(',')}] [--max-spread 0.3]`;

export function parseSettings(argv: readonly string[]): Settings {
  let quickMode = false;
  let rounds: number | undefined;
  let maxSpread = 0.3;
  let only: Section[] | undefined;
  const skip = new Set<Section>();
  const sectionList = (option: string, value: string | undefined): Section[] => {
    const list = (value ?? '').split(',').filter(Boolean);
    for (const s of list)
      if (!(Sections as readonly string[]).includes(s))
        throw new InvalidOptionError(option, `'${s}' is not a section`, `use some of ${Sections.join(', ')}`);
    return list as Section[];
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--quick') quickMode = true;
    else if (arg === '--rounds') {
      rounds = Number(argv[++i]);
      if (!Number.isInteger(rounds) || rounds < 1)
        throw new InvalidOptionError('--rounds', `expected a whole number >= 1, got ${argv[i]}`, 'pass --rounds 5');
    } else if (arg === '--max-spread') {
      maxSpread = Number(argv[++i]);
      if (!(maxSpread > 0))
        throw new InvalidOptionError('--max-spread', 'expected a positive number', 'pass --max-spread 0.3');
    } else if (arg === '--only') only = sectionList('--only', argv[++i]);
    else if (arg === '--skip') for (const s of sectionList('--skip', argv[++i])) skip.add(s);
    else throw new InvalidOptionError(arg, 'unknown argument', usage);
  }
  const profile = quickMode ? quick : full;
  return {
    ...profile,
    quick: quickMode,
    rounds: rounds ?? profile.rounds,
    maxSpread,
    sections: (only ?? [...Sections]).filter((s) => !skip.has(s)),
  };
}
