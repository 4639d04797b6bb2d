import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { delimiter, join } from 'node:path';
import type { CfnResource, CfnTemplate } from './cloudformation';

/** The repository root (this file sits in services/test-support). */
export const REPO_ROOT = join(__dirname, '..', '..');

/** What one command printed and how it ended. */
export interface CommandRun {
  readonly exitCode: number | null;
  /** stdout and stderr, interleaved as they arrived. */
  readonly output: string;
  /** stdout alone: what a command such as `osls print` writes as its result, without its log lines. */
  readonly stdout: string;
  readonly durationMs: number;
}

/**
 * The environment of an offline package run: no AWS credentials, profile or region of whoever runs the tests
 * (packaging must not need them), the repository's osls first on PATH (osls-compose spawns `serverless`), and
 * the framework's telemetry, notifications and update checks off.
 */
export const offlineEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('AWS_')) env[name] = value;
  return {
    ...env,
    PATH: [join(REPO_ROOT, 'node_modules', '.bin'), process.env.PATH ?? ''].join(delimiter),
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    SLS_DISABLE_AUTO_UPDATE: '1',
    ...extra,
  };
};

/**
 * The nice value of the packaging tools. osls-compose runs four `serverless package` processes at once, each with
 * esbuild, npm and zipping, beside the `osls print` runs: at the same priority they starved the suite jest runs on
 * its other worker (CPU-bound suites took three times as long beside them). Lowered, they take the CPU the other
 * suites leave idle while they wait on timers and child processes.
 */
const TOOL_PRIORITY = 10;

/** Runs a command to completion, collecting stdout and stderr together (never rejects on a non-zero exit). */
export const run = (command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CommandRun> =>
  new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Before it starts its own children (which inherit it): node takes far longer to load osls than this call.
    try {
      if (child.pid !== undefined) setPriority(child.pid, TOOL_PRIORITY);
    } catch {
      // Already gone (its exit is reported below), or not allowed here: it then runs at the normal priority.
    }
    let output = '';
    // Whole buffers, decoded once: a chunk may end inside a multi-byte character.
    const stdout: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ exitCode, output, stdout: Buffer.concat(stdout).toString('utf8'), durationMs: Date.now() - started }));
  });

/** A function as osls packaged it. */
export interface PackagedFunction {
  /** Its key under `functions:` in serverless.yml. */
  readonly key: string;
  /** The deployed function name (`<service>-<stage>-<key>`). */
  readonly name: string;
  /** `src/handlers/<file>.<export>`. */
  readonly handler: string;
  /** Absolute path of its zip. */
  readonly artifact: string;
  /** Its AWS::Lambda::Function resource. */
  readonly logicalId: string;
  readonly resource: CfnResource;
}

/** One service after `osls package`: its CloudFormation template and its function zips. */
export interface PackagedService {
  readonly directory: string;
  readonly template: CfnTemplate;
  readonly functions: PackagedFunction[];
}

interface ServerlessState {
  service: { functions: Record<string, { name: string; handler: string; package: { artifact: string } }> };
}

/** Reads what `osls package` left in `<directory>/.serverless`. */
export const readPackagedService = (directory: string): PackagedService => {
  const outputDir = join(directory, '.serverless');
  const template = JSON.parse(readFileSync(join(outputDir, 'cloudformation-template-update-stack.json'), 'utf8')) as CfnTemplate;
  const state = JSON.parse(readFileSync(join(outputDir, 'serverless-state.json'), 'utf8')) as ServerlessState;
  const functions = Object.entries(state.service.functions).map(([key, fn]) => {
    const found = Object.entries(template.Resources).find(([, resource]) => resource.Type === 'AWS::Lambda::Function' && resource.Properties?.FunctionName === fn.name);
    if (!found) throw new Error(`function ${fn.name} is not in the template of ${directory}`);
    return { key, name: fn.name, handler: fn.handler, artifact: join(directory, fn.package.artifact), logicalId: found[0], resource: found[1] };
  });
  return { directory, template, functions };
};

/** A top-level package of a `node_modules` tree: its version, and whether `require(name)` loads it there. */
export interface PackageLoad {
  /** null when its package.json cannot be read there. */
  readonly version: string | null;
  readonly loads: boolean;
}

/**
 * Requires every top-level package of `<root>/node_modules` by name, each from `from` (default: `root`), in a child
 * process of its own (plain node: no jest module registry, no transform), and reports what loaded. With `from` set
 * to another tree (the repository), the same names are loaded as they were published there, which is what a pruned
 * tree is compared with.
 */
export const requireEveryPackage = (root: string, from: string = root): Record<string, PackageLoad> => {
  const script = [
    "const { readdirSync, readFileSync } = require('node:fs');",
    "const path = require('node:path');",
    'const [root, from] = process.argv.slice(1);',
    "const modules = path.join(root, 'node_modules');",
    'const names = [];',
    'for (const entry of readdirSync(modules)) {',
    "  if (entry.startsWith('.')) continue;",
    "  if (entry.startsWith('@')) for (const scoped of readdirSync(path.join(modules, entry))) names.push(`${entry}/${scoped}`);",
    '  else names.push(entry);',
    '}',
    'const report = {};',
    'for (const name of names) {',
    '  let version = null;',
    '  let loads = false;',
    "  try { version = JSON.parse(readFileSync(path.join(from, 'node_modules', name, 'package.json'), 'utf8')).version; } catch {}",
    '  try { require(require.resolve(name, { paths: [from] })); loads = true; } catch {}',
    '  report[name] = { version, loads };',
    '}',
    // A package that leaves a timer or a socket open must not keep this process alive.
    'process.stdout.write(JSON.stringify(report), () => process.exit(0));',
  ].join('\n');
  const out = execFileSync(process.execPath, ['-e', script, root, from], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 16 * 1024 * 1024,
    timeout: 120_000,
  });
  return JSON.parse(out) as Record<string, PackageLoad>;
};
