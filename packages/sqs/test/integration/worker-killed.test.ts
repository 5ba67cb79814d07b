import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig, TestResources, waitUntil } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { SqsTransport } from '../../src/index.js';
import { createQueue, endpointOf, SQS_SERVERS } from '../support/sqs-servers.js';
import { ackAll, outgoing, TestConsumer } from '../support/test-consumer.js';

const packageDir = join(import.meta.dirname, '..', '..');

/** Runs the worker fixture (TypeScript through tsx, workspace packages from source). */
function startWorker(endpoint: string, queue: string, ackFirst: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', join('test', 'fixtures', 'kill-worker.ts')], {
    cwd: packageDir,
    env: {
      ...process.env,
      SQS_ENDPOINT: endpoint,
      SQS_QUEUE: queue,
      ACK_FIRST: String(ackFirst),
      TSX_TSCONFIG_PATH: join(packageDir, 'test', 'fixtures', 'tsconfig.json'),
      NODE_NO_WARNINGS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acked = new Set<string>();
  const held = new Set<string>();
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const event = JSON.parse(line) as { acked?: string; held?: string };
      if (event.acked) acked.add(event.acked);
      if (event.held) held.add(event.held);
    } catch {}
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  return { child, acked, held, exited, stderr: () => stderr };
}

describe.each(SQS_SERVERS)('a worker killed with SIGKILL mid-batch on $name', ({ service }) => {
  const resources = new TestResources();
  afterEach(() => resources.cleanup());

  it('loses nothing: what it held reappears after the visibility timeout, what it acked does not', async () => {
    const endpoint = endpointOf(service);
    const client = new SQSClient(awsClientConfig(endpoint));
    const transport = new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 0 });
    resources.track(() => transport.close());
    const queue = await createQueue(client, resources, 'killed');
    const published = outgoing(10);
    await transport.publish(queue.name, published);

    const worker = startWorker(endpoint.endpoint, queue.url, 3);
    let child: ChildProcess | undefined = worker.child;
    resources.track(() => {
      if (child?.exitCode === null && child.signalCode === null) process.kill(child.pid as number, 'SIGKILL');
    });
    await waitUntil(
      'the worker to ack three and hold the rest of its batch',
      () => worker.acked.size === 3 && worker.held.size >= 1,
      30_000,
      () => worker.stderr(),
    );
    process.kill(worker.child.pid as number, 'SIGKILL');
    expect(await worker.exited).toBe('SIGKILL');
    child = undefined;

    const survivor = await TestConsumer.open(transport, queue.name, ackAll);
    resources.track(() => survivor.close());
    const all = published.map((m) => m.id);
    await waitUntil(
      'every message processed by one worker or the other',
      () => all.every((id) => worker.acked.has(id) || survivor.settledIds('ack').has(id)),
      30_000,
      () => survivor.summary(),
    );
    const redelivered = [...worker.held].map((id) => survivor.deliveriesOf(id)[0]?.delivery.attempt);
    expect(redelivered.every((attempt) => attempt !== undefined && attempt >= 2)).toBe(true);
    expect(
      [...worker.acked].filter((id) => survivor.deliveriesOf(id).length > 0),
      'acked messages came back',
    ).toEqual([]);
    const processed = new Set([...worker.acked, ...survivor.settledIds('ack')]);
    expect([...processed].sort()).toEqual([...all].sort());
  });
});
