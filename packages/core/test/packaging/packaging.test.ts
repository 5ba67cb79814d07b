// The built output as an installed package is used: every publishable package is imported from a
// separate project (node_modules symlinked to the workspace folders, as a package manager would
// link them) by ESM `import` and by CommonJS `require`, and its types are resolved by tsc under
// node16 resolution from an ESM and a CommonJS file. Tests elsewhere run on the sources (see
// vitest.shared.ts); only this file proves the `exports` map, the two builds and the .d.ts/.d.cts.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, linkWorkspacePackages, PUBLISHABLE, tool } from './built-package.js';

let app: string;

function node(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args, { cwd: app, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a script in the consumer project and returns what it printed as JSON. */
function run(kind: 'esm' | 'cjs', script: string): any {
  const r = node(kind === 'esm' ? ['--input-type=module', '-e', script] : ['-e', script]);
  if (r.status !== 0) throw new Error(`node (${kind}) exited ${r.status}:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  // Dependency order: a package's d.ts build reads the d.ts of the packages it imports.
  for (const name of PUBLISHABLE) await ensureBuilt(name);

  app = mkdtempSync(join(tmpdir(), 'switchyard-consumer-'));
  linkWorkspacePackages(app, PUBLISHABLE);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
});

afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

// `@switchyard/testing` itself is ESM only: its spies and conformance suites import vitest, which
// refuses to be require()d. Its providers (`@switchyard/testing/services`) are dual like the rest.
const DUAL_ENTRIES = [
  { specifier: '@switchyard/core', file: 'core/dist/index' },
  { specifier: '@switchyard/kafka', file: 'kafka/dist/index' },
  { specifier: '@switchyard/sqs', file: 'sqs/dist/index' },
  { specifier: '@switchyard/sns', file: 'sns/dist/index' },
  { specifier: '@switchyard/testing/services', file: 'testing/dist/services' },
] as const;

describe.each(DUAL_ENTRIES)('$specifier from its built output', ({ specifier, file }) => {
  it('loads the ESM build through import and the CommonJS build through require, with the same exports', () => {
    const esm = run(
      'esm',
      `const m = await import('${specifier}');
       console.log(JSON.stringify({ file: import.meta.resolve('${specifier}'), names: Object.keys(m).sort() }));`,
    );
    const cjs = run(
      'cjs',
      `const m = require('${specifier}');
       console.log(JSON.stringify({ file: require.resolve('${specifier}'), names: Object.keys(m).sort() }));`,
    );
    // Node >= 20.19 can require() an ES module, so a require that works proves nothing by itself: check
    // that each condition reached its own build.
    expect(esm.file).toMatch(new RegExp(`/packages/${file}\\.js$`));
    expect(cjs.file).toMatch(new RegExp(`/packages/${file}\\.cjs$`));
    expect(esm.names).toEqual(cjs.names);
    expect(esm.names).not.toContain('default');
  });
});

describe('@switchyard/testing (ESM only)', () => {
  it('loads through import and refuses require with a clear error', () => {
    const esm = run(
      'esm',
      `const m = await import('@switchyard/testing');
       console.log(JSON.stringify({ file: import.meta.resolve('@switchyard/testing'), names: Object.keys(m) }));`,
    );
    expect(esm.file).toMatch(/\/packages\/testing\/dist\/index\.js$/);
    expect(esm.names).toContain('describeTransportConformance');
    const r = node(['-e', "require('@switchyard/testing')"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED|No "exports" main defined/);
  });
});

describe('@switchyard/core dual build', () => {
  it('exports its public API from both builds', () => {
    const check = `JSON.stringify({
      defineEvent: typeof m.defineEvent, SwitchyardError: typeof m.SwitchyardError,
      Consumer: typeof m.Consumer, Handle: typeof m.Handle, consumerDefinitionsOf: typeof m.consumerDefinitionsOf,
      code: new m.InvalidOptionError('x', 'y', 'z').code })`;
    const expected = {
      defineEvent: 'function',
      SwitchyardError: 'function',
      Consumer: 'function',
      Handle: 'function',
      consumerDefinitionsOf: 'function',
      code: 'SWITCHYARD_INVALID_OPTION',
    };
    expect(run('esm', `const m = await import('@switchyard/core'); console.log(${check});`)).toEqual(expected);
    expect(run('cjs', `const m = require('@switchyard/core'); console.log(${check});`)).toEqual(expected);
  });

  it('keeps errors and decorated classes readable across the ESM and CommonJS copies in one process', () => {
    // An app importing the ESM build while a transport package requires the CJS build loads core twice.
    const result = run(
      'esm',
      `import { createRequire } from 'node:module';
       const esm = await import('@switchyard/core');
       const cjs = createRequire(import.meta.url)('@switchyard/core');
       const schema = { '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value }) } };
       const Placed = cjs.defineEvent({ name: 'OrderPlaced', schema, key: (p) => p.id });
       const orders = cjs.defineTopic({ name: 'orders', events: [Placed] });
       class Billing { constructor() { this.seen = []; } onPlaced(m) { this.seen.push(m.id); } }
       // Applied the way experimentalDecorators output calls them, through the CommonJS copy.
       cjs.Handle(Placed)(Billing.prototype, 'onPlaced', Object.getOwnPropertyDescriptor(Billing.prototype, 'onPlaced'));
       cjs.Consumer(orders, { group: 'billing' })(Billing);
       const billing = new Billing();
       const [def] = esm.consumerDefinitionsOf(billing);
       await def.handlers[0].handle({ id: 'm-1' }, {});
       console.log(JSON.stringify({
         cjsErrorSeenByEsm: esm.isSwitchyardError(new cjs.SwitchyardError('SWITCHYARD_TRANSPORT', 'x')),
         esmErrorSeenByCjs: cjs.hasCode(new esm.InvalidOptionError('a', 'b', 'c'), 'SWITCHYARD_INVALID_OPTION'),
         twoCopies: esm.defineEvent !== cjs.defineEvent,
         group: def.options.group,
         seen: billing.seen,
       }));`,
    );
    expect(result).toEqual({
      cjsErrorSeenByEsm: true,
      esmErrorSeenByCjs: true,
      twoCopies: true,
      group: 'billing',
      seen: ['m-1'],
    });
  });
});

describe('types of the built output', () => {
  it('resolve under node16 from an ESM (.mts) and a CommonJS (.cts) consumer', () => {
    const imports = DUAL_ENTRIES.map((e, i) => `import * as m${i} from '${e.specifier}';`).join('\n');
    const body = `${imports}
import { defineEvent, SwitchyardError, type HandlerDefinition } from '@switchyard/core';
export const modules = [${DUAL_ENTRIES.map((_, i) => `m${i}`).join(', ')}];
export const error: SwitchyardError = new SwitchyardError('SWITCHYARD_TRANSPORT', 'broker gone');
export const handlers: HandlerDefinition[] = [];
export const event = defineEvent;
// @ts-expect-error only codes from ErrorCodes are accepted: proves the types are real, not any
new SwitchyardError('NOT_A_CODE', 'x');
`;
    writeFileSync(join(app, 'consumer-esm.mts'), `${body}export * as testing from '@switchyard/testing';\n`);
    writeFileSync(join(app, 'consumer-cjs.cts'), body);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'node16',
          moduleResolution: 'node16',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
        },
        files: ['consumer-esm.mts', 'consumer-cjs.cts'],
      }),
    );
    const r = spawnSync(process.execPath, [tool.tsc, '-p', join(app, 'tsconfig.json'), '--explainFiles'], {
      cwd: app,
      encoding: 'utf8',
    });
    const errors = r.stdout.split('\n').filter((l) => l.includes('error TS'));
    expect(errors).toEqual([]);
    expect(r.status).toBe(0);
    for (const name of PUBLISHABLE) expect(r.stdout).toContain(`packages/${name}/dist/index.d.ts`);
    for (const { file } of DUAL_ENTRIES) expect(r.stdout).toContain(`packages/${file}.d.cts`);
  });
});
