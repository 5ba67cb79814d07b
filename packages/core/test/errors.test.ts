import { describe, expect, it } from 'vitest';
import {
  causeChain,
  ErrorCodes,
  errorCodeOf,
  hasCode,
  InvalidOptionError,
  isRetryable,
  isSwitchyardError,
  NonRetryableError,
  optionValueText,
  RetryableError,
  SwitchyardError,
} from '../src/errors.js';

describe('SwitchyardError', () => {
  it('carries a stable code, a retryable flag and a native cause', () => {
    const cause = new Error('socket hang up');
    const error = new SwitchyardError('SWITCHYARD_TRANSPORT', 'fetch failed', { cause });
    expect(error.code).toBe('SWITCHYARD_TRANSPORT');
    expect(error.retryable).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error).toBeInstanceOf(Error);
  });

  it('defaults retryability by code and lets the thrower override it', () => {
    expect(new SwitchyardError('SWITCHYARD_VALIDATION', 'bad').retryable).toBe(false);
    expect(new SwitchyardError('SWITCHYARD_HANDLER', 'boom').retryable).toBe(true);
    expect(new SwitchyardError('SWITCHYARD_HANDLER', 'boom', { retryable: false }).retryable).toBe(false);
  });

  it('is recognised by brand, so a second copy of the package still matches', () => {
    const foreign = Object.assign(new Error('x'), { code: 'SWITCHYARD_VALIDATION' });
    Object.defineProperty(foreign, Symbol.for('switchyard.error'), { value: true });
    expect(isSwitchyardError(foreign)).toBe(true);
    expect(isSwitchyardError(new Error('plain'))).toBe(false);
    expect(isSwitchyardError(null)).toBe(false);
  });

  it('has unique codes', () => {
    expect(new Set(ErrorCodes).size).toBe(ErrorCodes.length);
  });
});

describe('InvalidOptionError', () => {
  it('names the option and the fix', () => {
    const error = new InvalidOptionError('timeoutMs', 'must be below the visibility timeout', 'lower timeoutMs');
    expect(error.message).toBe(
      "Invalid option 'timeoutMs': must be below the visibility timeout. Fix: lower timeoutMs",
    );
    expect(error.option).toBe('timeoutMs');
    expect(error.code).toBe('SWITCHYARD_INVALID_OPTION');
    expect(error.retryable).toBe(false);
  });
});

describe('classification through the cause chain', () => {
  it('treats an error that says nothing as retryable', () => {
    expect(isRetryable(new Error('timeout'))).toBe(true);
    expect(isRetryable('a string')).toBe(true);
  });

  it('lets the first link that states retryability decide', () => {
    const root = new NonRetryableError('card declined');
    const wrapped = new Error('charge failed', { cause: root });
    expect(isRetryable(wrapped)).toBe(false);
    const outer = new RetryableError('try later', { cause: root });
    expect(isRetryable(outer)).toBe(true);
  });

  it('survives cycles in the chain', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(causeChain(a)).toEqual([a, b]);
    expect(isRetryable(a)).toBe(true);
  });

  it('finds the most specific Switchyard code', () => {
    const inner = new SwitchyardError('SWITCHYARD_STALE_EVENT', 'old');
    const outer = new Error('wrap', { cause: inner });
    expect(errorCodeOf(outer)).toBe('SWITCHYARD_STALE_EVENT');
    expect(errorCodeOf(new Error('x'))).toBeUndefined();
    expect(hasCode(inner, 'SWITCHYARD_STALE_EVENT')).toBe(true);
    expect(hasCode(outer, 'SWITCHYARD_STALE_EVENT')).toBe(false);
  });

  it('keeps a retry delay asked for by the handler', () => {
    expect(new RetryableError('busy', { delayMs: 250 }).delayMs).toBe(250);
  });
});

describe('optionValueText', () => {
  it('shows what String() shows, and names the kind of a value String() throws on', () => {
    expect(optionValueText(42)).toBe('42');
    expect(optionValueText(Symbol('x'))).toBe('Symbol(x)');
    expect(optionValueText(Object.create(null))).toBe('an object that cannot be shown');
    expect(optionValueText({ toString: 5, valueOf: 5 })).toBe('an object that cannot be shown');
  });
});
