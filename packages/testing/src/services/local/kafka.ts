// Apache Kafka 4 as one local JVM: a single KRaft node (broker + controller) resolved from Maven
// Central, formatted into a fresh log folder, tuned for tests (internal topics with one partition
// and one replica, no initial rebalance delay), with transactions available.

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalServerPlan } from './local-server.js';
import { mavenRuntime } from './maven-runtime.js';
import { freePort, runChecked } from './support.js';

export const KAFKA_VERSION = '4.1.1';
const LOG4J_VERSION = '2.24.3';

export const KAFKA_ARTIFACTS = [
  { groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version: KAFKA_VERSION },
  // Kafka builds against log4j 2 but does not ship a backend in its POM. Kafka pins slf4j-api
  // 1.7, so the binding is log4j-slf4j-impl (not log4j-slf4j2-impl).
  { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-api', version: LOG4J_VERSION },
  { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-core', version: LOG4J_VERSION },
  { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-slf4j-impl', version: LOG4J_VERSION },
] as const;

/** A KRaft cluster id: 16 random bytes in URL-safe base64, as `kafka-storage random-uuid` makes. */
export function kafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka rejects ids that would print with a leading dash (they look like command-line flags).
    if (!id.startsWith('-')) return id;
  }
}

export function kafkaServerProperties(o: { port: number; controllerPort: number; logDir: string }): string {
  return `# Written by @switchyard/testing: a throwaway single-node KRaft cluster for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${o.controllerPort}
listeners=PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${o.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${o.logDir}
num.partitions=1
auto.create.topics.enable=true
# One broker: every internal topic has one replica; one partition each keeps start-up quick.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests join groups one consumer at a time: don't wait 3 s for more members.
group.initial.rebalance.delay.ms=0
# Small segments so retention and compaction tests don't need gigabytes.
log.segment.bytes=16777216
`;
}

const LOG4J2 = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.server.name = kafka.server.KafkaServer
logger.server.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
`;

export async function planKafka(runDir: string, log: (line: string) => void): Promise<LocalServerPlan> {
  const runtime = await mavenRuntime('kafka', `kafka-${KAFKA_VERSION}`, KAFKA_ARTIFACTS, log);
  const dir = join(runDir, 'kafka');
  const logDir = join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const controllerPort = await freePort();
  const properties = join(dir, 'server.properties');
  const log4j = join(dir, 'log4j2.properties');
  writeFileSync(properties, kafkaServerProperties({ port, controllerPort, logDir }));
  writeFileSync(log4j, LOG4J2);
  const classPath = `${runtime.libs}/*`;
  await runChecked(
    'kafka: format the KRaft log folder',
    runtime.java.java,
    [
      `-Dlog4j2.configurationFile=${log4j}`,
      '-cp',
      classPath,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      kafkaClusterId(),
      '-c',
      properties,
      '--ignore-formatted',
    ],
    { cwd: dir, timeoutMs: 120_000 },
  );
  const broker = `127.0.0.1:${port}`;
  return {
    server: 'kafka',
    services: ['kafka'],
    endpoints: { kafka: { brokers: [broker] } },
    process: {
      label: 'kafka',
      command: runtime.java.java,
      args: [
        '-Xms256m',
        '-Xmx512m',
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${log4j}`,
        '-cp',
        classPath,
        'kafka.Kafka',
        properties,
      ],
      cwd: dir,
      logFile: join(dir, 'kafka.log'),
      stopSignal: 'SIGTERM',
      graceMs: 20_000,
    },
    ready: () => kafkaAnswersMetadata(broker),
    readyTimeoutMs: 180_000,
  };
}

/** True when a metadata request (kafkajs admin `listTopics`) succeeds. */
export async function kafkaAnswersMetadata(broker: string): Promise<boolean> {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({
    clientId: 'switchyard-readiness',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
