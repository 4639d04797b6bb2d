/**
 * The X-Ray SDK's automatic mode enables an async hook for the life of the process (a cls-hooked namespace, created as
 * the SDK is imported); loading our Tracer must not do that outside Lambda, where the Tracer never traces, and must
 * leave the SDK as it is in Lambda. Each case loads the tracer module in a fresh node process (the SDK decides once, at
 * import, and a hook enabled in this jest worker would stay).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const TRACER = path.join(__dirname, '..', 'src', 'observability', 'tracer.ts');
/**
 * Prints the X-Ray SDK's mode and whether its cls-hooked namespace, which carries the async hook, exists
 * (process.namespaces is cls-hooked's registry).
 */
const PROBE = [
  `require(${JSON.stringify(TRACER)});`,
  "const automatic = require('aws-xray-sdk-core').isAutomaticMode();",
  'process.stdout.write(JSON.stringify({ automatic, asyncHook: Boolean(process.namespaces && process.namespaces.AWSXRay) }));',
].join('\n');

/** This process's environment without what decides tracing, plus `extra`. */
const envWith = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const name of ['AWS_EXECUTION_ENV', 'LAMBDA_TASK_ROOT', 'POWERTOOLS_TRACE_ENABLED', 'AWS_XRAY_MANUAL_MODE']) delete env[name];
  return { ...env, ...extra };
};

/** What the Lambda runtime sets (LAMBDA_TASK_ROOT makes the X-Ray SDK set up its Lambda context as it loads). */
const LAMBDA = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', LAMBDA_TASK_ROOT: '/var/task' };

const CASES: ReadonlyArray<{ where: string; env: Record<string, string>; hook: boolean }> = [
  { where: 'in Lambda with tracing on (deployed)', env: LAMBDA, hook: true },
  { where: 'in Lambda with POWERTOOLS_TRACE_ENABLED=false (left to the SDK: manual mode there logs an error at each cold start)', env: { ...LAMBDA, POWERTOOLS_TRACE_ENABLED: 'false' }, hook: true },
  { where: 'outside Lambda (the local stack, tests, the CLI)', env: {}, hook: false },
  { where: 'outside Lambda, POWERTOOLS_TRACE_ENABLED=true', env: { POWERTOOLS_TRACE_ENABLED: 'true' }, hook: false },
];

describe.each(CASES)('loading the Tracer $where', ({ env, hook }) => {
  it(hook ? 'keeps the X-Ray SDK in automatic mode (its async hook on)' : 'starts the X-Ray SDK in manual mode (no async hook)', () => {
    // Act
    const probe = spawnSync(process.execPath, ['--import', 'tsx', '-e', PROBE], { env: envWith(env), encoding: 'utf8' });
    // Assess
    expect(probe.stderr).toBe('');
    expect(JSON.parse(probe.stdout)).toEqual({ automatic: hook, asyncHook: hook });
  });
});
