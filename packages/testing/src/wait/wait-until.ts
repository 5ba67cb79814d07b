// Waiting on a condition against real servers: poll it with an overall deadline, never a fixed sleep.

/**
 * Resolves with the first value of `check` that is neither `undefined` nor `false` (polled every
 * 25 ms); fails after `timeoutMs` naming `what`, with `describe()` appended when given (the state a
 * reader needs to see why it never came).
 */
export async function waitUntil<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
  describe?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? `\n${describe()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
