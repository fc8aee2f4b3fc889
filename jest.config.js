/** Transpile-only transforms (swc) keep each test file fast; `npm run typecheck` type-checks. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The consumer test's app is the user's project: its own test runs there, with ts-jest.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/consumer/app/'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  // The reference stacks import the library by its package name, as a user's app does.
  moduleNameMapper: { '^cdktf-postgres-ha$': '<rootDir>/src/index.ts' },
  // Cluster and tool tests start real processes: run files one at a time on the 2-core machines.
  maxWorkers: 2,
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
