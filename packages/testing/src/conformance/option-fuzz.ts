// Option fuzzing for adapters: "wrong options fail at construction naming the option and the fix".
// A test starts from valid options, applies 1-4 mutations drawn by `optionMutations` (a known key
// set to optionGarbage, a whole nested object replaced by optionGarbage, an unknown key added) and checks with
// `expectReturnsOrNamesAMutation` that the resolver either returns or throws an InvalidOptionError
// whose option (or, for a rule between two fields, whose message) names what was mutated: never a
// TypeError, a RangeError or anything else. Used by the kafka, sqs and sns option tests; core keeps
// its own copy (it cannot depend on this package).

import { InvalidOptionError } from '@switchyard/core';
import fc from 'fast-check';
import { expect } from 'vitest';

export type OptionPath = readonly (string | number)[];
export interface OptionMutation {
  readonly path: OptionPath;
  readonly value: unknown;
  readonly unknownKey?: true;
}

/** Values no option should be given; a factory each, so no run shares a mutable value with another. */
const GARBAGE: readonly (() => unknown)[] = [
  () => undefined,
  () => null,
  () => Number.NaN,
  () => Number.POSITIVE_INFINITY,
  () => Number.NEGATIVE_INFINITY,
  () => -1,
  () => 0,
  () => 0.5,
  () => 1e21,
  () => Number.MAX_SAFE_INTEGER,
  () => 2 ** 31,
  () => '',
  () => 'abc',
  () => '10',
  () => true,
  () => false,
  () => [],
  () => [1],
  () => ({}),
  () => ({ a: 1 }),
  () => () => {},
  () => Symbol('garbage'),
  () => Object.create(null),
  () => new Date(0),
  () => 10n,
];
export const optionGarbage: fc.Arbitrary<unknown> = fc.constantFrom(...GARBAGE).map((make) => make());
const unknownKeyName = fc.constantFrom('maxInflight', 'bogus', 'toString', 'valueOf', 'constructor', 'hasOwnProperty');

export interface OptionMutationSpace {
  /** Keys that hold a value (set to optionGarbage). */
  readonly leaves: readonly OptionPath[];
  /** Keys that hold an object (replaced whole by optionGarbage). */
  readonly objects: readonly OptionPath[];
  /** Objects an unknown key is added to. */
  readonly containers: readonly OptionPath[];
}

export function optionMutations(space: OptionMutationSpace): fc.Arbitrary<OptionMutation[]> {
  const mutation: fc.Arbitrary<OptionMutation> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ path: fc.constantFrom(...space.leaves), value: optionGarbage }) },
    ...(space.objects.length === 0
      ? []
      : [{ weight: 1, arbitrary: fc.record({ path: fc.constantFrom(...space.objects), value: optionGarbage }) }]),
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...space.containers), unknownKeyName, optionGarbage)
        .map(([at, key, value]): OptionMutation => ({ path: [...at, key], value, unknownKey: true })),
    },
  );
  return fc.array(mutation, { minLength: 1, maxLength: 4 });
}

function isContainer(value: unknown): value is Record<string | number, unknown> {
  if (Array.isArray(value)) return true;
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const SKIP = Symbol('skip');

/**
 * A copy of `target` with `path` set to `value` (copies along the path only); SKIP when a step is
 * missing or not an object (the base does not use that part, or an earlier mutation replaced it).
 */
function setIn(target: unknown, path: OptionPath, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (!isContainer(target)) return SKIP;
  const from = target;
  if (rest.length > 0 && !Object.hasOwn(from, head)) return SKIP;
  const child = setIn(from[head], rest, value);
  if (child === SKIP) return SKIP;
  const copy: Record<string | number, unknown> = Array.isArray(from)
    ? [...from]
    : Object.assign(Object.getPrototypeOf(from) === null ? Object.create(null) : {}, from);
  Object.defineProperty(copy, head, { value: child, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** Applies the mutations that fit (a later one may need an object an earlier one replaced). */
export function applyOptionMutations<T>(
  base: T,
  mutations: readonly OptionMutation[],
): { options: T; applied: OptionMutation[] } {
  let options: unknown = base;
  const applied: OptionMutation[] = [];
  for (const m of mutations) {
    const next = setIn(options, m.path, m.value);
    if (next === SKIP) continue;
    options = next;
    applied.push(m);
  }
  return { options: options as T, applied };
}

function segments(path: OptionPath): string[] {
  return path.map(String);
}

function containsRun(haystack: readonly string[], needle: readonly string[]): boolean {
  for (let i = 0; i + needle.length <= haystack.length; i++)
    if (needle.every((s, j) => haystack[i + j] === s)) return true;
  return false;
}

function endsWith(haystack: readonly string[], needle: readonly string[]): boolean {
  return needle.length > 0 && containsRun(haystack.slice(haystack.length - needle.length), needle);
}

/** Whether an error's option (or, for a rule between fields, its message) names one of the mutated keys. */
function namesAMutation(error: InvalidOptionError, applied: readonly OptionMutation[]): boolean {
  const option = error.option.split(/[.[\]\s]+/).filter(Boolean);
  return applied.some((m) => {
    const path = segments(m.path);
    // the key itself or something inside it
    if (containsRun(option, path)) return true;
    // an object that encloses it
    for (let k = 1; k < path.length; k++) if (endsWith(option, path.slice(0, k))) return true;
    // a rule between two fields, blaming the other one
    const leaf = [...path].reverse().find((s) => !/^\d+$/.test(s));
    return leaf !== undefined && new RegExp(`\\b${leaf.replace(/[^\w]/g, '\\$&')}\\b`).test(error.message);
  });
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.constructor.name}: ${error.message}`;
  try {
    return `a thrown ${typeof error}: ${String(error)}`;
  } catch {
    return `a thrown ${typeof error}`;
  }
}

/**
 * The resolver returned, or threw an InvalidOptionError naming a mutated key (any key when `applied`
 * is undefined) and a fix.
 */
export function expectReturnsOrNamesAMutation(
  run: () => unknown,
  applied: readonly OptionMutation[] | undefined,
  mustRefuse = false,
): InvalidOptionError | undefined {
  let error: unknown;
  try {
    run();
    if (mustRefuse) throw new Error(`accepted ${JSON.stringify(applied?.map((m) => m.path))}`);
    return undefined;
  } catch (thrown) {
    error = thrown;
  }
  if (!(error instanceof InvalidOptionError))
    throw new Error(`threw ${describeError(error)} instead of an InvalidOptionError`, { cause: error });
  expect(error.code).toBe('SWITCHYARD_INVALID_OPTION');
  expect(typeof error.option).toBe('string');
  expect(error.option).not.toBe('');
  expect(error.message.startsWith(`Invalid option '${error.option}': `)).toBe(true);
  expect(error.message).toMatch(/\. Fix: \S/);
  if (applied !== undefined && !namesAMutation(error, applied))
    throw new Error(
      `'${error.option}' names none of the mutated keys ${JSON.stringify(applied.map((m) => m.path.join('.')))}: ${error.message}`,
    );
  return error;
}

/** The InvalidOptionError `run` throws (anything else fails the test). */
export function optionError(run: () => unknown): InvalidOptionError {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

/**
 * The property the option tests share: options built from one of `bases` with drawn mutations must
 * make `build` return, or throw an InvalidOptionError naming a mutated key.
 */
export function assertOptionMutations<T>(
  bases: readonly (() => T)[],
  space: OptionMutationSpace,
  build: (options: T) => unknown,
  numRuns = 300,
): void {
  fc.assert(
    fc.property(fc.nat({ max: bases.length - 1 }), optionMutations(space), (i, mutations) => {
      const { options, applied } = applyOptionMutations(bases[i]!(), mutations);
      expectReturnsOrNamesAMutation(() => build(options), applied);
    }),
    { numRuns },
  );
}
