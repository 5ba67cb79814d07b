// The SQS consume path under arbitrary messages, on a hand-written stub of the SQS client with a
// real SqsTransport and app: bodies (text, JSON of the wrong shape, invalid or unknown declared
// encodings, binary as base64), message attributes of any data type, string or binary, a packed
// `sy-headers` that is or is not readable, garbled Switchyard attributes, odd system attributes
// (receive count, timestamps), mixed with valid messages. For every message: handled only if
// valid, otherwise one dead-letter message with its reason, the original bytes and headers, then
// the original deleted; nothing is left unsettled, no app error, no unhandled rejection; and a
// valid message received afterwards is handled.

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
  defineCommand,
  defineHandler,
  defineQueue,
  type Logger,
  NonRetryableError,
  readDeadLetterHeaders,
  WireHeaders,
} from '@switchyard/core';
import { flushPromises, ManualClock } from '@switchyard/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BODY_ENCODING_HEADER, decodeBody, encodeBody } from '../../src/body-codec.js';
import { decodeAttributes, encodeHeaders, PACKED_HEADERS_ATTRIBUTE } from '../../src/message-attributes.js';
import { SqsTransport } from '../../src/transport.js';

const Placed = defineCommand({
  name: 'Placed',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  key: (p) => p.orderId,
});
const Shipped = defineCommand({
  name: 'Shipped',
  schema: z.object({ orderId: z.string() }),
  key: (p) => p.orderId,
});
const orders = defineQueue({ name: 'orders', commands: [Placed, Shipped] });
const schemas = new Map<string, z.ZodType>([
  ['Placed', Placed.schema as z.ZodType],
  ['Shipped', Shipped.schema as z.ZodType],
]);

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

// ------------------------------------------------------------------------------------------------
// A stub SQS: one queue and its dead-letter queue, in memory.

const BASE = 'https://sqs.us-east-1.amazonaws.com/000000000000/';

class StubSqs {
  readonly deleted: string[] = [];
  readonly visibility: Array<{ handle: string; seconds: number }> = [];
  readonly deadLetters: SendMessageCommandInput[] = [];
  /** SendMessage calls to refuse (throttled) before accepting again. */
  refuseSends = 0;
  readonly #inbox: Message[] = [];
  #wake: (() => void) | undefined;

  push(messages: Message[]): void {
    this.#inbox.push(...messages);
    this.#wake?.();
  }

  async send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> {
    if (command instanceof GetQueueUrlCommand) return { QueueUrl: BASE + command.input.QueueName };
    if (command instanceof GetQueueAttributesCommand)
      return { Attributes: { QueueArn: 'arn:aws:sqs:us-east-1:000000000000:orders', VisibilityTimeout: '30' } };
    if (command instanceof ReceiveMessageCommand) {
      // Long polling: wait for messages or for the poll to be cut short (abortPollsOnStop).
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
      return { Successful: command.input.Entries?.map((e) => ({ Id: e.Id })), Failed: [] };
    }
    if (command instanceof ChangeMessageVisibilityBatchCommand) {
      for (const e of command.input.Entries ?? [])
        this.visibility.push({ handle: e.ReceiptHandle!, seconds: e.VisibilityTimeout! });
      return { Successful: command.input.Entries?.map((e) => ({ Id: e.Id })), Failed: [] };
    }
    if (command instanceof SendMessageCommand) {
      expect(command.input.QueueUrl).toBe(`${BASE}orders-dlq`);
      if (this.refuseSends > 0) {
        this.refuseSends--;
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      }
      this.deadLetters.push(command.input);
      return { MessageId: `dlq-${this.deadLetters.length}` };
    }
    throw new Error(`the stub does not know ${(command as object).constructor.name}`);
  }
}

// ------------------------------------------------------------------------------------------------
// Generators: a message as a Switchyard producer sends it, then mutations that may break it.

const utf8 = new TextEncoder();
// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters SQS refuses are the point
const REFUSED = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
/** No lone surrogates (they do not survive UTF-8, and SQS refuses them). */
const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;
/** SQS only carries well-formed text without the refused characters. */
const sqsText = (max: number) =>
  fc
    .oneof(fc.string({ maxLength: max }), fc.string({ unit: 'binary', maxLength: max }))
    .filter((s) => wellFormed(s) && !REFUSED.test(s));
const anyText = sqsText(24);
const absurdNumber = fc.oneof(
  fc.constantFrom('', 'abc', '-3', '0', '1e400', '8640000000000001', '1e300', '99999999999999999999', '1.5'),
  fc.integer().map(String),
);

type Attributes = Record<string, MessageAttributeValue>;
const stringAttribute = (value: fc.Arbitrary<string>): fc.Arbitrary<MessageAttributeValue> =>
  fc.oneof(
    { weight: 4, arbitrary: value.map((v) => ({ DataType: 'String', StringValue: v })) },
    { weight: 1, arbitrary: value.map((v) => ({ DataType: 'Number', StringValue: v })) },
    { weight: 1, arbitrary: value.map((v) => ({ DataType: 'String.custom', StringValue: v })) },
    // A Binary attribute: its header is the base64 of the bytes.
    { weight: 1, arbitrary: value.map((v) => ({ DataType: 'Binary', BinaryValue: utf8.encode(v) })) },
  );

const attributeEntry: fc.Arbitrary<[string, MessageAttributeValue]> = fc.oneof(
  fc.tuple(
    fc.constantFrom(WireHeaders.type, 'SY-TYPE'),
    stringAttribute(fc.oneof(fc.constantFrom('Placed', 'Shipped', 'Nope'), anyText)),
  ),
  fc.tuple(
    fc.constantFrom(WireHeaders.id, WireHeaders.key, WireHeaders.correlationId, WireHeaders.causationId, 'x-tenant'),
    stringAttribute(anyText),
  ),
  fc.tuple(
    fc.constantFrom(WireHeaders.timestamp, WireHeaders.schemaVersion, WireHeaders.firstFailureAt),
    stringAttribute(absurdNumber),
  ),
  fc.tuple(fc.constant(WireHeaders.decodeError), stringAttribute(anyText)),
  fc.tuple(
    fc.constantFrom(WireHeaders.contentType, 'Content-Type'),
    stringAttribute(fc.oneof(fc.constantFrom('application/json', 'text/plain'), anyText)),
  ),
  fc.tuple(fc.constantFrom(WireHeaders.traceparent, WireHeaders.tracestate), stringAttribute(anyText)),
  fc.tuple(
    fc.constant(BODY_ENCODING_HEADER),
    stringAttribute(fc.constantFrom('base64', 'empty', 'gzip', 'BASE64', 'utf-8')),
  ),
  fc.tuple(fc.constantFrom('sy-dlq-reason', 'sy-dlq-attempts'), stringAttribute(anyText)),
  fc.tuple(
    fc.constantFrom(PACKED_HEADERS_ATTRIBUTE, 'SY-HEADERS'),
    stringAttribute(
      fc.oneof(
        fc
          .dictionary(fc.constantFrom('sy-type', 'sy-id', 'x-a', 'constructor', 'content-type'), anyText)
          .map((d) => JSON.stringify(d)),
        fc.constantFrom('not json', '[]', 'null', '{"sy-type": 7}', '{'),
        anyText,
      ),
    ),
  ),
  fc.tuple(
    fc.oneof(
      fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 1, maxLength: 10 }),
      // A valid SQS attribute name that a plain object's assignment would swallow.
      fc.constant('__proto__'),
    ),
    stringAttribute(anyText),
  ),
);

const garbageBody: fc.Arbitrary<string> = fc.oneof(
  anyText,
  fc.json({ maxDepth: 2 }),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b).toString('base64')),
  fc.constantFrom('', ' ', '{"orderId": oops', 'not base64!', '{"orderId":"o","total":"x"}'),
  fc.integer({ min: 20_000, max: 150_000 }).map((n) => JSON.stringify({ orderId: 'x'.repeat(n), total: 1 })),
);

type Mutation =
  | { readonly op: 'set'; readonly name: string; readonly value: MessageAttributeValue }
  | { readonly op: 'delete'; readonly name: string }
  | { readonly op: 'body'; readonly body: string }
  | { readonly op: 'binary'; readonly bytes: Uint8Array }
  | { readonly op: 'system'; readonly name: string; readonly value: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: attributeEntry.map(([name, value]) => ({ op: 'set' as const, name, value })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(WireHeaders.type, WireHeaders.contentType, WireHeaders.id)
      .map((name) => ({ op: 'delete' as const, name })),
  },
  { weight: 2, arbitrary: garbageBody.map((body) => ({ op: 'body' as const, body })) },
  // A binary body sent as Switchyard sends it: base64 with sy-body-encoding.
  {
    weight: 1,
    arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) => ({ op: 'binary' as const, bytes })),
  },
  // System attributes come from SQS itself, but an emulator may garble them: a receive count that is
  // no positive integer is read as 1 (it made core's retry policy throw), timestamps may be odd.
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.tuple(
          fc.constant('ApproximateReceiveCount'),
          fc.constantFrom('1', '2', '7', '1000000', '0', '-3', '1.5', 'abc', '1e400', ''),
        ),
        fc.tuple(fc.constantFrom('SentTimestamp', 'ApproximateFirstReceiveTimestamp'), absurdNumber),
      )
      .map(([name, value]) => ({ op: 'system' as const, name, value })),
  },
);

const orderId = fc.oneof({ weight: 4, arbitrary: anyText }, { weight: 1, arbitrary: fc.constant('fail-1') });
const validMessage = fc.oneof(
  fc.record({ orderId, total: fc.integer() }).map((payload) => ({ type: 'Placed', payload })),
  fc.record({ orderId }).map((payload) => ({ type: 'Shipped', payload })),
);

interface SqsCase {
  readonly body: string;
  readonly attributes: Attributes;
  readonly system: Record<string, string>;
}

const sqsCase: fc.Arbitrary<SqsCase> = fc
  .record({
    valid: validMessage,
    id: fc.uuid(),
    mutations: fc.oneof(
      { weight: 2, arbitrary: fc.constant([] as Mutation[]) },
      { weight: 5, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }) },
    ),
  })
  .map(({ valid, id, mutations }) => {
    let body = JSON.stringify(valid.payload);
    const attributes: Attributes = encodeHeaders({
      [WireHeaders.id]: id,
      [WireHeaders.type]: valid.type,
      [WireHeaders.contentType]: 'application/json',
      [WireHeaders.timestamp]: '1700000000000',
    }) as Attributes;
    const system: Record<string, string> = { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000' };
    for (const m of mutations) {
      if (m.op === 'set') attributes[m.name] = m.value;
      else if (m.op === 'delete') delete attributes[m.name];
      else if (m.op === 'body') body = m.body;
      else if (m.op === 'binary') {
        const encoded = encodeBody(m.bytes);
        body = encoded.text;
        for (const [name, value] of Object.entries(encoded.headers))
          attributes[name] = { DataType: 'String', StringValue: value };
      } else system[m.name] = m.value;
    }
    // SQS refuses an empty body: it never arrives.
    return { body: body === '' ? ' ' : body, attributes, system };
  });

// ------------------------------------------------------------------------------------------------
// The expected outcome, from the documented rules of message-attributes.ts, body-codec.ts and wire.ts.

type Expected = 'handled' | 'decode' | 'unknown-type' | 'validation' | 'non-retryable';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The headers the consumer sees (attributes as strings, names lower-cased, sy-headers merged) and whether that failed. */
function headersOf(attributes: Attributes): { headers: Map<string, string>; problem: boolean } {
  const headers = new Map<string, string>();
  let packed: string | undefined;
  for (const [name, a] of Object.entries(attributes)) {
    const value =
      a.StringValue !== undefined
        ? a.StringValue
        : a.BinaryValue !== undefined
          ? Buffer.from(a.BinaryValue).toString('base64')
          : undefined;
    if (value === undefined) continue;
    if (name.toLowerCase() === PACKED_HEADERS_ATTRIBUTE) packed = value;
    else headers.set(name.toLowerCase(), value);
  }
  if (packed === undefined) return { headers, problem: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(packed);
  } catch {
    return { headers, problem: true };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { headers, problem: true };
  const entries = Object.entries(parsed);
  if (entries.some(([, v]) => typeof v !== 'string')) return { headers, problem: true };
  for (const [name, value] of entries)
    if (!headers.has(name.toLowerCase())) headers.set(name.toLowerCase(), value as string);
  return { headers, problem: false };
}

/** The body's bytes as the consumer gets them, and whether the declared encoding could not be applied. */
function bytesOf(body: string, headers: Map<string, string>): { bytes: Buffer; problem: boolean } {
  const encoding = headers.get(BODY_ENCODING_HEADER);
  if (encoding === undefined) return { bytes: Buffer.from(body, 'utf8'), problem: false };
  if (encoding === 'base64' && /^[A-Za-z0-9+/]*={0,2}$/.test(body) && body.length % 4 === 0)
    return { bytes: Buffer.from(body, 'base64'), problem: false };
  if (encoding === 'empty' && body === ' ') return { bytes: Buffer.alloc(0), problem: false };
  return { bytes: Buffer.from(body, 'utf8'), problem: true };
}

function expected(c: SqsCase): Expected {
  const { headers, problem } = headersOf(c.attributes);
  const body = bytesOf(c.body, headers);
  if (problem || body.problem || headers.has(WireHeaders.decodeError)) return 'decode';
  const contentType = headers.get(WireHeaders.contentType);
  if (contentType !== undefined && !/json/i.test(contentType)) return 'decode';
  let payload: unknown;
  try {
    payload = JSON.parse(strictUtf8.decode(body.bytes));
  } catch {
    return 'decode';
  }
  const type = headers.get(WireHeaders.type);
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

async function startApp(): Promise<Run> {
  const sqs = new StubSqs();
  const transport = new SqsTransport({
    client: sqs as unknown as SQSClient,
    abortPollsOnStop: true,
    depthIntervalMs: 0,
    heartbeatIntervalMs: false,
  });
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
function toMessages(cases: readonly SqsCase[]): Message[] {
  return cases.map((c) => {
    const n = ++sequence;
    return {
      MessageId: `m-${n}`,
      ReceiptHandle: `rh-${n}`,
      Body: c.body,
      MessageAttributes: c.attributes,
      Attributes: c.system,
    } as Message;
  });
}

/** Receives the messages and waits until each one is deleted (handled, or dead-lettered first) or an app error shows. */
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

/** Lets timers and promises run until `done` (each turn a macrotask), at most 5 s of wall time. */
async function waitFor(done: () => boolean, describe: () => string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function checkEveryMessage(run: Run, cases: readonly SqsCase[], messages: readonly Message[]): void {
  const byMessageId = new Map<
    string,
    Array<{ headers: Record<string, string>; bytes: Uint8Array; text: string; problem: string | undefined }>
  >();
  for (const sent of run.sqs.deadLetters) {
    const decoded = decodeAttributes(sent.MessageAttributes as never);
    expect(decoded.problem).toBeUndefined();
    const headers = decoded.headers;
    const body = decodeBody(sent.MessageBody!, headers);
    const id = headers['sy-dlq-source-message-id']!;
    byMessageId.set(id, [
      ...(byMessageId.get(id) ?? []),
      { headers, bytes: body.bytes, text: sent.MessageBody!, problem: body.problem },
    ]);
  }
  let wantHandled = 0;
  cases.forEach((c, i) => {
    const message = messages[i]!;
    const want = expected(c);
    // Settled exactly once, and settled: deleted, never handed back for a retry.
    expect(run.sqs.deleted.filter((h) => h === message.ReceiptHandle)).toHaveLength(1);
    expect(run.sqs.visibility.filter((v) => v.handle === message.ReceiptHandle)).toEqual([]);
    const dead = byMessageId.get(message.MessageId!) ?? [];
    if (want === 'handled') {
      wantHandled++;
      expect(dead).toEqual([]);
      return;
    }
    expect(dead).toHaveLength(1);
    const { headers, bytes, text, problem } = dead[0]!;
    const record = readDeadLetterHeaders(headers);
    expect(record.reason).toBe(want);
    expect(record.error?.message.trim()).not.toBe('');
    expect(record.source).toMatchObject({ kind: 'queue', queue: 'orders', messageId: message.MessageId });
    // The bytes the consumer got, byte for byte: the body's text, or what its declared encoding gave.
    const original = headersOf(c.attributes);
    const originalBody = bytesOf(c.body, original.headers);
    // Except an empty body that also declared an encoding it could not apply: the header is kept,
    // so the space standing for the body cannot be marked empty, and reads back as ' '.
    // (A kept `empty` header still marks that space: it reads back as the zero bytes that came.)
    const empty = originalBody.bytes.length === 0;
    const keptAsSpace = empty && originalBody.problem && original.headers.get(BODY_ENCODING_HEADER) !== 'empty';
    expect(Buffer.from(bytes).equals(keptAsSpace ? Buffer.from(' ') : originalBody.bytes)).toBe(true);
    // A body whose declared encoding did not apply is dead-lettered as it came: text and header.
    if (originalBody.problem)
      expect([text, problem === undefined]).toEqual([empty ? ' ' : c.body, empty && !keptAsSpace]);
    else expect(problem).toBeUndefined();
    // The original headers ride along (their values; every header is a String attribute there).
    for (const [name, value] of original.headers) {
      if (name.startsWith('sy-dlq-') || name === WireHeaders.decodeError) continue;
      // A declared encoding that was applied is spent: the bytes above are what it gave (and the
      // dead letter declares its own encoding when it needs one).
      if (name === BODY_ENCODING_HEADER && !bytesOf(c.body, original.headers).problem) continue;
      expect([name, headers[name]]).toEqual([name, value]);
    }
  });
  const reasons = new Set(cases.map(expected).filter((e) => e !== 'handled'));
  for (const reason of reasons) expect(run.deadLetterLogs.some((l) => l.reason === reason)).toBe(true);
  expect(run.sqs.deadLetters).toHaveLength(cases.length - wantHandled);
  expect(run.handled).toHaveLength(wantHandled);
}

describe('SQS consume path (fuzzed)', () => {
  it('handles only valid messages, dead-letters every other one once with its bytes and headers, keeps receiving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(sqsCase, { minLength: 1, maxLength: 10 }), async (cases) => {
        unhandled.length = 0;
        const run = await startApp();
        try {
          const messages = toMessages(cases);
          await consume(run, messages);
          checkEveryMessage(run, cases, messages);
          // Still receiving: a valid message after the garbage is handled.
          const handledBefore = run.handled.length;
          const [after] = toMessages([
            {
              body: '{"orderId":"after","total":1}',
              attributes: encodeHeaders({ [WireHeaders.type]: 'Placed', [WireHeaders.id]: 'after' }) as Attributes,
              system: {},
            },
          ]);
          await consume(run, [after!]);
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
  async function deadLetterOf(c: SqsCase) {
    const run = await startApp();
    try {
      const messages = toMessages([c]);
      await consume(run, messages);
      checkEveryMessage(run, [c], messages);
      return run.sqs.deadLetters[0]!;
    } finally {
      await stopApp(run);
    }
  }

  it('dead-letters a body whose declared encoding does not apply with that header, as it came', async () => {
    // decodeBody dropped sy-body-encoding before knowing it could apply it: the dead letter lost it
    // (and a redrive sent the text as if it had never been declared base64).
    const sent = await deadLetterOf({
      body: '{"orderId":"o","total":1}',
      attributes: encodeHeaders({ [WireHeaders.type]: 'Placed', [BODY_ENCODING_HEADER]: 'base64' }) as Attributes,
      system: {},
    });
    expect(sent.MessageBody).toBe('{"orderId":"o","total":1}');
    const { headers } = decodeAttributes(sent.MessageAttributes as never);
    expect(headers[BODY_ENCODING_HEADER]).toBe('base64');
    expect(headers['sy-dlq-reason']).toBe('decode');
    expect(headers['sy-dlq-error-message']).toMatch(/sy-body-encoding says base64 but the body is not base64/);
  });

  // An unreadable `sy-headers` attribute was reported as the reason but its value was not in the
  // dead letter, so what the producer sent was lost; it is kept as `sy-headers-unreadable` now.
  it('keeps an unreadable sy-headers attribute in the dead letter', async () => {
    const sent = await deadLetterOf({
      body: '{"orderId":"o","total":1}',
      attributes: {
        ...(encodeHeaders({ [WireHeaders.type]: 'Placed' }) as Attributes),
        [PACKED_HEADERS_ATTRIBUTE]: { DataType: 'String', StringValue: '{"sy-id": "x", oops' },
      },
      system: {},
    });
    const { headers } = decodeAttributes(sent.MessageAttributes as never);
    expect(headers['sy-dlq-reason']).toBe('decode');
    expect(Object.values(headers)).toContain('{"sy-id": "x", oops');
  });

  // A dead-letter write that failed once (throttled) marked the message settled anyway, so core's
  // retry of the settlement was refused as 'settled twice' and gave up; the message was neither
  // dead-lettered nor deleted, and came back after its visibility timeout to be processed again.
  it('dead-letters a message whose first dead-letter write was throttled, on the retry', async () => {
    const run = await startApp();
    try {
      run.sqs.refuseSends = 1;
      const messages = toMessages([
        { body: 'not json', attributes: encodeHeaders({ [WireHeaders.type]: 'Placed' }) as Attributes, system: {} },
      ]);
      run.sqs.push(messages);
      await waitFor(
        () => run.appErrors.length > 0,
        () => 'the first dead-letter write failing',
      );
      expect(run.appErrors[0]).toMatch(/retrying in/);
      // Core retries the settlement after its backoff, on the app's clock.
      await run.clock.advance(1_000);
      await waitFor(
        () => run.sqs.deleted.length > 0 || run.appErrors.length > 1,
        () => 'the retried dead-letter write',
      );
      expect(run.appErrors.slice(1)).toEqual([]);
      expect(run.sqs.deadLetters).toHaveLength(1);
      expect(run.sqs.deleted).toEqual([messages[0]!.ReceiptHandle]);
    } finally {
      await stopApp(run);
    }
  });
});
