// For context, not a pair: Kafka's own Java consumer (`kafka-consumer-perf-test`, main class
// org.apache.kafka.tools.ConsumerPerformance from org.apache.kafka:kafka-tools, the broker's version)
// on the same broker and the same kind of topic. Resolved from Maven Central once into the
// Switchyard cache; skipped with the reason printed when Java, Maven or the download is unavailable.

import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { within } from '../deadline.js';
import { trackChild } from '../processes.js';
import type { KafkaContext } from './consume.js';
import { seed, uniqueName } from './support.js';

const KAFKA_TOOLS_VERSION = '4.1.1';
const run = promisify(execFile);

function cacheDir(): string {
  if (process.env.SWITCHYARD_CACHE_DIR) return process.env.SWITCHYARD_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'switchyard');
}

const pom = `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by @switchyard/bench to resolve Kafka's perf tools; safe to delete. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.switchyard.bench</groupId>
  <artifactId>kafka-tools</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>${KAFKA_TOOLS_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
`;

/** The jars of kafka-tools, or why they are not available. */
async function kafkaToolsLibs(): Promise<{ libs: string } | { skip: string }> {
  for (const tool of ['java', 'mvn']) {
    try {
      await run(tool, ['-version'], { timeout: 30_000 });
    } catch {
      return { skip: `${tool} is not on the PATH` };
    }
  }
  const home = join(cacheDir(), `bench-kafka-tools-${KAFKA_TOOLS_VERSION}`);
  const libs = join(home, 'libs');
  if (existsSync(join(home, '.complete'))) return { libs };
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'pom.xml'), pom);
  const staging = join(home, 'libs.partial');
  rmSync(staging, { recursive: true, force: true });
  const started = Date.now();
  try {
    await run(
      'mvn',
      [
        '-B',
        '-q',
        '-f',
        join(home, 'pom.xml'),
        'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
        `-DoutputDirectory=${staging}`,
        '-DincludeScope=runtime',
      ],
      { timeout: 180_000, cwd: home },
    );
  } catch (error) {
    return { skip: `could not resolve kafka-tools ${KAFKA_TOOLS_VERSION}: ${(error as Error).message.split('\n')[0]}` };
  }
  if (!existsSync(staging) || readdirSync(staging).length === 0) return { skip: 'Maven resolved no jars' };
  rmSync(libs, { recursive: true, force: true });
  renameSync(staging, libs);
  writeFileSync(join(home, '.complete'), `${new Date().toISOString()}\n`);
  process.stderr.write(`[bench] kafka-tools resolved in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return { libs };
}

/** One run of ConsumerPerformance; its own figures (group join excluded from `fetch.nMsg.sec`). */
async function perfTest(libs: string, brokers: readonly string[], topic: string, messages: number) {
  const args = [
    '-Xms128m',
    '-Xmx256m',
    '-cp',
    `${libs}/*`,
    'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server',
    brokers.join(','),
    '--topic',
    topic,
    '--messages',
    String(messages),
    '--group',
    uniqueName('java'),
    '--timeout',
    '30000',
  ];
  const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const untrack = trackChild(child, 'kafka ConsumerPerformance');
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  try {
    const code = await within(
      new Promise<number | null>((resolve) => child.on('close', resolve)),
      180_000,
      'kafka ConsumerPerformance',
    );
    if (code !== 0)
      throw new Error(`ConsumerPerformance exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
  } finally {
    untrack();
  }
  const lines = out
    .trim()
    .split('\n')
    .filter((l) => l.includes(','));
  const header = lines.find((l) => l.includes('nMsg.sec'));
  const values = lines[lines.length - 1];
  if (!header || !values || values === header) throw new Error(`unexpected ConsumerPerformance output: ${out}`);
  const names = header.split(',').map((s) => s.trim());
  const figures = values.split(',').map((s) => Number(s.trim()));
  const get = (name: string) => figures[names.indexOf(name)] ?? Number.NaN;
  return { total: get('nMsg.sec'), fetch: get('fetch.nMsg.sec') };
}

export async function kafkaCeiling(ctx: KafkaContext, rawKafkajsMedian: number | undefined): Promise<void> {
  const { settings, kafka, brokers, topics, report } = ctx;
  const section = 'kafka ceiling (Java)';
  const found = await kafkaToolsLibs();
  if ('skip' in found) {
    report.omit(section, found.skip);
    return;
  }
  const topic = await topics.create('ceiling', settings.kafkaPartitions);
  try {
    await seed(kafka, topic, settings.kafkaMessages);
    const totals: number[] = [];
    const fetches: number[] = [];
    for (let i = 0; i < settings.ceilingRuns; i++) {
      const r = await perfTest(found.libs, brokers, topic, settings.kafkaMessages);
      totals.push(r.total);
      fetches.push(r.fetch);
      process.stderr.write(
        `[bench] java consumer run ${i + 1}: ${Math.round(r.total)} msg/s (fetch ${Math.round(r.fetch)})\n`,
      );
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const total = median(totals);
    report.figure('kafka.ceiling.java.msgs_per_s', total, 0);
    report.figure('kafka.ceiling.java.fetch_msgs_per_s', median(fetches), 0);
    report.row(
      section,
      `kafka-consumer-perf-test ${KAFKA_TOOLS_VERSION}`,
      `${Math.round(total).toLocaleString('en-US')} msg/s incl. group join (fetch only ${Math.round(median(fetches)).toLocaleString('en-US')}); median of ${settings.ceilingRuns}`,
    );
    if (rawKafkajsMedian !== undefined) {
      report.figure('kafka.ceiling.kafkajs_vs_java', rawKafkajsMedian / total);
      report.row(section, 'raw kafkajs / java', `${(rawKafkajsMedian / total).toFixed(2)}x (context only)`);
    }
  } finally {
    await topics.remove(topic);
  }
}
