// Jest runs the TypeScript tests against the built package (dist/), as a user imports it.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tests/tsconfig.json', diagnostics: { warnOnly: false } }] },
  moduleNameMapper: { '^simdopt$': '<rootDir>/dist/index.js', '^simdopt/keras3$': '<rootDir>/dist/keras3/index.js' },
  testMatch: ['<rootDir>/tests/**/*.test.ts'],
  testTimeout: 120000,
};
