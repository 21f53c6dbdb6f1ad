import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          globalSetup: ['test/support/warmTables.ts'],
        },
      },
      {
        test: {
          // Reads the external references CI keeps beside the repository; run by `.ci/run`, not by `npm test`.
          name: 'compat',
          include: ['test/compat/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Fails the whole run, loudly, when Kafka or ClickHouse cannot be reached.
          globalSetup: ['test/support/warmTables.ts', 'test/integration/globalSetup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
