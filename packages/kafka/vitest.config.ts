import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

const shared = sharedTestConfig(import.meta.dirname);

export default defineConfig({
  ...shared,
  test: {
    ...shared.test,
    // Starts a local Kafka broker when the environment (SWITCHYARD_ENDPOINTS) has none.
    globalSetup: ['./test/global-setup.ts'],
    // Integration files share one broker and two CPU cores with other suites: run them one at a time.
    fileParallelism: false,
  },
});
