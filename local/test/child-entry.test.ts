/**
 * Where the stack's child processes start from: beside their client (under tsx from the sources), or, for a stack run
 * from the sources with CLAIMS_CDC_COMPILED_STACK_DIR set (the tests, while local/dist is current), from a compiled
 * tree with plain node. A handler process started from the compiled tree must import its handler's compiled copy (it
 * cannot import TypeScript); a handler with no compiled copy (a test's fixture) keeps tsx. The compiled tree here is
 * built by the test, so what is expected is spelled out as literal paths.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHILD_PROFILE_ENV, childEntry, COMPILED_STACK_DIR_ENV, handlerChildEntry } from '../src/stack/child-entry';

const SOURCE_STACK_DIR = path.join(__dirname, '..', 'src', 'stack');
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const TRANSFORM = path.join(REPO_ROOT, 'services', 'transform', 'src', 'handlers', 'transform');
const FIXTURE = path.join(__dirname, 'fixtures', 'child-handler');

/** A compiled tree like local/dist: the stack's directory, and the transform handler's copy only. */
const compiledTree = (): { root: string; stackDir: string } => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-compiled-'));
  const stackDir = path.join(root, 'local', 'src', 'stack');
  mkdirSync(stackDir, { recursive: true });
  mkdirSync(path.join(root, 'services', 'transform', 'src', 'handlers'), { recursive: true });
  writeFileSync(path.join(root, 'services', 'transform', 'src', 'handlers', 'transform.js'), '');
  return { root, stackDir };
};

const usesTsx = (execArgv: readonly string[]): boolean => execArgv.includes('--import') && execArgv.some((arg) => arg.includes('tsx'));

describe('child process entries', () => {
  let tree: { root: string; stackDir: string };
  // A profile directory in the environment would add --cpu-prof flags to every entry.
  const profileDir = process.env[CHILD_PROFILE_ENV];
  beforeEach(() => {
    tree = compiledTree();
    delete process.env[COMPILED_STACK_DIR_ENV];
    delete process.env[CHILD_PROFILE_ENV];
  });
  afterEach(() => {
    delete process.env[COMPILED_STACK_DIR_ENV];
    if (profileDir !== undefined) process.env[CHILD_PROFILE_ENV] = profileDir;
    rmSync(tree.root, { recursive: true, force: true });
  });

  it('runs a child from its TypeScript source under tsx when no compiled tree is named', () => {
    // Act
    const aws = childEntry('aws-process');
    const handler = handlerChildEntry(TRANSFORM);
    // Assess
    expect(aws.file).toBe(path.join(SOURCE_STACK_DIR, 'aws-process.ts'));
    expect(usesTsx(aws.execArgv)).toBe(true);
    expect(handler).toMatchObject({ file: path.join(SOURCE_STACK_DIR, 'handler-process.ts'), handlerModule: TRANSFORM });
    expect(usesTsx(handler.execArgv)).toBe(true);
  });

  it('runs the AWS process and a handler process with its compiled handler from the named tree, with plain node', () => {
    // Prepare
    process.env[COMPILED_STACK_DIR_ENV] = tree.stackDir;
    // Act
    const aws = childEntry('aws-process');
    const handler = handlerChildEntry(TRANSFORM);
    // Assess
    expect(aws).toEqual({ file: path.join(tree.root, 'local', 'src', 'stack', 'aws-process.js'), execArgv: [] });
    expect(handler).toEqual({
      file: path.join(tree.root, 'local', 'src', 'stack', 'handler-process.js'),
      execArgv: [],
      handlerModule: path.join(tree.root, 'services', 'transform', 'src', 'handlers', 'transform.js'),
    });
  });

  it.each([
    ['a handler with no compiled copy (a test fixture)', FIXTURE],
    ['a handler outside the repository', path.join(os.tmpdir(), 'elsewhere', 'handler')],
  ])('keeps %s, and its process, on tsx', (_what, handlerModule) => {
    // Prepare
    process.env[COMPILED_STACK_DIR_ENV] = tree.stackDir;
    // Act
    const handler = handlerChildEntry(handlerModule);
    // Assess
    expect(handler).toMatchObject({ file: path.join(SOURCE_STACK_DIR, 'handler-process.ts'), handlerModule });
    expect(usesTsx(handler.execArgv)).toBe(true);
  });
});
