// `npm run demo`: runs the demo and exits 0 when every expected effect happened, 1 otherwise.
// `npm run demo -- --no-billing-idempotency` shows what idempotency prevents (and fails on purpose).

import { runDemo } from './demo.js';

try {
  const { ok } = await runDemo({ billingIdempotency: !process.argv.includes('--no-billing-idempotency') });
  process.exitCode = ok ? 0 : 1;
} catch (error) {
  console.error('demo crashed:', error);
  process.exitCode = 1;
}
