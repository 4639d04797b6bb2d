/**
 * Writes sql/snowflake/*.sql and sql/duckdb/*.sql from the column registry and the dialects (see sql-files.ts).
 * `npm run sql:generate` rewrites them; `npm run sql:generate -- --check` only reports drift (exit 1).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { sqlFiles } from './sql-files';

const root = resolve(__dirname, '..', '..');
const check = process.argv.includes('--check');
const drifted: string[] = [];
for (const [path, content] of Object.entries(sqlFiles())) {
  const target = join(root, path);
  const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
  if (current === content) continue;
  drifted.push(path);
  if (check) continue;
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, content);
}
if (check && drifted.length > 0) {
  process.stderr.write(`out of date (run npm run sql:generate): ${drifted.join(', ')}\n`);
  process.exit(1);
}
process.stdout.write(drifted.length === 0 ? 'sql/ is up to date\n' : `wrote ${drifted.join(', ')}\n`);
