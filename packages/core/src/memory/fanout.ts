// Pub/sub fan-out as SNS does it to SQS subscriptions: a publish copies the message to every
// subscribed queue whose filter accepts it. Without raw delivery the queue receives the SNS
// notification envelope (JSON with `Message` and `MessageAttributes`) instead of the bare body, as a
// real SNS->SQS subscription does; `readFanoutEnvelope` undoes it.

import { SwitchyardError } from '../errors.js';

export type FanoutFilter = (headers: Readonly<Record<string, string>>, body: Uint8Array) => boolean;

export interface FanoutSubscriptionOptions {
  /** Deliver only what this accepts (stands in for an SNS filter policy). */
  readonly filter?: FanoutFilter;
  /** Deliver the bare body and headers (SNS RawMessageDelivery). Default true. */
  readonly raw?: boolean;
}

export interface FanoutSubscription {
  readonly id: string;
  readonly fanout: string;
  readonly queue: string;
  readonly filter: FanoutFilter | undefined;
  readonly raw: boolean;
}

export class Fanout {
  readonly name: string;
  readonly #subscriptions = new Map<string, FanoutSubscription>();
  #next = 0;

  constructor(name: string) {
    this.name = name;
  }

  subscribe(queue: string, options: FanoutSubscriptionOptions): FanoutSubscription {
    const subscription: FanoutSubscription = {
      id: `${this.name}:${++this.#next}`,
      fanout: this.name,
      queue,
      filter: options.filter,
      raw: options.raw ?? true,
    };
    this.#subscriptions.set(subscription.id, subscription);
    return subscription;
  }

  unsubscribe(id: string): boolean {
    return this.#subscriptions.delete(id);
  }

  subscriptions(): readonly FanoutSubscription[] {
    return [...this.#subscriptions.values()];
  }

  /** The subscriptions a message goes to. A filter that throws fails the whole publish, before any copy. */
  matching(headers: Readonly<Record<string, string>>, body: Uint8Array): FanoutSubscription[] {
    return this.subscriptions().filter((s) => {
      if (!s.filter) return true;
      try {
        return s.filter(headers, body);
      } catch (error) {
        throw new SwitchyardError('SWITCHYARD_PUBLISH', `filter of subscription ${s.id} (queue '${s.queue}') threw`, {
          cause: error,
          retryable: false,
          details: { fanout: this.name, queue: s.queue },
        });
      }
    });
  }
}

export interface FanoutEnvelope {
  readonly Type: 'Notification';
  readonly MessageId: string;
  readonly TopicArn: string;
  readonly Message: string;
  readonly Timestamp: string;
  readonly MessageAttributes: Readonly<Record<string, { readonly Type: 'String'; readonly Value: string }>>;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** The SNS-shaped notification a non-raw subscription delivers. SNS carries text only. */
export function writeFanoutEnvelope(input: {
  readonly fanout: string;
  readonly messageId: string;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
}): Uint8Array {
  let message: string;
  try {
    message = strictUtf8.decode(input.body);
  } catch (error) {
    throw new SwitchyardError(
      'SWITCHYARD_PUBLISH',
      `fan-out '${input.fanout}' without raw delivery carries text only (as SNS), and the body is not UTF-8`,
      { cause: error, retryable: false, details: { fanout: input.fanout } },
    );
  }
  const envelope: FanoutEnvelope = {
    Type: 'Notification',
    MessageId: input.messageId,
    TopicArn: fanoutArn(input.fanout),
    Message: message,
    Timestamp: new Date(input.timestamp).toISOString(),
    MessageAttributes: Object.fromEntries(
      Object.entries(input.headers).map(([k, v]) => [k, { Type: 'String' as const, Value: v }]),
    ),
  };
  return encoder.encode(JSON.stringify(envelope));
}

/** Body and headers back out of a notification envelope. */
export function readFanoutEnvelope(body: Uint8Array): {
  readonly body: Uint8Array;
  readonly headers: Record<string, string>;
  readonly envelope: FanoutEnvelope;
} {
  let envelope: FanoutEnvelope;
  try {
    envelope = JSON.parse(strictUtf8.decode(body)) as FanoutEnvelope;
  } catch (error) {
    throw new SwitchyardError('SWITCHYARD_DECODE', 'not a fan-out notification envelope', {
      cause: error,
      retryable: false,
    });
  }
  if (envelope?.Type !== 'Notification' || typeof envelope.Message !== 'string')
    throw new SwitchyardError('SWITCHYARD_DECODE', 'not a fan-out notification envelope', { retryable: false });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(envelope.MessageAttributes ?? {})) headers[k.toLowerCase()] = String(v.Value);
  return { body: encoder.encode(envelope.Message), headers, envelope };
}

export function fanoutArn(name: string): string {
  return `arn:aws:sns:memory:000000000000:${name}`;
}
