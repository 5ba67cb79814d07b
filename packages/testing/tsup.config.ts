import { defineConfig } from 'tsup';

export default defineConfig({
  // `services` is the providers alone, for plain-node scripts (env:up, the test orchestrator):
  // it does not load vitest, which the spies and conformance suites in `index` need.
  entry: { index: 'src/index.ts', services: 'src/services/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
