// The Switchyard demo: a small shop on the in-memory broker, walked through the five situations a
// message-driven service must survive. Every step waits for the events it expects (never for a
// fixed time) and every expected effect becomes a check, so the demo doubles as a smoke test:
// `runDemo` resolves with `ok: false` and the failed checks when something did not happen.

import { randomUUID } from 'node:crypto';
import {
  type App,
  createApp,
  type DeadLetterEntry,
  defineHandler,
  MemoryBroker,
  MemoryIdempotencyStore,
  MemoryLogTransport,
  MemoryQueueTransport,
  MemoryVersionStore,
  type PayloadOf,
  RetryPolicy,
  systemClock,
} from '@switchyard/core';
import { EventJournal } from './journal.js';
import { renderTable } from './report.js';
import {
  ChargeCard,
  type Currency,
  FeeSchedule,
  formatMoney,
  OrderPlaced,
  OrderStatusChanged,
  orderStatus,
  orders,
  PaymentGateway,
  payments,
} from './shop.js';

export interface DemoOptions {
  /** Where the narration goes, one line per call. Default `console.log`. */
  readonly log?: (line: string) => void;
  /** How long a step waits for the events it expects before reporting them missing. Default 10 s. */
  readonly stepTimeoutMs?: number;
  /**
   * Billing deduplicates orders by message id (default true). Turn it off to watch step 3 charge a
   * card twice, and the demo fail its checks.
   */
  readonly billingIdempotency?: boolean;
}

export interface Check {
  readonly name: string;
  readonly expected: string;
  readonly observed: string;
  readonly ok: boolean;
}

export interface FailedAttempt {
  readonly worker: string;
  readonly attempt: number;
  readonly delayMs: number;
  /** The backoff ceiling the jittered delay was drawn under. */
  readonly ceilingMs: number;
}

export interface DeadLetterView {
  readonly orderId: string | undefined;
  readonly reason: string | undefined;
  readonly attempts: number | undefined;
  readonly errorClass: string | undefined;
  readonly errorMessage: string | undefined;
  readonly sourceQueue: string | undefined;
  readonly consumerGroup: string | undefined;
  readonly messageType: string | undefined;
  /** The stored body is the ChargeCard billing sent, unchanged. */
  readonly payloadIntact: boolean;
}

export interface DemoSummary {
  readonly ordersPlaced: number;
  /** Handler runs per consumer group of `orders` (duplicates do not run the handler). */
  readonly fanOut: { readonly billing: number; readonly analytics: number };
  /** Step 1: who charged the six cards. */
  readonly competing: { readonly byWorker: Readonly<Record<string, number>>; readonly total: number };
  readonly retry: {
    readonly orderId: string;
    readonly failedAttempts: readonly FailedAttempt[];
    readonly succeededOnAttempt: number | undefined;
    readonly charges: number;
  };
  readonly duplicate: {
    readonly orderId: string;
    readonly messageId: string;
    readonly published: number;
    readonly billing: { readonly runs: number; readonly duplicates: number };
    readonly analytics: { readonly runs: number; readonly duplicates: number };
    readonly charges: number;
  };
  readonly deadLetter: {
    readonly records: readonly DeadLetterView[];
    readonly redrive: {
      readonly moved: number;
      readonly failed: number;
      readonly remaining: number;
      readonly stopped: string;
    };
    readonly ratePerSecond: number;
    readonly chargedAfterRedrive: number;
  };
  readonly stale: {
    readonly orderId: string;
    readonly applied: readonly number[];
    readonly rejected: readonly number[];
    readonly finalStatus: string | undefined;
    readonly finalVersion: number | undefined;
  };
  /** Every card charge of the run, per worker. */
  readonly chargesByWorker: Readonly<Record<string, number>>;
  readonly doubleCharged: readonly string[];
  readonly appErrors: readonly string[];
  readonly shutdown: { readonly drained: boolean; readonly abandoned: number };
}

export interface DemoResult {
  readonly ok: boolean;
  readonly checks: readonly Check[];
  readonly summary: DemoSummary;
  readonly elapsedMs: number;
}

type Order = PayloadOf<typeof OrderPlaced>;

const WORKERS = ['worker-1', 'worker-2'] as const;
const FLAKY_CARD = 'tok_flaky_gateway';
const DLQ = `${payments.name}.dlq`;
const REDRIVE_RATE_PER_SECOND = 5;
const DAY_MS = 24 * 60 * 60 * 1000;

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const stepTimeoutMs = options.stepTimeoutMs ?? 10_000;
  const clock = systemClock;
  const startedAt = clock.now();
  const say = (line: string) => log(`  ${line}`);
  /** One narrated event: who (an app, group or worker) and what happened. */
  const event = (who: string, what: string) => say(`${who.padEnd(11)} ${what}`);
  const section = (title: string) => {
    log('');
    log(`== ${title} ${'='.repeat(Math.max(3, 86 - title.length))}`);
  };
  const seconds = (from: number, at = clock.now()) => `+${((at - from) / 1000).toFixed(2)} s`;
  const checks: Check[] = [];
  const check = (name: string, expected: string, observed: string, ok: boolean) =>
    checks.push({ name, expected, observed, ok });
  const missing: string[] = [];
  const journal = new EventJournal(() => clock.now());
  const waitFor = async (what: string, condition: () => boolean) => {
    const met = await journal.until(condition, stepTimeoutMs);
    if (!met) {
      missing.push(what);
      say(`!! still waiting after ${stepTimeoutMs} ms for: ${what}`);
    }
    return met;
  };

  // --- the infrastructure, declared up front as it would be in Terraform: topics, queue and DLQ.
  const broker = new MemoryBroker({ clock });
  broker.createTopic(orders.name, { partitions: 3 });
  broker.createTopic(orderStatus.name, { partitions: 3 });
  broker.createQueue(DLQ);
  broker.createQueue(payments.name, { visibilityTimeoutMs: 30_000 });

  // --- the outside world and the service's own state
  const fees = new FeeSchedule();
  const gateway = new PaymentGateway({ clock, latencyMs: 15, unavailableFor: { [FLAKY_CARD]: 2 } });
  const billingRuns: string[] = [];
  const chargesSent = new Map<string, PayloadOf<typeof ChargeCard>>();
  const analyticsRuns: string[] = [];
  const revenue = new Map<Currency, number>();
  const storefront = new Map<string, { status: string; version: number }>();
  const storefrontApplied: number[] = [];
  let narrateStatus: ((who: string, what: string) => void) | undefined;

  // --- the shop service: checkout publishes; billing and analytics read `orders` as two groups.
  const shop = createApp({
    transport: new MemoryLogTransport({ broker, autoCreate: false }),
    shutdown: { deadlineMs: 2_000 },
  });
  shop.consume(orders, {
    group: 'billing',
    // Billing charges money: a redelivered or re-published order must not charge twice.
    ...(options.billingIdempotency === false
      ? {}
      : { idempotency: { store: new MemoryIdempotencyStore(), ttlMs: DAY_MS } }),
    handlers: [
      defineHandler(OrderPlaced, async (message) => {
        const { orderId, amountMinor, currency, cardToken } = message.payload;
        billingRuns.push(orderId);
        const command = { orderId, amountMinor, currency, cardToken };
        chargesSent.set(orderId, command);
        // A command id derived from the order: if billing ever re-sends it, it is the same message.
        await shop.send(payments, ChargeCard, command, { id: `charge-${orderId}` });
      }),
    ],
  });
  shop.consume(orders, {
    group: 'analytics',
    idempotency: { store: new MemoryIdempotencyStore(), ttlMs: DAY_MS },
    handlers: [
      defineHandler(OrderPlaced, (message) => {
        const { orderId, amountMinor, currency } = message.payload;
        analyticsRuns.push(orderId);
        revenue.set(currency, (revenue.get(currency) ?? 0) + amountMinor);
      }),
    ],
  });
  shop.consume(orderStatus, {
    group: 'storefront',
    versionStore: new MemoryVersionStore(),
    handlers: [
      defineHandler(OrderStatusChanged, (message) => {
        const { orderId, status, version } = message.payload;
        storefront.set(orderId, { status, version });
        storefrontApplied.push(version);
        narrateStatus?.('storefront', `applied v${version} '${status}' to ${orderId}`);
      }),
    ],
  });
  journal.attach('shop', shop);

  // --- two instances of the payments service competing for the `payments` queue.
  const retryPolicy = RetryPolicy.exponential({ maxAttempts: 4, initialDelayMs: 50, maxDelayMs: 1_000 });
  const paymentsWorker = (name: string): App => {
    const app = createApp({
      transport: new MemoryQueueTransport({ broker, autoCreate: false }),
      shutdown: { deadlineMs: 2_000 },
    });
    app.consume(payments, {
      group: 'payments',
      // One charge at a time per instance, so the two visibly share the queue.
      maxInFlight: 1,
      retry: retryPolicy,
      handlers: [
        defineHandler(ChargeCard, async (message, context) => {
          const { orderId, amountMinor, currency, cardToken } = message.payload;
          const feeMinor = fees.feeFor(amountMinor, currency);
          await gateway.charge(
            { orderId, amountMinor, currency, cardToken, feeMinor, worker: name, attempt: context.attempt },
            context.signal,
          );
        }),
      ],
    });
    journal.attach(name, app);
    return app;
  };
  const workers = WORKERS.map(paymentsWorker);
  const apps = [shop, ...workers];

  const chargeAcks = (orderId: string) =>
    journal.select('consumer:message:acked', (e) => e.event.type === ChargeCard.name && e.event.key === orderId).length;
  const charged = (orderId: string) => chargeAcks(orderId) > 0;
  const groupSettled = (group: string, orderId: string) =>
    journal.entries.filter(
      (e) =>
        e.event.consumerGroup === group &&
        e.event.key === orderId &&
        e.name !== 'consumer:message:retried' &&
        e.name !== 'consumer:message:released',
    ).length;
  const published: Order[] = [];
  const placeOrder = async (order: Order, options: { id?: string } = {}) => {
    if (!published.some((o) => o.orderId === order.orderId)) published.push(order);
    return shop.publish(orders, OrderPlaced, order, options);
  };

  log('Switchyard demo: a small shop on the in-memory broker (Kafka-like topics, SQS-like queues)');
  for (const line of renderTable(
    ['channel', 'carries', 'read by'],
    [
      [
        `topic '${orders.name}', 3 partitions`,
        OrderPlaced.name,
        'groups billing and analytics (each gets every event)',
      ],
      [
        `queue '${payments.name}', DLQ '${DLQ}'`,
        ChargeCard.name,
        `${WORKERS.join(' and ')} (competing for each message)`,
      ],
      [
        `topic '${orderStatus.name}', 3 partitions`,
        OrderStatusChanged.name,
        'group storefront (versioned, stale ones rejected)',
      ],
    ],
  ))
    say(line);

  let stopResults: { drained: boolean; abandoned: number }[] = [];
  let retrySummary: DemoSummary['retry'] | undefined;
  let duplicateSummary: DemoSummary['duplicate'] | undefined;
  let deadLetterSummary: DemoSummary['deadLetter'] | undefined;
  let staleSummary: DemoSummary['stale'] | undefined;
  let competing: DemoSummary['competing'] = { byWorker: {}, total: 0 };
  try {
    await Promise.all(apps.map((app) => app.start()));

    // ---------------------------------------------------------------------------------- 1
    section('1. Fan-out to two consumer groups; competing consumers on a queue');
    const firstOrders: Order[] = [
      order('o-1001', 'c-ada', 4_200, 'EUR'),
      order('o-1002', 'c-bob', 1_999, 'USD'),
      order('o-1003', 'c-cyd', 8_650, 'EUR'),
      order('o-1004', 'c-dee', 1_250, 'EUR'),
      order('o-1005', 'c-eve', 3_100, 'USD'),
      order('o-1006', 'c-fay', 560, 'EUR'),
    ];
    const firstIds = firstOrders.map((o) => o.orderId);
    gateway.onCharge = (c) =>
      event(
        c.worker,
        `charged ${c.orderId} ${formatMoney(c.amountMinor, c.currency)} (fee ${formatMoney(c.feeMinor, c.currency)})`,
      );
    say(`checkout publishes ${firstOrders.length} OrderPlaced: ${firstIds.join(' ')}`);
    for (const o of firstOrders) await placeOrder(o);
    await waitFor(`billing and analytics to process ${firstIds.join(', ')} and their cards to be charged`, () =>
      firstIds.every((id) => groupSettled('billing', id) >= 1 && groupSettled('analytics', id) >= 1 && charged(id)),
    );
    const firstBilling = billingRuns.filter((id) => firstIds.includes(id)).length;
    const firstAnalytics = analyticsRuns.filter((id) => firstIds.includes(id)).length;
    event(
      'billing',
      `got ${firstBilling}/${firstOrders.length} OrderPlaced -> sent ${firstBilling} ChargeCard to '${payments.name}'`,
    );
    event(
      'analytics',
      `got ${firstAnalytics}/${firstOrders.length} OrderPlaced -> revenue ${[...revenue].map(([cur, v]) => formatMoney(v, cur)).join(' + ')}`,
    );
    const byWorker = Object.fromEntries(
      WORKERS.map((w) => [w, gateway.charges.filter((c) => c.worker === w && firstIds.includes(c.orderId)).length]),
    );
    competing = { byWorker, total: Object.values(byWorker).reduce((a, b) => a + b, 0) };
    event('payments', `split: ${WORKERS.map((w) => `${w} ${byWorker[w]}`).join(', ')} (total ${competing.total})`);
    check(
      'fan-out: billing + analytics runs',
      `${firstOrders.length} + ${firstOrders.length}`,
      `${firstBilling} + ${firstAnalytics}`,
      firstBilling === firstOrders.length && firstAnalytics === firstOrders.length,
    );
    check(
      `competing: ${WORKERS.join(' + ')}`,
      `each > 0, sum ${firstOrders.length}`,
      `${WORKERS.map((w) => byWorker[w]).join(' + ')} = ${competing.total}`,
      competing.total === firstOrders.length && WORKERS.every((w) => (byWorker[w] ?? 0) > 0),
    );

    // ---------------------------------------------------------------------------------- 2
    section('2. A transient failure, retried with backoff');
    const flaky = order('o-2001', 'c-gus', 1_999, 'EUR', FLAKY_CARD);
    const { maxAttempts, initialDelayMs } = retryPolicy.options;
    say(`the gateway answers 503 twice for ${flaky.orderId}'s card, then accepts it`);
    say(`payments retry policy: ${maxAttempts} attempts, exponential backoff from ${initialDelayMs} ms, full jitter`);
    const retryStart = clock.now();
    const failedAttempts: FailedAttempt[] = [];
    journal.onEntry = (e) => {
      if (e.name !== 'consumer:message:retried' || e.event.key !== flaky.orderId) return;
      const ceilingMs = retryPolicy.ceilingFor(e.event.attempt);
      failedAttempts.push({ worker: e.app, attempt: e.event.attempt, delayMs: e.event.delayMs, ceilingMs });
      event(
        e.app,
        `attempt ${e.event.attempt} failed: ${messageOf(e.event.error)} -> retry in ${e.event.delayMs} ms ` +
          `(backoff ceiling ${ceilingMs} ms)  ${seconds(retryStart, e.at)}`,
      );
    };
    let succeededOnAttempt: number | undefined;
    gateway.onCharge = (c) => {
      if (c.orderId !== flaky.orderId) return;
      succeededOnAttempt = c.attempt;
      event(
        c.worker,
        `attempt ${c.attempt} charged ${c.orderId} ${formatMoney(c.amountMinor, c.currency)}  ${seconds(retryStart, c.at)}`,
      );
    };
    await placeOrder(flaky);
    await waitFor(`ChargeCard ${flaky.orderId} to be charged or dead-lettered`, () =>
      journal.entries.some(
        (e) =>
          e.event.type === ChargeCard.name &&
          e.event.key === flaky.orderId &&
          (e.name === 'consumer:message:acked' || e.name === 'consumer:message:dead-lettered'),
      ),
    );
    retrySummary = {
      orderId: flaky.orderId,
      failedAttempts,
      succeededOnAttempt,
      charges: gateway.chargesFor(flaky.orderId),
    };
    check(
      'retry: failed attempts, then charged',
      '1, 2 failed; 3 charged',
      `${failedAttempts.map((a) => a.attempt).join(', ') || 'none'} failed; ${succeededOnAttempt ?? 'none'} charged`,
      failedAttempts.map((a) => a.attempt).join() === '1,2' && succeededOnAttempt === 3 && retrySummary.charges === 1,
    );
    check(
      'retry: delays within backoff ceiling',
      failedAttempts.map((a) => `<= ${a.ceilingMs} ms`).join(', ') || '<= 50 ms, <= 100 ms',
      failedAttempts.map((a) => `${a.delayMs} ms`).join(', ') || 'none',
      failedAttempts.length === 2 && failedAttempts.every((a) => a.delayMs >= 0 && a.delayMs <= a.ceilingMs),
    );

    // ---------------------------------------------------------------------------------- 3
    section('3. A duplicate delivery, absorbed by idempotency');
    const twice = order('o-3001', 'c-hal', 7_500, 'USD');
    const messageId = randomUUID();
    say(`checkout publishes OrderPlaced ${twice.orderId} twice with the same message id ${messageId.slice(0, 8)}…`);
    say('(as a producer does when it retries a send whose acknowledgement was lost)');
    journal.onEntry = (e) => {
      if (e.event.type !== OrderPlaced.name || e.event.key !== twice.orderId) return;
      if (e.name === 'consumer:message:acked')
        event(e.event.consumerGroup, `processed ${twice.orderId} (message ${e.event.messageId.slice(0, 8)}…)`);
      if (e.name === 'consumer:message:duplicate')
        event(e.event.consumerGroup, `duplicate of ${e.event.messageId.slice(0, 8)}… absorbed: handler not run`);
    };
    gateway.onCharge = (c) => {
      if (c.orderId === twice.orderId)
        event(c.worker, `charged ${c.orderId} ${formatMoney(c.amountMinor, c.currency)}`);
    };
    await placeOrder(twice, { id: messageId });
    await placeOrder(twice, { id: messageId });
    await waitFor(
      `both deliveries of ${twice.orderId} to settle in billing and analytics, and its card charge`,
      () =>
        groupSettled('billing', twice.orderId) >= 2 &&
        groupSettled('analytics', twice.orderId) >= 2 &&
        // Every ChargeCard billing sent for it has been worked, not just the first.
        chargeAcks(twice.orderId) >= Math.max(1, billingRuns.filter((id) => id === twice.orderId).length),
    );
    const dupOf = (group: string) =>
      journal.select(
        'consumer:message:duplicate',
        (e) => e.event.consumerGroup === group && e.event.key === twice.orderId,
      ).length;
    duplicateSummary = {
      orderId: twice.orderId,
      messageId,
      published: 2,
      billing: { runs: billingRuns.filter((id) => id === twice.orderId).length, duplicates: dupOf('billing') },
      analytics: { runs: analyticsRuns.filter((id) => id === twice.orderId).length, duplicates: dupOf('analytics') },
      charges: gateway.chargesFor(twice.orderId),
    };
    say(
      `card charged for ${twice.orderId}: ${duplicateSummary.charges === 1 ? 'once' : `${duplicateSummary.charges} times`}`,
    );
    const d = duplicateSummary;
    check(
      'duplicate: runs/absorbed per group',
      'billing 1/1, analytics 1/1',
      `billing ${d.billing.runs}/${d.billing.duplicates}, analytics ${d.analytics.runs}/${d.analytics.duplicates}`,
      d.billing.runs === 1 && d.billing.duplicates === 1 && d.analytics.runs === 1 && d.analytics.duplicates === 1,
    );
    check(`duplicate: charges for ${twice.orderId}`, '1', String(d.charges), d.charges === 1);

    // ---------------------------------------------------------------------------------- 4
    section('4. A poison message: dead-lettered, inspected, fixed, redriven');
    const yen = [
      order('o-4001', 'c-ito', 4_800, 'JPY'),
      order('o-4002', 'c-jun', 12_000, 'JPY'),
      order('o-4003', 'c-kei', 950, 'JPY'),
    ];
    const yenIds = yen.map((o) => o.orderId);
    say(`${yen.length} orders in JPY; the fee schedule has no JPY rate (a bug), so ChargeCard throws on every attempt`);
    journal.onEntry = (e) => {
      if (e.name !== 'consumer:message:dead-lettered' || !yenIds.includes(e.event.key ?? '')) return;
      const delays = journal
        .select('consumer:message:retried', (r) => r.event.messageId === e.event.messageId)
        .map((r) => r.event.delayMs);
      const { record } = e.event;
      event(
        e.app,
        `dead-lettered ${e.event.key} after ${record.attempts} attempts (retried after ${delays.join(', ')} ms): ` +
          `${record.reason}, ${record.error.className}`,
      );
    };
    gateway.onCharge = undefined;
    for (const o of yen) await placeOrder(o);
    await waitFor(`${yenIds.join(', ')} to reach '${DLQ}'`, () =>
      yenIds.every((id) => journal.select('consumer:message:dead-lettered', (e) => e.event.key === id).length > 0),
    );

    const entries = broker.inspectDeadLetters(DLQ);
    const records = entries.map((entry) => viewOf(entry, chargesSent));
    say(`inspect '${DLQ}' (read without receiving): ${entries.length} dead letters`);
    for (const r of records)
      say(
        `  ${r.orderId}  ${r.reason}, ${r.attempts} attempts, ${r.errorClass}, from queue '${r.sourceQueue}', group ${r.consumerGroup}`,
      );
    const first = entries[0];
    if (first) for (const line of describeRecord(first)) say(`  ${line}`);

    fees.addRate('JPY', { percent: 3.6, fixedMinor: 40 });
    say('fix deployed: the fee schedule now has a JPY rate');
    say(`redrive '${DLQ}' -> '${payments.name}' at ${REDRIVE_RATE_PER_SECOND} messages/s`);
    const redriveStart = clock.now();
    gateway.onCharge = (c) => {
      if (yenIds.includes(c.orderId))
        event(
          c.worker,
          `charged ${c.orderId} ${formatMoney(c.amountMinor, c.currency)} after redrive  ${seconds(redriveStart, c.at)}`,
        );
    };
    const result = await broker.redrive({ from: DLQ, ratePerSecond: REDRIVE_RATE_PER_SECOND });
    await waitFor(`${yenIds.join(', ')} to be charged after the redrive`, () => yenIds.every((id) => charged(id)));
    say(
      `redrive result: moved ${result.moved}, failed ${result.failed.length}, remaining ${result.remaining} (${result.stopped})`,
    );
    const chargedAfterRedrive = yenIds.filter((id) => gateway.chargesFor(id) === 1).length;
    deadLetterSummary = {
      records,
      redrive: {
        moved: result.moved,
        failed: result.failed.length,
        remaining: result.remaining,
        stopped: result.stopped,
      },
      ratePerSecond: REDRIVE_RATE_PER_SECOND,
      chargedAfterRedrive,
    };
    const recordShape = (r: DeadLetterView) => `${r.reason}, ${r.attempts} attempts, ${r.errorClass}`;
    check(
      'dead letters: reason, attempts, error',
      `${yen.length}× retries-exhausted, ${maxAttempts} attempts, TypeError`,
      records.length === 0 ? 'none' : `${records.length}× ${unique(records.map(recordShape))}`,
      records.length === yen.length &&
        records.every(
          (r) => r.reason === 'retries-exhausted' && r.attempts === maxAttempts && r.errorClass === 'TypeError',
        ),
    );
    check(
      'dead letters: source, group, payload',
      `${yen.length}× ${payments.name}, payments, intact`,
      records.length === 0
        ? 'none'
        : `${records.length}× ${unique(records.map((r) => `${r.sourceQueue}, ${r.consumerGroup}, ${r.payloadIntact ? 'intact' : 'CHANGED'}`))}`,
      records.length === yen.length &&
        records.every(
          (r) =>
            r.sourceQueue === payments.name &&
            r.consumerGroup === 'payments' &&
            r.messageType === ChargeCard.name &&
            r.payloadIntact,
        ),
    );
    check(
      `redrive at ${REDRIVE_RATE_PER_SECOND}/s: moved, failed, left`,
      `${yen.length}, 0, 0`,
      `${result.moved}, ${result.failed.length}, ${result.remaining}`,
      result.moved === yen.length && result.failed.length === 0 && result.remaining === 0,
    );
    check(
      'redriven orders charged after the fix',
      `${yen.length} of ${yen.length}`,
      `${chargedAfterRedrive} of ${yen.length}`,
      chargedAfterRedrive === yen.length,
    );

    // ---------------------------------------------------------------------------------- 5
    section('5. An out-of-order event, rejected as stale');
    const tracked = firstOrders[0]!.orderId;
    const changes = [
      { orderId: tracked, status: 'paid', version: 1 },
      { orderId: tracked, status: 'shipped', version: 3 },
      { orderId: tracked, status: 'packed', version: 2 },
    ] as const;
    say(`OrderStatusChanged for ${tracked} arrives as v1 'paid', v3 'shipped', then v2 'packed' (late)`);
    narrateStatus = event;
    journal.onEntry = (e) => {
      if (e.name !== 'consumer:message:stale' || e.event.key !== tracked) return;
      const late = changes.find((c) => String(c.version) === e.event.version);
      const current = storefront.get(tracked);
      event(
        'storefront',
        `rejected v${e.event.version} '${late?.status}' for ${tracked}: stale, already at ` +
          `v${current?.version} '${current?.status}'`,
      );
    };
    for (const change of changes) await shop.publish(orderStatus, OrderStatusChanged, change);
    await waitFor(
      `storefront to settle the three status changes of ${tracked}`,
      () => groupSettled('storefront', tracked) >= 3,
    );
    const rejected = journal
      .select('consumer:message:stale', (e) => e.event.key === tracked)
      .map((e) => Number(e.event.version));
    const final = storefront.get(tracked);
    staleSummary = {
      orderId: tracked,
      applied: [...storefrontApplied],
      rejected,
      finalStatus: final?.status,
      finalVersion: final?.version,
    };
    say(`${tracked} shows '${final?.status}' (v${final?.version})`);
    check(
      'stale: applied; rejected; shown',
      'v1, v3; v2; shipped',
      `${staleSummary.applied.map((v) => `v${v}`).join(', ') || 'none'}; ${rejected.map((v) => `v${v}`).join(', ') || 'none'}; ${final?.status}`,
      staleSummary.applied.join() === '1,3' && rejected.join() === '2' && final?.status === 'shipped',
    );
  } finally {
    journal.onEntry = undefined;
    gateway.onCharge = undefined;
    narrateStatus = undefined;
    stopResults = await Promise.all(apps.map((app) => app.stop()));
  }

  // ------------------------------------------------------------------------------------- summary
  const chargesByWorker = Object.fromEntries(
    WORKERS.map((w) => [w, gateway.charges.filter((c) => c.worker === w).length]),
  );
  const doubleCharged = [...new Set(gateway.charges.map((c) => c.orderId))].filter((id) => gateway.chargesFor(id) > 1);
  const uncharged = published.filter((o) => gateway.chargesFor(o.orderId) === 0).map((o) => o.orderId);
  check(
    'each order charged exactly once',
    `${published.length} orders, ${published.length} charges`,
    `${published.length} orders, ${gateway.charges.length} charges` +
      (uncharged.length ? `; not charged: ${uncharged.join(' ')}` : '') +
      (doubleCharged.length ? `; twice: ${doubleCharged.join(' ')}` : ''),
    uncharged.length === 0 && doubleCharged.length === 0 && gateway.charges.length === published.length,
  );
  const appErrors = journal.errors.map((e) => `${e.app}: ${e.context}: ${messageOf(e.error)}`);
  check('app:error events', '0', String(appErrors.length), appErrors.length === 0);
  const shutdown = {
    drained: stopResults.every((r) => r.drained),
    abandoned: stopResults.reduce((n, r) => n + r.abandoned, 0),
  };
  check(
    `shutdown of ${apps.length} apps`,
    'drained, 0 abandoned',
    `${shutdown.drained ? 'drained' : 'NOT drained'}, ${shutdown.abandoned} abandoned`,
    shutdown.drained && shutdown.abandoned === 0,
  );
  for (const what of missing) check('waited for', what, 'timed out', false);

  const summary: DemoSummary = {
    ordersPlaced: published.length,
    fanOut: { billing: billingRuns.length, analytics: analyticsRuns.length },
    competing,
    retry: retrySummary ?? { orderId: 'o-2001', failedAttempts: [], succeededOnAttempt: undefined, charges: 0 },
    duplicate: duplicateSummary ?? {
      orderId: 'o-3001',
      messageId: '',
      published: 0,
      billing: { runs: 0, duplicates: 0 },
      analytics: { runs: 0, duplicates: 0 },
      charges: 0,
    },
    deadLetter: deadLetterSummary ?? {
      records: [],
      redrive: { moved: 0, failed: 0, remaining: 0, stopped: 'not run' },
      ratePerSecond: REDRIVE_RATE_PER_SECOND,
      chargedAfterRedrive: 0,
    },
    stale: staleSummary ?? {
      orderId: 'o-1001',
      applied: [],
      rejected: [],
      finalStatus: undefined,
      finalVersion: undefined,
    },
    chargesByWorker,
    doubleCharged,
    appErrors,
    shutdown,
  };
  const ok = checks.every((c) => c.ok);
  const elapsedMs = clock.now() - startedAt;

  section('FINAL SUMMARY');
  say(
    `orders placed ${summary.ordersPlaced}; billing ran ${summary.fanOut.billing}, analytics ran ${summary.fanOut.analytics}; ` +
      `cards charged by ${WORKERS.map((w) => `${w} ${chargesByWorker[w]}`).join(', ')}`,
  );
  say(
    `retried ${journal.select('consumer:message:retried').length}, duplicates absorbed ${journal.select('consumer:message:duplicate').length}, ` +
      `dead-lettered ${summary.deadLetter.records.length}, redriven ${summary.deadLetter.redrive.moved}, ` +
      `stale rejected ${journal.select('consumer:message:stale').length}`,
  );
  log('');
  for (const line of renderTable(
    ['check', 'expected', 'observed', 'result'],
    checks.map((c) => [c.name, c.expected, c.observed, c.ok ? 'ok' : 'FAILED']),
  ))
    log(`  ${line}`);
  log('');
  const failed = checks.filter((c) => !c.ok);
  if (ok) log(`  all ${checks.length} checks passed in ${(elapsedMs / 1000).toFixed(1)} s`);
  else {
    log(`  ${failed.length} of ${checks.length} checks FAILED:`);
    for (const c of failed) log(`    - ${c.name}: expected ${c.expected}, observed ${c.observed}`);
    for (const e of appErrors) log(`    - app:error ${e}`);
  }
  return { ok, checks, summary, elapsedMs };
}

function order(
  orderId: string,
  customerId: string,
  amountMinor: number,
  currency: Currency,
  cardToken = `tok_${customerId}`,
): Order {
  return { orderId, customerId, amountMinor, currency, cardToken };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function unique(values: readonly unknown[]): string {
  return [...new Set(values.map(String))].join(', ');
}

function viewOf(entry: DeadLetterEntry, sent: ReadonlyMap<string, unknown>): DeadLetterView {
  const { record } = entry;
  const orderId = record.key;
  let payloadIntact = false;
  try {
    const stored = JSON.parse(new TextDecoder().decode(entry.body)) as unknown;
    payloadIntact = orderId !== undefined && JSON.stringify(stored) === JSON.stringify(sent.get(orderId));
  } catch {
    payloadIntact = false;
  }
  return {
    orderId,
    reason: record.reason,
    attempts: record.attempts,
    errorClass: record.error?.className,
    errorMessage: record.error?.message,
    sourceQueue: record.source?.kind === 'queue' ? record.source.queue : undefined,
    consumerGroup: record.consumerGroup,
    messageType: record.messageType,
    payloadIntact,
  };
}

/** The first dead letter, field by field, as an operator would read it. */
function describeRecord(entry: DeadLetterEntry): string[] {
  const { record } = entry;
  const source =
    record.source?.kind === 'queue'
      ? `queue '${record.source.queue}', message ${record.source.messageId.slice(0, 8)}…, receive count ${record.source.receiveCount}`
      : String(record.source?.kind);
  const topFrame = record.error?.stack
    ?.split('\n')
    .find((l) => l.trim().startsWith('at '))
    ?.trim()
    .replace(/\(.*[/\\]([^/\\]+)\)$/, '($1)');
  const time = (ms: number | undefined) => (ms === undefined ? '?' : new Date(ms).toISOString().slice(11, 23));
  const gap =
    record.firstFailureAt !== undefined && record.lastFailureAt !== undefined
      ? ` (${record.lastFailureAt - record.firstFailureAt} ms apart)`
      : '';
  return [
    `record of ${record.key}, from its sy-dlq-* headers:`,
    `  reason      ${record.reason}`,
    `  attempts    ${record.attempts}`,
    `  error       ${record.error?.className}: ${record.error?.message}`,
    `  thrown      ${topFrame ?? '(no stack)'}`,
    `  source      ${source}`,
    `  consumer    group '${record.consumerGroup}', message ${record.messageType} ${record.messageId}`,
    `  failures    first ${time(record.firstFailureAt)}, last ${time(record.lastFailureAt)}${gap}`,
    `  payload     ${new TextDecoder().decode(entry.body)} (original ${entry.body.byteLength} bytes)`,
  ];
}
