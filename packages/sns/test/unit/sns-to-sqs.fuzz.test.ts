// SNS -> SQS consumption under arbitrary deliveries: an SnsTransport consuming through an
// SqsTransport on a hand-written stub of the SQS client, with a real app. Messages arrive either raw
// (RawMessageDelivery: the attributes are SQS attributes) or wrapped in an SNS notification whose
// fields may be missing, of the wrong type or of another SNS Type, whose attributes may lack a Type
// or Value or carry an unreadable `sy-headers`, mixed with valid ones. For every message: handled
// only if valid, otherwise one dead-letter message with its reason and the bytes the consumer got
// (the unwrapped Message, or the whole body when it could not be unwrapped), then the original
// deleted; no app error, no unhandled rejection; a valid message afterwards is handled.

import { SNSClient } from '@aws-sdk/client-sns';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SendMessageCommandInput,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  type App,
  createApp,
  defineEvent,
  defineHandler,
  defineTopic,
  type Logger,
  NonRetryableError,
  readDeadLetterHeaders,
  WireHeaders,
} from '@switchyard/core';
import {
  BODY_ENCODING_HEADER,
  decodeAttributes,
  decodeBody,
  encodeBody,
  encodeHeaders,
  PACKED_HEADERS_ATTRIBUTE,
  SNS_MESSAGE_ID_HEADER,
  SNS_TOPIC_ARN_HEADER,
  SqsTransport,
} from '@switchyard/sqs';
import { flushPromises, ManualClock } from '@switchyard/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SnsTransport } from '../../src/index.js';

const Placed = defineEvent({
  name: 'Placed',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  key: (p) => p.orderId,
});
const Shipped = defineEvent({
  name: 'Shipped',
  schema: z.object({ orderId: z.string() }),
  key: (p) => p.orderId,
});
// The topic's events are consumed from the queue subscribed to it (named like the topic here).
const orders = defineTopic({ name: 'orders', events: [Placed, Shipped] });
const schemas = new Map<string, z.ZodType>([
  ['Placed', Placed.schema as z.ZodType],
  ['Shipped', Shipped.schema as z.ZodType],
]);
const TOPIC_ARN = 'arn:aws:sns:us-east-1:000000000000:orders';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

// ------------------------------------------------------------------------------------------------
// A stub SQS: the subscribed queue and its dead-letter queue, in memory.

const BASE = 'https://sqs.us-east-1.amazonaws.com/000000000000/';

class StubSqs {
  readonly deleted: string[] = [];
  readonly visibility: string[] = [];
  readonly deadLetters: SendMessageCommandInput[] = [];
  readonly #inbox: Message[] = [];
  #wake: (() => void) | undefined;

  push(messages: Message[]): void {
    this.#inbox.push(...messages);
    this.#wake?.();
  }

  async send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> {
    if (command instanceof GetQueueUrlCommand) {
      // What createQueueWithDeadLetter provisions: the queue and `<queue>-dlq`.
      if (command.input.QueueName === 'orders' || command.input.QueueName === 'orders-dlq')
        return { QueueUrl: BASE + command.input.QueueName };
      throw Object.assign(new Error(`no queue ${command.input.QueueName}`), { name: 'QueueDoesNotExist' });
    }
    if (command instanceof GetQueueAttributesCommand) return { Attributes: { VisibilityTimeout: '30' } };
    if (command instanceof ReceiveMessageCommand) {
      while (this.#inbox.length === 0) {
        const signal = options?.abortSignal;
        if (signal?.aborted) throw signal.reason;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          signal?.addEventListener('abort', () => resolve(), { once: true });
        });
        this.#wake = undefined;
      }
      return { Messages: this.#inbox.splice(0, command.input.MaxNumberOfMessages ?? 1) };
    }
    if (command instanceof DeleteMessageBatchCommand) {
      for (const e of command.input.Entries ?? []) this.deleted.push(e.ReceiptHandle!);
      return { Failed: [] };
    }
    if (command instanceof ChangeMessageVisibilityBatchCommand) {
      for (const e of command.input.Entries ?? []) this.visibility.push(e.ReceiptHandle!);
      return { Failed: [] };
    }
    if (command instanceof SendMessageCommand) {
      expect(command.input.QueueUrl).toBe(`${BASE}orders-dlq`);
      this.deadLetters.push(command.input);
      return { MessageId: `dlq-${this.deadLetters.length}` };
    }
    throw new Error(`the stub does not know ${(command as object).constructor.name}`);
  }
}

// ------------------------------------------------------------------------------------------------
// Generators

// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters SQS refuses are the point
const REFUSED = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
/** No lone surrogates (they do not survive UTF-8, and SQS refuses them). */
const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;
const anyText = fc
  .oneof(fc.string({ maxLength: 24 }), fc.string({ unit: 'binary', maxLength: 24 }))
  .filter((s) => wellFormed(s) && !REFUSED.test(s));
const orderId = fc.oneof({ weight: 4, arbitrary: anyText }, { weight: 1, arbitrary: fc.constant('fail-1') });
const validMessage = fc.oneof(
  fc.record({ orderId, total: fc.integer() }).map((payload) => ({ type: 'Placed', payload })),
  fc.record({ orderId }).map((payload) => ({ type: 'Shipped', payload })),
);

/** A header as SNS carries it inside a notification: `{ Type, Value }`, Binary values base64. */
type SnsAttribute = { Type?: unknown; Value?: unknown } | null | string;

const garbledSnsAttribute: fc.Arbitrary<[string, SnsAttribute]> = fc.oneof(
  fc.tuple(
    fc.constantFrom(WireHeaders.type, 'SY-TYPE'),
    fc.oneof(fc.constantFrom('Placed', 'Shipped', 'Nope'), anyText).map((Value) => ({ Type: 'String', Value })),
  ),
  fc.tuple(
    fc.constantFrom(WireHeaders.timestamp, WireHeaders.firstFailureAt, WireHeaders.schemaVersion),
    fc.constantFrom('8640000000000001', '1e400', 'NaN', '-1', 'x').map((Value) => ({ Type: 'Number', Value })),
  ),
  fc.tuple(
    fc.constantFrom(WireHeaders.contentType, WireHeaders.traceparent, WireHeaders.decodeError, 'x-tenant'),
    anyText.map((Value) => ({ Type: 'String', Value })),
  ),
  fc.tuple(
    fc.constant(BODY_ENCODING_HEADER),
    fc.constantFrom('base64', 'empty', 'gzip').map((Value) => ({ Type: 'String', Value })),
  ),
  fc.tuple(
    fc.constant(PACKED_HEADERS_ATTRIBUTE),
    fc
      .oneof(
        fc.dictionary(fc.constantFrom('sy-type', 'x-a', 'constructor'), anyText).map((d) => JSON.stringify(d)),
        fc.constantFrom('not json', '[]', '{"a":1}'),
      )
      .map((Value) => ({ Type: 'String', Value })),
  ),
  fc.tuple(
    fc.constantFrom('bin', 'x-b'),
    fc.uint8Array({ maxLength: 8 }).map((b) => ({ Type: 'Binary', Value: Buffer.from(b).toString('base64') })),
  ),
  // Not what SNS writes: no Value, a non-string Type, no object at all.
  fc.tuple(
    fc.constantFrom('x-c', WireHeaders.id),
    fc.constantFrom<SnsAttribute>({ Type: 'String' }, { Type: 7, Value: 'v' }, { Value: 'v' }, null, 'flat'),
  ),
);

type EnvelopeMutation =
  | { readonly op: 'field'; readonly name: string; readonly value: unknown }
  | { readonly op: 'drop'; readonly name: string }
  | { readonly op: 'attribute'; readonly name: string; readonly value: SnsAttribute }
  | { readonly op: 'attributes'; readonly value: unknown }
  | { readonly op: 'message'; readonly text: string }
  | { readonly op: 'binary'; readonly bytes: Uint8Array };

const notJsonObjects = fc.constantFrom<unknown>(null, 7, 'x', [], {}, true);
const envelopeMutation: fc.Arbitrary<EnvelopeMutation> = fc.oneof(
  { weight: 3, arbitrary: garbledSnsAttribute.map(([name, value]) => ({ op: 'attribute' as const, name, value })) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.tuple(
          fc.constant('Type'),
          fc.oneof(fc.constantFrom('SubscriptionConfirmation', 'UnsubscribeConfirmation', 'Other'), notJsonObjects),
        ),
        fc.tuple(fc.constantFrom('TopicArn', 'Message', 'MessageId', 'Subject'), notJsonObjects),
        fc.tuple(fc.constant('Timestamp'), fc.oneof(anyText, notJsonObjects)),
      )
      .map(([name, value]) => ({ op: 'field' as const, name, value })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('Type', 'TopicArn', 'Message', 'MessageId', 'MessageAttributes', 'Timestamp')
      .map((name) => ({ op: 'drop' as const, name })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(null, [], 'x', 7).map((value) => ({ op: 'attributes' as const, value })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(anyText, fc.json({ maxDepth: 2 }), fc.constantFrom('{"orderId": oops', 'not base64!'))
      .map((text) => ({ op: 'message' as const, text })),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ minLength: 1, maxLength: 32 }).map((bytes) => ({ op: 'binary' as const, bytes })),
  },
);

/** Stands for the (possibly mutated) message text until the notification is assembled. */
const MESSAGE = Symbol('message');

interface SnsCase {
  readonly body: string;
  /** SQS-level attributes: a raw delivery's, or (rarely) set besides a notification. */
  readonly attributes: Record<string, MessageAttributeValue>;
  /** The notification, when the message was wrapped (before JSON.stringify). */
  readonly envelope: Record<string, unknown> | undefined;
}

const snsCase: fc.Arbitrary<SnsCase> = fc
  .record({
    valid: validMessage,
    id: fc.uuid(),
    raw: fc.boolean(),
    mutations: fc.oneof(
      { weight: 2, arbitrary: fc.constant([] as EnvelopeMutation[]) },
      { weight: 5, arbitrary: fc.array(envelopeMutation, { minLength: 1, maxLength: 3 }) },
    ),
    padding: fc.constantFrom('', '  ', '\n'),
  })
  .map(({ valid, id, raw, mutations, padding }) => {
    let message = JSON.stringify(valid.payload);
    const attributes: Record<string, SnsAttribute> = {
      [WireHeaders.id]: { Type: 'String', Value: id },
      [WireHeaders.type]: { Type: 'String', Value: valid.type },
      [WireHeaders.contentType]: { Type: 'String', Value: 'application/json' },
    };
    const envelope: Record<string, unknown> = {
      Type: 'Notification',
      MessageId: `sns-${id}`,
      TopicArn: TOPIC_ARN,
      Message: MESSAGE,
      Timestamp: '2026-01-02T03:04:05.678Z',
      SignatureVersion: '1',
      MessageAttributes: attributes,
    };
    for (const m of mutations) {
      if (m.op === 'attribute') attributes[m.name] = m.value;
      else if (m.op === 'field') envelope[m.name] = m.value;
      else if (m.op === 'drop') delete envelope[m.name];
      else if (m.op === 'attributes') envelope.MessageAttributes = m.value;
      else if (m.op === 'message') message = m.text;
      else {
        const encoded = encodeBody(m.bytes);
        message = encoded.text;
        for (const [name, value] of Object.entries(encoded.headers))
          attributes[name] = { Type: 'String', Value: value };
      }
    }
    if (envelope.Message === MESSAGE) envelope.Message = message;
    if (raw) {
      // RawMessageDelivery: the message itself, its well-formed attributes as SQS attributes.
      const sqsAttributes: Record<string, MessageAttributeValue> = {};
      for (const [name, a] of Object.entries(attributes))
        if (a && typeof a === 'object' && typeof a.Value === 'string' && typeof a.Type === 'string')
          sqsAttributes[name] =
            a.Type === 'Binary'
              ? { DataType: 'Binary', BinaryValue: Buffer.from(a.Value, 'base64') }
              : { DataType: a.Type, StringValue: a.Value };
      // SQS refuses an empty body: it never arrives.
      return { body: message === '' ? ' ' : message, attributes: sqsAttributes, envelope: undefined };
    }
    const text = JSON.stringify(envelope);
    // The oracle reads the notification as the consumer does: parsed from its JSON.
    return { body: padding + text, attributes: {}, envelope: JSON.parse(text) as Record<string, unknown> };
  });

// ------------------------------------------------------------------------------------------------
// The expected outcome, from the documented rules: sns-envelope.ts, message-attributes.ts,
// body-codec.ts, wire.ts.

type Expected = 'handled' | 'decode' | 'unknown-type' | 'validation' | 'non-retryable';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Merges flat string headers the way SNS/SQS attributes are read: names lower-cased, sy-headers unpacked. */
function unpack(flat: ReadonlyArray<[string, string]>): { headers: Map<string, string>; problem: boolean } {
  const headers = new Map<string, string>();
  let packed: string | undefined;
  for (const [name, value] of flat)
    if (name.toLowerCase() === PACKED_HEADERS_ATTRIBUTE) packed = value;
    else headers.set(name.toLowerCase(), value);
  if (packed === undefined) return { headers, problem: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(packed);
  } catch {
    return { headers, problem: true };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { headers, problem: true };
  if (Object.values(parsed).some((v) => typeof v !== 'string')) return { headers, problem: true };
  for (const [name, value] of Object.entries(parsed))
    if (!headers.has(name.toLowerCase())) headers.set(name.toLowerCase(), value as string);
  return { headers, problem: false };
}

/** What the consumer gets: the body's text, its headers, and whether anything could not be read. */
function received(c: SnsCase): { text: string; headers: Map<string, string>; problem: boolean } {
  const sqsLevel = unpack(
    Object.entries(c.attributes).map(([n, a]) => [
      n,
      a.StringValue ?? Buffer.from(a.BinaryValue ?? new Uint8Array()).toString('base64'),
    ]),
  );
  const e = c.envelope;
  if (!e || typeof e.TopicArn !== 'string' || typeof e.Type !== 'string')
    return { text: c.body, headers: sqsLevel.headers, problem: sqsLevel.problem };
  const attrs = e.MessageAttributes;
  const flat: Array<[string, string]> = [];
  let malformed =
    e.Type !== 'Notification' ||
    typeof e.Message !== 'string' ||
    typeof e.MessageId !== 'string' ||
    (attrs !== undefined && attrs !== null && (typeof attrs !== 'object' || Array.isArray(attrs)));
  if (!malformed && attrs)
    for (const [name, a] of Object.entries(attrs as Record<string, SnsAttribute>)) {
      const value = a && typeof a === 'object' ? a.Value : undefined;
      const type = a && typeof a === 'object' ? a.Type : undefined;
      if (typeof value !== 'string' || typeof type !== 'string') malformed = true;
      else flat.push([name, value]);
    }
  const inner = malformed ? undefined : unpack(flat);
  if (malformed || !inner || inner.problem) return { text: c.body, headers: sqsLevel.headers, problem: true };
  const headers = new Map([...sqsLevel.headers, ...inner.headers]);
  headers.set(SNS_TOPIC_ARN_HEADER, e.TopicArn);
  headers.set(SNS_MESSAGE_ID_HEADER, e.MessageId as string);
  return { text: e.Message as string, headers, problem: sqsLevel.problem };
}

function bytesOf(text: string, headers: Map<string, string>): { bytes: Buffer; problem: boolean } {
  const encoding = headers.get(BODY_ENCODING_HEADER);
  if (encoding === undefined) return { bytes: Buffer.from(text, 'utf8'), problem: false };
  if (encoding === 'base64' && /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0)
    return { bytes: Buffer.from(text, 'base64'), problem: false };
  if (encoding === 'empty' && text === ' ') return { bytes: Buffer.alloc(0), problem: false };
  return { bytes: Buffer.from(text, 'utf8'), problem: true };
}

function expected(c: SnsCase): Expected {
  const got = received(c);
  const body = bytesOf(got.text, got.headers);
  if (got.problem || body.problem || got.headers.has(WireHeaders.decodeError)) return 'decode';
  const contentType = got.headers.get(WireHeaders.contentType);
  if (contentType !== undefined && !/json/i.test(contentType)) return 'decode';
  let payload: unknown;
  try {
    payload = JSON.parse(strictUtf8.decode(body.bytes));
  } catch {
    return 'decode';
  }
  const type = got.headers.get(WireHeaders.type);
  const schema = type === undefined ? undefined : schemas.get(type);
  if (!schema) return 'unknown-type';
  const parsed = schema.safeParse(payload);
  if (!parsed.success) return 'validation';
  return (parsed.data as { orderId: string }).orderId.startsWith('fail') ? 'non-retryable' : 'handled';
}

// ------------------------------------------------------------------------------------------------

interface Run {
  readonly app: App;
  readonly clock: ManualClock;
  readonly sqs: StubSqs;
  readonly handled: string[];
  readonly deadLetterLogs: Array<Record<string, unknown>>;
  readonly appErrors: string[];
}

const snsClient = new SNSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });

/** `null`: core's default dead-letter destination. */
async function startApp(): Promise<Run> {
  const sqs = new StubSqs();
  const consumeWith = new SqsTransport({
    client: sqs as unknown as SQSClient,
    abortPollsOnStop: true,
    depthIntervalMs: 0,
    heartbeatIntervalMs: false,
  });
  const transport = new SnsTransport({ client: snsClient, consumeWith });
  const deadLetterLogs: Array<Record<string, unknown>> = [];
  const noop = () => {};
  const logger: Logger = {
    debug: noop,
    info: noop,
    error: noop,
    warn: (obj, msg) => {
      if (msg?.startsWith('dead-lettering')) deadLetterLogs.push(obj as Record<string, unknown>);
    },
  };
  // A manual clock: a failed settlement is retried only if time moves, so it shows as an app:error.
  const clock = new ManualClock();
  const app = createApp({ transport, clock, logger });
  const handled: string[] = [];
  const handle = (m: { id: string; payload: { orderId: string } }) => {
    if (m.payload.orderId.startsWith('fail')) throw new NonRetryableError('refused by the handler');
    handled.push(m.id);
  };
  app.consume(orders, {
    group: 'fuzz',
    retryBudget: false,
    handlers: [defineHandler(Placed, handle), defineHandler(Shipped, handle)],
  });
  const appErrors: string[] = [];
  app.events.on('app:error', ({ error, context }) =>
    appErrors.push(`${context}: ${String(error)} (cause: ${String((error as { cause?: unknown }).cause)})`),
  );
  await app.start();
  return { app, clock, sqs, handled, deadLetterLogs, appErrors };
}

/** Stops the app; the shutdown deadline runs on the manual clock, so time is moved until it has stopped. */
async function stopApp(run: Run): Promise<void> {
  let stopped = false;
  const stopping = run.app.stop({ deadlineMs: 0 }).finally(() => {
    stopped = true;
  });
  for (let turn = 0; !stopped && turn < 100; turn++) {
    await run.clock.advance(1_000);
    await flushPromises();
  }
  await stopping;
}

let sequence = 0;
function toMessages(cases: readonly SnsCase[]): Message[] {
  return cases.map((c) => {
    const n = ++sequence;
    return {
      MessageId: `m-${n}`,
      ReceiptHandle: `rh-${n}`,
      Body: c.body,
      MessageAttributes: c.attributes,
      Attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000' },
    } as Message;
  });
}

/** Lets timers and promises run until `done` (each turn a macrotask), at most 5 s of wall time. */
async function waitFor(done: () => boolean, describe: () => string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function consume(run: Run, messages: Message[]): Promise<void> {
  const before = run.sqs.deleted.length;
  run.sqs.push(messages);
  await waitFor(
    () => run.appErrors.length > 0 || unhandled.length > 0 || run.sqs.deleted.length - before >= messages.length,
    () => `deleted ${run.sqs.deleted.length - before} of ${messages.length}`,
  );
  // A receive loop that threw (a decoder, say) stops receiving for good: it shows as an unhandled rejection.
  expect(unhandled).toEqual([]);
  expect(run.appErrors).toEqual([]);
}

function checkEveryMessage(run: Run, cases: readonly SnsCase[], messages: readonly Message[]): void {
  const byMessageId = new Map<string, Array<{ headers: Record<string, string>; bytes: Uint8Array }>>();
  for (const sent of run.sqs.deadLetters) {
    const { headers } = decodeAttributes(sent.MessageAttributes as never);
    // The headers as written: reading the body spends an encoding header that applies.
    const written = { ...headers };
    const { bytes } = decodeBody(sent.MessageBody!, headers);
    const id = headers['sy-dlq-source-message-id']!;
    byMessageId.set(id, [...(byMessageId.get(id) ?? []), { headers: written, bytes }]);
  }
  let wantHandled = 0;
  cases.forEach((c, i) => {
    const message = messages[i]!;
    const want = expected(c);
    expect(run.sqs.deleted.filter((h) => h === message.ReceiptHandle)).toHaveLength(1);
    expect(run.sqs.visibility.filter((h) => h === message.ReceiptHandle)).toEqual([]);
    const dead = byMessageId.get(message.MessageId!) ?? [];
    if (want === 'handled') {
      wantHandled++;
      expect(dead).toEqual([]);
      return;
    }
    expect(dead).toHaveLength(1);
    const { headers, bytes } = dead[0]!;
    const record = readDeadLetterHeaders(headers);
    expect(record.reason).toBe(want);
    expect(record.error?.message.trim()).not.toBe('');
    expect(record.source).toMatchObject({ kind: 'queue', queue: 'orders', messageId: message.MessageId });
    // The bytes the consumer got, byte for byte: the unwrapped Message, or the body as it came.
    const got = received(c);
    const { bytes: original, problem } = bytesOf(got.text, got.headers);
    // An empty Message (a notification SNS itself would not send) too: SQS refuses empty bodies,
    // so its dead letter is ' ' marked `sy-body-encoding: empty`, and reads back as zero bytes;
    // unless it came with an encoding it could not apply, whose header is kept: then it reads ' '
    // (or, when that header was `empty`, as the zero bytes that came).
    const keptAsSpace = original.length === 0 && problem && got.headers.get(BODY_ENCODING_HEADER) !== 'empty';
    expect(Buffer.from(bytes).equals(keptAsSpace ? Buffer.from(' ') : original)).toBe(true);
    // The headers it got (the notification's attributes included) ride along. A kept `empty`
    // header on an empty Message is written as it came, and spent when the body is read back.
    for (const [name, value] of got.headers)
      if (!name.startsWith('sy-dlq-') && name !== WireHeaders.decodeError)
        if (name !== BODY_ENCODING_HEADER || bytesOf(got.text, got.headers).problem)
          expect([name, headers[name]]).toEqual([name, value]);
  });
  for (const reason of new Set(cases.map(expected).filter((e) => e !== 'handled')))
    expect(run.deadLetterLogs.some((l) => l.reason === reason)).toBe(true);
  expect(run.sqs.deadLetters).toHaveLength(cases.length - wantHandled);
  expect(run.handled).toHaveLength(wantHandled);
}

describe('SNS -> SQS consume path, raw and enveloped deliveries (fuzzed)', () => {
  it('handles only valid messages, dead-letters every other one once with its bytes, keeps receiving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(snsCase, { minLength: 1, maxLength: 10 }), async (cases) => {
        unhandled.length = 0;
        const run = await startApp();
        try {
          const messages = toMessages(cases);
          await consume(run, messages);
          checkEveryMessage(run, cases, messages);
          const handledBefore = run.handled.length;
          const after = {
            body: JSON.stringify({
              Type: 'Notification',
              MessageId: 'sns-after',
              TopicArn: TOPIC_ARN,
              Message: '{"orderId":"after","total":1}',
              MessageAttributes: {
                [WireHeaders.type]: { Type: 'String', Value: 'Placed' },
                [WireHeaders.id]: { Type: 'String', Value: 'after' },
              },
            }),
            attributes: {},
            envelope: undefined,
          };
          await consume(run, toMessages([after]));
          expect(run.handled.slice(handledBefore)).toEqual(['after']);
          expect(run.app.health().consumers[0]!.subscription?.ok).toBe(true);
          expect(unhandled).toEqual([]);
        } finally {
          await stopApp(run);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('counterexamples found by fuzzing', () => {
  // SnsTransport handed subscribe() to its consumeWith transport but not deadLetterDestinationFor, so
  // core fell back to `<queue>.dlq` instead of the SQS transport's `<queue>-dlq` (what
  // createQueueWithDeadLetter provisions): every dead letter failed to resolve its queue and was
  // retried until SQS's own redrive policy moved the message, without its reason.
  it('dead-letters through SnsTransport to the queue the SQS transport names', async () => {
    const run = await startApp();
    try {
      await consume(
        run,
        toMessages([
          { body: 'not json', attributes: encodeHeaders({ [WireHeaders.type]: 'Placed' }), envelope: undefined },
        ]),
      );
      expect(run.sqs.deadLetters).toHaveLength(1);
    } finally {
      await stopApp(run);
    }
  });

  // Seed 90248471 (at 20x the runs): an empty Message that declared `sy-body-encoding: empty`. The
  // dead letter is ' ' with that header as it came, which reads back as the zero bytes that came;
  // the model expected the header to survive the read as well (reading spends it).
  it('dead-letters an empty Message that declared the empty encoding, with the header as it came', async () => {
    const envelope = {
      Type: 'Notification',
      MessageId: 'sns-empty',
      TopicArn: TOPIC_ARN,
      Message: '',
      Timestamp: '2026-01-02T03:04:05.678Z',
      SignatureVersion: '1',
      MessageAttributes: {
        [WireHeaders.id]: { Type: 'String', Value: 'empty-1' },
        [WireHeaders.type]: { Type: 'String', Value: 'Shipped' },
        [BODY_ENCODING_HEADER]: { Type: 'String', Value: 'empty' },
      },
    };
    const cases: SnsCase[] = [{ body: JSON.stringify(envelope), attributes: {}, envelope }];
    const run = await startApp();
    try {
      const messages = toMessages(cases);
      await consume(run, messages);
      checkEveryMessage(run, cases, messages);
      const [sent] = run.sqs.deadLetters;
      expect([sent?.MessageBody, sent?.MessageAttributes?.[BODY_ENCODING_HEADER]?.StringValue]).toEqual([' ', 'empty']);
    } finally {
      await stopApp(run);
    }
  });
});
