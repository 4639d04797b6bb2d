/**
 * The house rule for the annex: no function in local/src runs over 80 lines (DEVELOPERS.md, issue 15), so the stack,
 * the pollers and the commands stay small named parts. Every function-like node with a body is measured from its
 * first to its last line by the TypeScript parser; a nested function counts on its own and inside its parent.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.join(__dirname, '..', 'src');
const MAX_LINES = 80;

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|mts)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });

/** `file:line name (N lines)` for every function of `text` longer than `max` lines. */
export function longFunctions(file: string, text: string, max = MAX_LINES): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.end).line;
      const holder = ts.isVariableDeclaration(node.parent) ? node.parent.name : undefined;
      const name = (node.name ?? holder)?.getText(source) ?? '(anonymous)';
      if (last - first + 1 > max) found.push(`${path.relative(SRC, file)}:${first + 1} ${name} (${last - first + 1} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('function length in local/src', () => {
  it('finds a long function, an arrow and a method, and not a short one (the measure can fail)', () => {
    // Prepare
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const text = [
      `function long() {\n${body(80)}\n}`,
      `const arrow = () => {\n${body(79)}\n};`,
      `class C {\n  method() {\n${body(81)}\n  }\n}`,
      `function short() {\n${body(78)}\n}`,
    ].join('\n');
    // Act
    const found = longFunctions(path.join(SRC, 'example.ts'), text);
    // Assess: 82 lines, 81 lines, 83 lines; the 80-line one passes.
    expect(found).toEqual(['example.ts:1 long (82 lines)', 'example.ts:83 arrow (81 lines)', 'example.ts:165 method (83 lines)']);
  });

  it(`has no function over ${MAX_LINES} lines`, () => {
    // Act
    const found = sourceFiles(SRC).flatMap((file) => longFunctions(file, readFileSync(file, 'utf8')));
    // Assess
    expect(found).toEqual([]);
  });
});
