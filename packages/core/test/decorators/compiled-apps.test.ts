// Two small apps, compiled by tsc exactly as users compile theirs, import @switchyard/core as an
// installed package (its built output) and run on node:
//   standard/  TC39 decorators, ESM, NodeNext (a modern TypeScript app)
//   legacy/    experimentalDecorators + emitDecoratorMetadata, CommonJS (what NestJS apps compile with)
// Both share fixtures/app/*.ts, so the same source must behave the same under either convention.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, linkWorkspacePackages, tool } from '../packaging/built-package.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const apps: string[] = [];

beforeAll(async () => {
  await ensureBuilt('core');
});

afterAll(() => {
  for (const app of apps) rmSync(app, { recursive: true, force: true });
});

function buildApp(mode: 'standard' | 'legacy'): string {
  const app = mkdtempSync(join(tmpdir(), `switchyard-decorators-${mode}-`));
  apps.push(app);
  cpSync(join(fixtures, mode), app, { recursive: true });
  cpSync(join(fixtures, 'app'), join(app, 'src'), { recursive: true });
  linkWorkspacePackages(app, ['core']);
  const tsc = spawnSync(process.execPath, [tool.tsc, '-p', join(app, 'tsconfig.json')], { cwd: app, encoding: 'utf8' });
  expect(tsc.stdout + tsc.stderr).toBe('');
  expect(tsc.status).toBe(0);
  return app;
}

const expectedReport = {
  definitions: [
    {
      channel: { kind: 'topic', name: 'orders' },
      options: { group: 'billing', maxInFlight: 4 },
      handlers: [
        { type: 'OrderPlaced', options: { timeoutMs: 5000 } },
        { type: 'OrderCancelled', options: {} },
      ],
    },
  ],
  outcomes: { OrderPlaced: null, OrderCancelled: { kind: 'dead-letter', reason: 'refunds are handled by hand' } },
  // Written by the injected service through `this.ledger`: the methods ran bound to the instance.
  ledger: ['placed o-1 250 attempt 3', 'cancelled o-1'],
};

describe.each([
  {
    mode: 'standard' as const,
    helper: '__esDecorate',
    moduleFormat: /^import .* from '@switchyard\/core';$/m,
    records: { classMetadata: true, prototypeRecords: [] },
  },
  {
    mode: 'legacy' as const,
    helper: '__decorate(',
    moduleFormat: /require\("@switchyard\/core"\)/,
    records: { classMetadata: false, prototypeRecords: ['Symbol(switchyard.decorators.handles)'] },
  },
])('an app compiled by tsc with $mode decorators', ({ mode, helper, moduleFormat, records }) => {
  let app: string;
  beforeAll(() => {
    app = buildApp(mode);
  });

  it('emitted the decorator helpers and module format of its mode', () => {
    const js = readFileSync(join(app, 'dist', 'orders-consumer.js'), 'utf8');
    expect(js).toContain(helper);
    expect(js).toMatch(moduleFormat);
    if (mode === 'legacy') expect(js).toContain('__metadata("design:paramtypes", [LedgerService])');
  });

  it('builds the definition from the instance and routes each message to its bound method', () => {
    const run = spawnSync(process.execPath, [join(app, 'dist', 'main.js')], { cwd: app, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toEqual({ ...expectedReport, ...records });
  });
});
