// SQS through ElasticMQ, run from its Maven Central jars. Strict limits make it refuse what real
// SQS refuses (batch sizes, message size, attribute counts); region and account match the ARNs
// tests expect from an emulator.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_REGION, ELASTICMQ_ACCOUNT_ID } from '../endpoints.js';
import type { LocalServerPlan } from './local-server.js';
import { mavenRuntime } from './maven-runtime.js';
import { freePort } from './support.js';

export const ELASTICMQ_VERSION = '1.6.14';

export function elasticMqConfig(port: number): string {
  return `# Written by @switchyard/testing.
include classpath("application.conf")

node-address {
  protocol = http
  host = "127.0.0.1"
  port = ${port}
  context-path = ""
}

rest-sqs {
  enabled = true
  bind-port = ${port}
  bind-hostname = "127.0.0.1"
  sqs-limits = strict
}

rest-stats {
  enabled = false
}

aws {
  region = ${DEFAULT_REGION}
  accountId = "${ELASTICMQ_ACCOUNT_ID}"
}
`;
}

const LOGBACK = `<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="OUT"/></root>
  <logger name="org.elasticmq.server.Main" level="INFO"/>
</configuration>
`;

export async function planElasticMq(runDir: string, log: (line: string) => void): Promise<LocalServerPlan> {
  const runtime = await mavenRuntime(
    'sqs',
    `elasticmq-${ELASTICMQ_VERSION}`,
    [{ groupId: 'org.elasticmq', artifactId: 'elasticmq-server_2.13', version: ELASTICMQ_VERSION }],
    log,
  );
  const dir = join(runDir, 'elasticmq');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const config = join(dir, 'elasticmq.conf');
  const logback = join(dir, 'logback.xml');
  writeFileSync(config, elasticMqConfig(port));
  writeFileSync(logback, LOGBACK);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    server: 'elasticmq',
    services: ['sqs'],
    endpoints: { sqs: { endpoint, region: DEFAULT_REGION, accountId: ELASTICMQ_ACCOUNT_ID } },
    process: {
      label: 'elasticmq',
      command: runtime.java.java,
      args: [
        '-Xms64m',
        '-Xmx256m',
        '-Djava.awt.headless=true',
        `-Dconfig.file=${config}`,
        `-Dlogback.configurationFile=${logback}`,
        '-cp',
        `${runtime.libs}/*`,
        'org.elasticmq.server.Main',
      ],
      cwd: dir,
      logFile: join(dir, 'elasticmq.log'),
      graceMs: 10_000,
    },
    ready: () => sqsAnswers(endpoint),
    readyTimeoutMs: 120_000,
  };
}

/** True when an SQS `ListQueues` call in the JSON protocol (the one AWS SDK v3 speaks) succeeds. */
export async function sqsAnswers(endpoint: string): Promise<boolean> {
  const response = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues' },
    body: '{}',
    signal: AbortSignal.timeout(2_000),
  });
  await response.arrayBuffer();
  return response.ok;
}
