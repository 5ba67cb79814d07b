// Switchyard's side of the consume pairs (and of the memory children): a KafkaTransport app with a
// no-op handler, timed from start to the N-th message handled.

import type { TextMapPropagator } from '@opentelemetry/api';
import { createApp, defineHandler, defineTopic } from '@switchyard/core';
import { KafkaTransport } from '@switchyard/kafka';
import { OrderPlaced } from '../contracts.js';
import { closeQuietly, signal, within } from '../deadline.js';
import { ConsumeClock, type ConsumeRun, type ConsumeTiming, deadlineFor, uniqueName } from './client.js';

export async function switchyardConsume(
  run: ConsumeRun,
  options: {
    contract?: typeof OrderPlaced;
    propagator?: TextMapPropagator;
    onDone?: () => void;
    /** Called once, at the first message. */
    onFirst?: () => void;
  },
): Promise<ConsumeTiming> {
  const transport = new KafkaTransport({ brokers: run.brokers, clientId: 'bench-switchyard' });
  const app = createApp({ transport, ...(options.propagator ? { propagator: options.propagator } : {}) });
  const done = signal();
  let processed = 0;
  const contract = options.contract ?? OrderPlaced;
  const topic = defineTopic({ name: run.topic, events: [contract] });
  app.consume(topic, {
    group: uniqueName('sy'),
    handlers: [
      defineHandler(contract, () => {
        if (processed === 0) options.onFirst?.();
        clock.message();
        if (++processed === run.count) {
          options.onDone?.();
          done.resolve();
        }
      }),
    ],
  });
  const clock = new ConsumeClock();
  try {
    await within(app.start(), 60_000, 'Switchyard app start');
    await within(done.promise, deadlineFor(run.count), `Switchyard consuming ${run.count} messages`);
    return clock.timing(run.count);
  } finally {
    await closeQuietly('Switchyard app', () => app.stop({ deadlineMs: 10_000 }));
  }
}
