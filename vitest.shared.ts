import { join } from 'node:path';
import type { ViteUserConfig } from 'vitest/config';

const root = import.meta.dirname;
const pkg = (name: string) => join(root, 'packages', name, 'src', 'index.ts');

// Tests run against sources: each workspace package resolves to its src, so a test never
// sees a stale dist. The built output is tested separately (test/dist-imports).
export function sharedTestConfig(dir: string): ViteUserConfig {
  return {
    root: dir,
    resolve: {
      alias: {
        '@switchyard/core': pkg('core'),
        '@switchyard/testing': pkg('testing'),
        '@switchyard/kafka': pkg('kafka'),
        '@switchyard/sqs': pkg('sqs'),
        '@switchyard/sns': pkg('sns'),
      },
    },
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
    },
  };
}
