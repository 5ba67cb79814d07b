// The idempotency store port, shaped after the state machine real systems use (AWS Powertools):
//   claim -> IN_PROGRESS with a lease; success -> COMPLETED with a TTL; failure -> released, so the
//   next delivery runs again; a crashed holder's lease lapses and the next claim takes over.
// Implementations must make `claim` atomic (Redis SET NX / Lua, Postgres INSERT ... ON CONFLICT).
// Times are durations: each store reads its own clock (the memory store's is injected; Redis and
// Postgres use the server's), so clients with skewed clocks agree.

export interface ClaimRequest {
  readonly key: string;
  /** Hash of the part of the payload that must match for a duplicate to count as one. */
  readonly payloadHash: string;
  /** How long the claim holds before another delivery may take over. */
  readonly leaseMs: number;
}

export type ClaimResult =
  /** This caller holds the key; pass `token` to renew/complete/release. */
  | { readonly status: 'claimed'; readonly token: string; readonly takenOver: boolean }
  /** Another delivery holds a live lease. Safe to retry later. */
  | { readonly status: 'in-progress'; readonly leaseExpiresAt: number }
  /** Already done: a duplicate. `payloadHash` is the stored one; compare to detect a changed payload. */
  | { readonly status: 'completed'; readonly payloadHash: string; readonly result: string | undefined };

export interface IdempotencyStore {
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /** Extend a held lease; false when the token no longer holds it. */
  renew(key: string, token: string, leaseMs: number): Promise<boolean>;
  /** Mark done; the record lives `ttlMs` (set it at least to the source's redelivery/retention window). */
  complete(key: string, token: string, options: { readonly ttlMs: number; readonly result?: string }): Promise<boolean>;
  /** Give the key up after a failure so the next delivery runs again. */
  release(key: string, token: string): Promise<boolean>;
  close?(): Promise<void>;
}
