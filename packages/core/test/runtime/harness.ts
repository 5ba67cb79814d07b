// Shared fixtures for the runtime tests: contracts, a fake transport and clock, an app, and helpers
// that encode messages and wait for the app's events.
import { z } from 'zod';
import { defineCommand, defineEvent, defineQueue, defineTopic } from '../../src/contracts.js';
import type { SwitchyardEventName, SwitchyardEvents } from '../../src/events.js';
import type { TransportCapabilities } from '../../src/ports/transport.js';
import { type App, type AppOptions, createApp } from '../../src/runtime/app.js';
import { encodeMessage } from '../../src/wire.js';
import { FakeClock } from '../support/fake-clock.js';
import { type DeliverOptions, type FakeDelivery, FakeTransport } from './fake-transport.js';

export const OrderPlaced = defineEvent({
  name: 'OrderPlaced',
  schema: z.object({ orderId: z.string(), total: z.number(), version: z.number().int().optional() }),
  key: (p) => p.orderId,
  version: (p) => p.version ?? 0,
});
export const OrderShipped = defineEvent({
  name: 'OrderShipped',
  schema: z.object({ orderId: z.string() }),
  key: (p) => p.orderId,
});
export const OrderAudited = defineEvent({
  name: 'OrderAudited',
  schema: z.object({ orderId: z.string() }),
  key: (p) => p.orderId,
});
export const ChargeCard = defineCommand({
  name: 'ChargeCard',
  schema: z.object({ orderId: z.string(), cents: z.number().int() }),
  key: (p) => p.orderId,
});

export const orders = defineTopic({ name: 'orders', events: [OrderPlaced, OrderShipped, OrderAudited] });
export const payments = defineQueue({ name: 'payments', commands: [ChargeCard] });

export interface Harness {
  readonly app: App;
  readonly transport: FakeTransport;
  readonly clock: FakeClock;
  /** Every event the app emitted, in order. */
  readonly seen: Array<{ name: SwitchyardEventName; payload: unknown }>;
}

export function harness(
  capabilities: Partial<TransportCapabilities> = {},
  options: Partial<Omit<AppOptions, 'transport'>> = {},
): Harness {
  const transport = new FakeTransport(capabilities);
  const clock = (options.clock as FakeClock | undefined) ?? new FakeClock();
  const app = createApp({ transport, clock, random: () => 0.5, ...options });
  const seen: Harness['seen'] = [];
  const names: SwitchyardEventName[] = [
    'consumer:message:acked',
    'consumer:message:retried',
    'consumer:message:dead-lettered',
    'consumer:message:duplicate',
    'consumer:message:stale',
    'consumer:message:released',
    'circuit:state-changed',
    'publisher:message:sent',
    'app:started',
    'app:stopped',
    'app:error',
  ];
  for (const name of names) app.events.on(name, (payload) => seen.push({ name, payload }));
  return { app, transport, clock, seen };
}

/** Resolves with the next `name` event matching `test`. */
export function nextEvent<K extends SwitchyardEventName>(
  app: App,
  name: K,
  test: (payload: SwitchyardEvents[K]) => boolean = () => true,
): Promise<SwitchyardEvents[K]> {
  return new Promise((resolve) => {
    const off = app.events.on(name, (payload) => {
      if (test(payload)) {
        off();
        resolve(payload);
      }
    });
  });
}

const clockForEncoding = new FakeClock();

/** Encodes a payload as a producer would and delivers it through the transport's only subscription. */
export async function deliver(
  transport: FakeTransport,
  contract: Parameters<typeof encodeMessage>[0],
  payload: unknown,
  options: DeliverOptions & { headers?: Record<string, string>; id?: string } = {},
): Promise<FakeDelivery> {
  const message = await encodeMessage(contract, payload as never, {
    clock: clockForEncoding,
    ...(options.id === undefined ? {} : { id: options.id }),
  });
  // Extra headers go on as received, so a test can set any sy-* header a producer might.
  const headers = { ...message.headers, ...options.headers };
  const d = transport
    .subscription()
    .deliver(
      { body: message.body, headers, key: message.key },
      { ...options, orderingKey: options.orderingKey ?? message.key ?? 'k' },
    );
  await d.accepted;
  return d;
}

export const text = (bytes: Uint8Array | null) => (bytes === null ? null : new TextDecoder().decode(bytes));
export const bytes = (s: string) => new TextEncoder().encode(s);
