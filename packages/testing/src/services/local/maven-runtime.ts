// Resolves a JVM server (Kafka, ElasticMQ) from Maven Central into a folder of jars of its own,
// through a throwaway pom, so Maven's version mediation never mixes in another tool's jars.
// Maven keeps its downloads in ~/.m2; the folder of jars is cached under the Switchyard cache.

import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, runChecked, seconds, withInstallLock } from './support.js';
import { ensureJava, type JavaToolchain } from './toolchain.js';

export interface MavenArtifact {
  readonly groupId: string;
  readonly artifactId: string;
  readonly version: string;
}

export interface MavenRuntime {
  readonly java: JavaToolchain;
  /** Folder of jars; use `<libs>/*` as the class path. */
  readonly libs: string;
  /** Set when this call downloaded the jars: how long it took. */
  readonly installedInMs: number | undefined;
}

const DEPENDENCY_PLUGIN = '3.8.1';

function pom(name: string, artifacts: readonly MavenArtifact[]): string {
  const deps = artifacts
    .map(
      (a) =>
        `    <dependency><groupId>${a.groupId}</groupId><artifactId>${a.artifactId}</artifactId><version>${a.version}</version></dependency>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by @switchyard/testing to resolve ${name}; safe to delete (it is rebuilt on demand). -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.switchyard.runtime</groupId>
  <artifactId>${name}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${deps}
  </dependencies>
  <build>
    <plugins>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>${DEPENDENCY_PLUGIN}</version></plugin>
    </plugins>
  </build>
</project>
`;
}

/** Jars for `artifacts` in `<cache>/<name>/libs`, downloading them on first use. */
export async function mavenRuntime(
  service: string,
  name: string,
  artifacts: readonly MavenArtifact[],
  log: (line: string) => void,
): Promise<MavenRuntime> {
  const java = await ensureJava(service, log);
  const home = join(cacheDir(), name);
  const libs = join(home, 'libs');
  const complete = join(home, '.complete');
  if (existsSync(complete)) return { java, libs, installedInMs: undefined };
  mkdirSync(home, { recursive: true });
  return withInstallLock(join(home, '.lock'), async () => {
    if (existsSync(complete)) return { java, libs, installedInMs: undefined };
    const started = Date.now();
    log(
      `${service}: resolving ${artifacts.map((a) => `${a.artifactId}:${a.version}`).join(', ')} with Maven (first run only)`,
    );
    writeFileSync(join(home, 'pom.xml'), pom(name, artifacts));
    const staging = join(home, 'libs.partial');
    rmSync(staging, { recursive: true, force: true });
    await runChecked(
      `${service}: mvn dependency:copy-dependencies`,
      java.mvn,
      [
        '-B',
        '-q',
        '-f',
        join(home, 'pom.xml'),
        `org.apache.maven.plugins:maven-dependency-plugin:${DEPENDENCY_PLUGIN}:copy-dependencies`,
        `-DoutputDirectory=${staging}`,
        '-DincludeScope=runtime',
      ],
      { cwd: home, timeoutMs: 15 * 60_000 },
    );
    if (!existsSync(staging) || readdirSync(staging).length === 0) {
      throw new Error(`${service}: Maven resolved no jars into ${staging}`);
    }
    rmSync(libs, { recursive: true, force: true });
    renameSync(staging, libs);
    writeFileSync(complete, `${new Date().toISOString()}\n`);
    const took = Date.now() - started;
    log(`${service}: ${readdirSync(libs).length} jars in ${libs} (${seconds(took)})`);
    return { java, libs, installedInMs: took };
  });
}
