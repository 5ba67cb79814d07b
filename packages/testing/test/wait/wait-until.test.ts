import { describe, expect, it } from 'vitest';
import { waitUntil } from '../../src/index.js';

describe('waitUntil', () => {
  it('resolves with the first value that is neither undefined nor false', async () => {
    let calls = 0;
    const value = await waitUntil('the third call', () =>
      ++calls === 3 ? { calls } : calls === 1 ? false : undefined,
    );
    expect(value).toEqual({ calls: 3 });
  });

  it('fails past its deadline, naming what it waited for and the state it was given', async () => {
    const error = await waitUntil(
      'a message',
      () => false,
      0,
      () => 'received: []',
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe('timed out after 0 ms waiting for a message\nreceived: []');
  });
});
