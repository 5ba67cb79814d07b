import { hasCode, type SwitchyardError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { recordLogs } from '../../src/index.js';

describe('recordLogs', () => {
  it('keeps every line with its level and fields, and lists the messages of a level', () => {
    const logs = recordLogs();
    logs.info({ queue: 'q' }, 'started');
    const { warn } = logs;
    warn({ attempt: 2 }, 'resending');
    logs.error({}, undefined);
    expect(logs.entries).toEqual([
      { level: 'info', fields: { queue: 'q' }, message: 'started' },
      { level: 'warn', fields: { attempt: 2 }, message: 'resending' },
      { level: 'error', fields: {}, message: undefined },
    ]);
    expect(logs.messages('warn')).toEqual(['resending']);
    expect(logs.messages()).toEqual(['started', 'resending', '']);
    logs.clear();
    expect(logs.entries).toEqual([]);
  });

  it('keeps only the levels asked for, and only the newest maxEntries', () => {
    const logs = recordLogs({ levels: ['warn'], maxEntries: 2 });
    logs.debug({}, 'noise');
    for (const n of [1, 2, 3]) logs.warn({}, `w${n}`);
    expect(logs.messages()).toEqual(['w2', 'w3']);
  });

  it.each([
    [{ level: ['warn'] }, 'level'],
    [{ levels: ['warning'] }, 'levels'],
    [{ levels: 'warn' }, 'levels'],
    [{ maxEntries: 0 }, 'maxEntries'],
    [{ maxEntries: 1.5 }, 'maxEntries'],
  ])('refuses %j, naming %s', (options, option) => {
    let error: unknown;
    try {
      recordLogs(options as never);
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, 'SWITCHYARD_INVALID_OPTION')).toBe(true);
    expect((error as SwitchyardError & { option: string }).option).toBe(option);
  });
});
