import { beforeAll, describe, expect, it } from 'vitest';
import { type DemoResult, runDemo } from '../src/demo.js';

describe('the demo, run in-process on the in-memory broker', () => {
  let result: DemoResult;
  let lines: string[];

  beforeAll(async () => {
    lines = [];
    result = await runDemo({ log: (line) => lines.push(line) });
  });

  it('passes every check and prints the summary table', () => {
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.ok).toBe(true);
    expect(lines.some((line) => line.startsWith('== FINAL SUMMARY ='))).toBe(true);
    expect(lines.at(-1)).toMatch(/^ {2}all \d+ checks passed in [\d.]+ s$/);
  });

  it('fans every OrderPlaced out to both consumer groups, once per distinct order', () => {
    const { ordersPlaced, fanOut } = result.summary;
    expect(ordersPlaced).toBe(11);
    expect(fanOut).toEqual({ billing: ordersPlaced, analytics: ordersPlaced });
  });

  it('splits the ChargeCard queue between the two competing workers', () => {
    const { byWorker, total } = result.summary.competing;
    expect(total).toBe(6);
    expect(Object.keys(byWorker).sort()).toEqual(['worker-1', 'worker-2']);
    expect(Object.values(byWorker).reduce((a, b) => a + b, 0)).toBe(total);
    for (const handled of Object.values(byWorker)) expect(handled).toBeGreaterThan(0);
    const all = result.summary.chargesByWorker;
    expect(Object.values(all).reduce((a, b) => a + b, 0)).toBe(result.summary.ordersPlaced);
  });

  it('retries the transient gateway failure with backoff, then charges once', () => {
    const { failedAttempts, succeededOnAttempt, charges } = result.summary.retry;
    expect(failedAttempts.map((a) => [a.attempt, a.ceilingMs])).toEqual([
      [1, 50],
      [2, 100],
    ]);
    for (const a of failedAttempts) {
      expect(a.delayMs).toBeGreaterThanOrEqual(0);
      expect(a.delayMs).toBeLessThanOrEqual(a.ceilingMs);
    }
    expect(succeededOnAttempt).toBe(3);
    expect(charges).toBe(1);
  });

  it('absorbs the re-published duplicate in both groups and charges the card once', () => {
    const { published, billing, analytics, charges } = result.summary.duplicate;
    expect(published).toBe(2);
    expect(billing).toEqual({ runs: 1, duplicates: 1 });
    expect(analytics).toEqual({ runs: 1, duplicates: 1 });
    expect(charges).toBe(1);
  });

  it('dead-letters the poison messages with a full record, then redrives and processes them', () => {
    const { records, redrive, chargedAfterRedrive } = result.summary.deadLetter;
    expect(records.map((r) => r.orderId).sort()).toEqual(['o-4001', 'o-4002', 'o-4003']);
    for (const r of records)
      expect(r).toEqual({
        orderId: r.orderId,
        reason: 'retries-exhausted',
        attempts: 4,
        errorClass: 'TypeError',
        errorMessage: "Cannot read properties of undefined (reading 'percent')",
        sourceQueue: 'payments',
        consumerGroup: 'payments',
        messageType: 'ChargeCard',
        payloadIntact: true,
      });
    expect(redrive).toEqual({ moved: 3, failed: 0, remaining: 0, stopped: 'drained' });
    expect(chargedAfterRedrive).toBe(3);
  });

  it('rejects the late version 2 after version 3 was applied', () => {
    expect(result.summary.stale).toEqual({
      orderId: 'o-1001',
      applied: [1, 3],
      rejected: [2],
      finalStatus: 'shipped',
      finalVersion: 3,
    });
  });

  it('charges no card twice, reports no runtime error and shuts down cleanly', () => {
    expect(result.summary.doubleCharged).toEqual([]);
    expect(result.summary.appErrors).toEqual([]);
    expect(result.summary.shutdown).toEqual({ drained: true, abandoned: 0 });
  });
});

describe('the demo as a smoke check', () => {
  it('fails, naming what went wrong, when billing loses its idempotency', async () => {
    const lines: string[] = [];
    const result = await runDemo({ log: (line) => lines.push(line), billingIdempotency: false });
    expect(result.ok).toBe(false);
    expect(result.summary.duplicate.billing).toEqual({ runs: 2, duplicates: 0 });
    expect(result.summary.doubleCharged).toEqual(['o-3001']);
    expect(result.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([
      'duplicate: runs/absorbed per group',
      'duplicate: charges for o-3001',
      'each order charged exactly once',
    ]);
    expect(lines).toContain(`  3 of ${result.checks.length} checks FAILED:`);
  });
});
