// Fan-out: one `orders` topic, three services, each consuming its own SQS queue subscribed to the
// topic with its own filter policy.
//
//   audit    every event                                   (no filter)
//   billing  OrderPlaced only                              (filter on the sy-type attribute)
//   fraud    orders of 100 or more, whatever the event     (filter on the message body)
//
// Run against AWS or an emulator (the SDK reads AWS_ENDPOINT_URL_SNS / AWS_ENDPOINT_URL_SQS):
//   npx tsx packages/sns/examples/fan-out.ts

import { pathToFileURL } from 'node:url';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createApp, defineEvent, defineHandler, defineTopic } from '@switchyard/core';
import { createQueueWithDeadLetter, SqsTransport } from '@switchyard/sqs';
import { z } from 'zod';
import { ensureTopic, SnsTransport, subscribeQueue } from '../src/index.js';

export const OrderPlaced = defineEvent({
  name: 'OrderPlaced',
  schema: z.object({ orderId: z.string(), amount: z.number() }),
  key: (o) => o.orderId,
});
export const OrderShipped = defineEvent({
  name: 'OrderShipped',
  schema: z.object({ orderId: z.string(), amount: z.number() }),
  key: (o) => o.orderId,
});

export interface FanOutResult {
  /** Order ids each service handled, by service. */
  readonly handled: Readonly<Record<'audit' | 'billing' | 'fraud', string[]>>;
  /** Resources created, for cleanup. */
  readonly topicArn: string;
  readonly queueUrls: readonly string[];
}

export async function runFanOut(sns: SNSClient, sqs: SQSClient, prefix: string): Promise<FanOutResult> {
  // Provisioning (idempotent: safe to run on every deploy).
  const { topicArn } = await ensureTopic(sns, { name: `${prefix}-orders` });
  const services = {
    audit: { events: [OrderPlaced, OrderShipped], filter: {} },
    billing: { events: [OrderPlaced], filter: { filterPolicy: { 'sy-type': ['OrderPlaced'] } } },
    fraud: {
      events: [OrderPlaced, OrderShipped],
      filter: { filterPolicy: { amount: [{ numeric: ['>=', 100] }] }, filterPolicyScope: 'MessageBody' as const },
    },
  };
  const queueUrls: string[] = [];
  const handled: Record<'audit' | 'billing' | 'fraud', string[]> = { audit: [], billing: [], fraud: [] };
  const apps = [];
  for (const [service, spec] of Object.entries(services) as [keyof typeof services, (typeof services)['audit']][]) {
    const name = `${prefix}-${service}`;
    const { queueUrl, dlqUrl } = await createQueueWithDeadLetter(sqs, {
      name,
      visibilityTimeoutS: 30,
      maxReceiveCount: 5,
    });
    queueUrls.push(queueUrl, dlqUrl);
    await subscribeQueue(sns, sqs, { topicArn, queueUrl, raw: true, ...spec.filter });

    // Each service: its own app on its own queue (a channel named after the queue, listing the events it takes).
    const app = createApp({ transport: new SqsTransport({ client: sqs }) });
    app.consume(defineTopic({ name, events: spec.events }), {
      group: service,
      deadLetterDestination: `${name}-dlq`,
      transportOptions: { waitTimeSeconds: 1 },
      handlers: spec.events.map((event) =>
        // One handler per event type the service takes; both carry an orderId.
        defineHandler(event as typeof OrderPlaced, async (message) => {
          handled[service].push(message.payload.orderId);
        }),
      ),
    });
    apps.push(app);
  }

  // The publishing service.
  const orders = defineTopic({ name: `${prefix}-orders`, events: [OrderPlaced, OrderShipped] });
  const shop = createApp({ transport: new SnsTransport({ client: sns }) });
  await Promise.all([shop, ...apps].map((app) => app.start()));
  // Two events in one SNS PublishBatch call, then one on its own.
  await shop.publishBatch(orders, OrderPlaced, [
    { orderId: 'o-1', amount: 50 },
    { orderId: 'o-2', amount: 500 },
  ]);
  await shop.publish(orders, OrderShipped, { orderId: 'o-2', amount: 500 });

  const deadline = Date.now() + 20_000;
  while (handled.audit.length < 3 || handled.billing.length < 2 || handled.fraud.length < 2) {
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await Promise.all([shop, ...apps].map((app) => app.stop({ deadlineMs: 5_000 })));
  return { handled, topicArn, queueUrls };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await runFanOut(new SNSClient({}), new SQSClient({}), `fan-out-${Date.now()}`);
  console.log(JSON.stringify(result.handled, null, 2));
}
