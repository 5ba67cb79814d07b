// Every error Switchyard raises carries a stable code from this one list, a `retryable` flag and a
// native `cause`. Checks use the code (or the brand), so they survive two copies of the package.

export const ErrorCodes = [
  'SWITCHYARD_INVALID_OPTION',
  'SWITCHYARD_CHANNEL_MISMATCH',
  'SWITCHYARD_VALIDATION',
  'SWITCHYARD_DECODE',
  'SWITCHYARD_UNKNOWN_TYPE',
  'SWITCHYARD_HANDLER',
  'SWITCHYARD_HANDLER_TIMEOUT',
  'SWITCHYARD_RETRY_EXHAUSTED',
  'SWITCHYARD_RETRY_BUDGET_EXHAUSTED',
  'SWITCHYARD_CIRCUIT_OPEN',
  'SWITCHYARD_IDEMPOTENCY_IN_PROGRESS',
  'SWITCHYARD_IDEMPOTENCY_PAYLOAD_MISMATCH',
  'SWITCHYARD_STALE_EVENT',
  'SWITCHYARD_NON_RETRYABLE',
  'SWITCHYARD_TRANSPORT',
  'SWITCHYARD_PUBLISH',
  'SWITCHYARD_DEAD_LETTER_PUBLISH',
  'SWITCHYARD_MESSAGE_TOO_LARGE',
  'SWITCHYARD_BACKPRESSURE',
  'SWITCHYARD_CAPABILITY',
  'SWITCHYARD_SHUTDOWN',
  'SWITCHYARD_NOT_STARTED',
  'SWITCHYARD_SERVICE_UNAVAILABLE',
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

const BRAND = Symbol.for('switchyard.error');

export interface SwitchyardErrorOptions {
  readonly cause?: unknown;
  /** Overrides the code's default retryability. */
  readonly retryable?: boolean;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Codes that are safe to retry unless the thrower says otherwise. */
const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'SWITCHYARD_HANDLER',
  'SWITCHYARD_HANDLER_TIMEOUT',
  'SWITCHYARD_CIRCUIT_OPEN',
  'SWITCHYARD_IDEMPOTENCY_IN_PROGRESS',
  'SWITCHYARD_TRANSPORT',
  'SWITCHYARD_PUBLISH',
  'SWITCHYARD_DEAD_LETTER_PUBLISH',
  'SWITCHYARD_BACKPRESSURE',
]);

export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: SwitchyardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwitchyardError';
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** Wrong options: thrown at construction, naming the option and the fix. */
export class InvalidOptionError extends SwitchyardError {
  readonly option: string;
  constructor(option: string, problem: string, fix: string, cause?: unknown) {
    super('SWITCHYARD_INVALID_OPTION', `Invalid option '${option}': ${problem}. Fix: ${fix}`, {
      cause,
      retryable: false,
      details: { option },
    });
    this.name = 'InvalidOptionError';
    this.option = option;
  }
}

/**
 * A wrong option's value as its InvalidOptionError message shows it: `String(value)`, which throws
 * for some values (`Object.create(null)`, an object whose toString throws); those are shown by type.
 */
export function optionValueText(value: unknown): string {
  try {
    return String(value);
  } catch {
    return `${optionKindText(value)} that cannot be shown`;
  }
}

/**
 * Whether `value` can be an options object: a plain object (`{ … }`, `Object.create(null)`, one from
 * another realm), not an array, a Date, a function, a boxed primitive or a class instance. The objects
 * nested in options (`retry`, `consumer`, …) must be one, so a misplaced value is refused, not merged.
 */
export function isOptionObject<T>(value: T): value is T & Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/** What kind of value an option was given, for its InvalidOptionError: 'an array', 'a Date', 'null', 'a string'. */
export function optionKindText(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  let kind: string = typeof value;
  if (kind === 'object') {
    const proto: unknown = Object.getPrototypeOf(value);
    const ctor = proto === null ? undefined : (proto as { constructor?: unknown }).constructor;
    kind = typeof ctor === 'function' && ctor.name !== '' && ctor !== Object ? ctor.name : 'object';
  }
  return `${/^[aeiouAEIOU]/.test(kind) ? 'an' : 'a'} ${kind}`;
}

/**
 * Refuses an injected collaborator (a logger, a clock, a store, a client) that is not an object or a
 * function with each of `methods` a function, so it fails at construction naming the option instead
 * of with a TypeError when first called. Only required members are checked.
 */
export function assertMethods(
  option: string,
  value: unknown,
  what: string,
  methods: readonly string[],
  fix: string,
): void {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null)
    throw new InvalidOptionError(option, `must be ${what}, got ${optionKindText(value)}`, fix);
  const missing = methods.find((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
  if (missing !== undefined)
    throw new InvalidOptionError(option, `must be ${what}: its ${missing} is not a function`, fix);
}

/**
 * Refuses a key of `value` that `known` does not list, so a misspelt option fails instead of falling
 * back to its default. The error names `optionOf(key)` and says it "is not <owner> option" (`owner`
 * as 'a consumer', 'an SQS transport').
 */
export function refuseUnknownKeys(
  value: object,
  known: readonly string[],
  owner: string,
  optionOf: (key: string) => string = (key) => key,
): void {
  for (const key of Object.keys(value))
    if (!known.includes(key))
      throw new InvalidOptionError(
        optionOf(key),
        `is not ${owner} option`,
        `remove it; known options: ${known.join(', ')}`,
      );
}

/** A wrong value as a message shows it: a string quoted, an object by its kind, another primitive as it prints. */
export function shownValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if ((typeof value === 'object' && value !== null) || typeof value === 'function') return optionKindText(value);
  return optionValueText(value);
}

/**
 * An abort signal option: absent (undefined) passes; anything else must be an AbortSignal (with
 * `methods` beyond the listener pair when the caller uses them), so a wrong one fails naming the
 * option instead of with a TypeError when it is listened to.
 */
export function assertAbortSignal(
  option: string,
  value: unknown,
  methods: readonly string[] = [],
): AbortSignal | undefined {
  if (value === undefined) return undefined;
  const fix = "pass an AbortController's signal, or leave it out";
  assertMethods(option, value, 'an AbortSignal', ['addEventListener', 'removeEventListener', ...methods], fix);
  if (typeof (value as { readonly aborted?: unknown }).aborted !== 'boolean')
    throw new InvalidOptionError(option, 'must be an AbortSignal: its aborted is not a boolean', fix);
  return value as AbortSignal;
}

/** Throw from a handler to send a message straight to the dead-letter destination. */
export class NonRetryableError extends SwitchyardError {
  constructor(message: string, options: Omit<SwitchyardErrorOptions, 'retryable'> = {}) {
    super('SWITCHYARD_NON_RETRYABLE', message, { ...options, retryable: false });
    this.name = 'NonRetryableError';
  }
}

/** Throw from a handler to ask for a retry (optionally after a given delay). */
export class RetryableError extends SwitchyardError {
  readonly delayMs: number | undefined;
  constructor(message: string, options: Omit<SwitchyardErrorOptions, 'retryable'> & { delayMs?: number } = {}) {
    super('SWITCHYARD_HANDLER', message, { ...options, retryable: true });
    this.name = 'RetryableError';
    this.delayMs = options.delayMs;
  }
}

export function isSwitchyardError(value: unknown): value is SwitchyardError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

export function hasCode(value: unknown, code: ErrorCode): boolean {
  return isSwitchyardError(value) && value.code === code;
}

/** The chain `error, error.cause, error.cause.cause, …`, cycle-safe and bounded. */
export function causeChain(error: unknown, limit = 16): unknown[] {
  const chain: unknown[] = [];
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== undefined && current !== null && !seen.has(current) && chain.length < limit) {
    chain.push(current);
    seen.add(current);
    try {
      current = typeof current === 'object' ? (current as { cause?: unknown }).cause : undefined;
    } catch {
      // A `cause` getter (or Proxy trap) that throws ends the chain.
      current = undefined;
    }
  }
  return chain;
}

/** Members of a thrown value that classification, telemetry, logs and dead-letter records read. */
const READ_MEMBERS = ['constructor', 'name', 'message', 'stack', 'code', 'retryable', 'delayMs'] as const;

/**
 * `thrown` itself when the pipeline can read it; otherwise (a Proxy whose traps throw, a getter that
 * throws on any of READ_MEMBERS, in it or its causes) an error saying so. A pipeline that threw on
 * the value would leave its message unsettled, neither retried nor dead-lettered.
 */
export function readableThrown(thrown: unknown): unknown {
  if (typeof thrown !== 'object' && typeof thrown !== 'function') return thrown;
  if (thrown === null) return thrown;
  try {
    for (const link of causeChain(thrown)) {
      if ((typeof link !== 'object' && typeof link !== 'function') || link === null) continue;
      // What the pipeline does with it: instanceof checks (a getPrototypeOf trap) and member reads.
      Object.getPrototypeOf(link);
      for (const member of READ_MEMBERS) Reflect.get(link, member);
    }
    return thrown;
  } catch (error) {
    let reason: string;
    try {
      reason = error instanceof Error ? error.message : optionValueText(error);
    } catch {
      reason = 'unknown';
    }
    return new SwitchyardError(
      'SWITCHYARD_HANDLER',
      `the handler threw a value whose properties cannot be read (reading them threw: ${reason})`,
      { retryable: true },
    );
  }
}

/**
 * Whether an error may be retried. The first link in the cause chain that states a boolean
 * `retryable` decides; an error that states nothing is treated as retryable (transient until
 * proven otherwise), so a plain `throw new Error()` retries under the policy.
 */
export function isRetryable(error: unknown): boolean {
  for (const link of causeChain(error)) {
    if (typeof link === 'object' && link !== null) {
      const flag = (link as { retryable?: unknown }).retryable;
      if (typeof flag === 'boolean') return flag;
    }
  }
  return true;
}

/** The most specific Switchyard code in the chain, if any. */
export function errorCodeOf(error: unknown): ErrorCode | undefined {
  for (const link of causeChain(error)) if (isSwitchyardError(link)) return link.code;
  return undefined;
}
