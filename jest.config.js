/**
 * One jest run over every workspace. TypeScript is transpiled by esbuild (jest-transform.js) (type checking is `npm run typecheck`);
 * ESM-only dependencies (middy) are transpiled to CommonJS too, so handlers load under jest unchanged.
 */
const transform = { '^.+\\.(t|j)sx?$': '<rootDir>/jest-transform.js', '^.+\\.mjs$': '<rootDir>/jest-transform.js' };
const transformIgnorePatterns = ['/node_modules/(?!(@middy)/)'];
const project = (displayName, roots, extra = {}) => ({ displayName, roots, transform, transformIgnorePatterns, testEnvironment: 'node', ...extra });

module.exports = {
  testTimeout: 60_000,
  // jest's default is one worker per core minus one: a single worker on a 2-core machine. Two keep both cores busy
  // (the suites mostly wait on child processes and DuckDB) and bring `npm test` under 5 minutes here.
  maxWorkers: 2,
  projects: [
    project('shared', ['<rootDir>/shared']),
    project('services', ['<rootDir>/services'], { setupFiles: ['<rootDir>/services/jest-env.ts'] }),
    project('local', ['<rootDir>/local']),
  ],
};
