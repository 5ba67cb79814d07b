// The idempotency store conformance suite against the in-memory store: once on a manual clock
// (advanceTime given, nothing waits), once on the system clock (short real leases, polled), so both
// paths of the suite run here and not only on Redis and Postgres.

import { MemoryIdempotencyStore } from '@switchyard/core';
import { describeIdempotencyStoreConformance, ManualClock } from '../../src/index.js';

describeIdempotencyStoreConformance('memory store on a manual clock', async () => {
  const clock = new ManualClock();
  return {
    store: new MemoryIdempotencyStore({ clock }),
    advanceTime: (ms) => clock.advance(ms),
    async cleanup() {},
  };
});

describeIdempotencyStoreConformance(
  'memory store on the system clock',
  async () => ({ store: new MemoryIdempotencyStore(), async cleanup() {} }),
  { realTimeLeaseMs: 150 },
);
