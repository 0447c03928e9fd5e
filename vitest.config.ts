import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    reporters: ['default', './tests/reporters/summary-line.ts'],
    projects: [
      {
        test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], environment: 'node' },
      },
      {
        test: {
          name: 'integration',
          // Browser tests (tests/browser, headless Debian Chromium) share the built server and its setup.
          include: ['tests/integration/**/*.test.ts', 'tests/browser/**/*.test.ts'],
          environment: 'node',
          // Builds .output once (unless E2E_SKIP_BUILD=1) and checks Redis; each file then starts
          // its own built server with its own REDIS_KEY_PREFIX, so files can run in parallel.
          globalSetup: ['tests/helpers/global-setup.ts'],
          testTimeout: 30_000,
          // Pages and servers under CI load can take more than expect.poll's default 1 s.
          expect: { poll: { timeout: 5000, interval: 50 } },
          hookTimeout: 120_000,
        },
      },
    ],
  },
})
