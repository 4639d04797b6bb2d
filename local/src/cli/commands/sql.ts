import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ResultRow } from '@claims-cdc/shared/warehouse/port';
import { readStackInfo } from '../../stack/stack-client';
import { parse } from '../../console/args';
import { CommandError, UsageError } from '../../console/errors';
import type { Io } from '../../console/io';
import { table } from '../../console/output';
import { callControl } from '../../console/stack-call';
import { requireRunningStack, resolveStateDir } from '../../console/state-dir';

export const SQL_HELP = `Usage: claims-cdc sql "QUERY" [--json] [--state-dir DIR | --db PATH]

Runs one query on the warehouse and prints the rows. Only statements that read are accepted: SELECT, WITH,
FROM, VALUES, EXPLAIN, DESCRIBE, SHOW, SUMMARIZE; anything else (CREATE, INSERT, COPY, ATTACH, SET, ...), several
statements at once, and reading or writing files (read_csv, read_text, COPY ... TO) are refused. Errors never
quote values: '…' stands for what the warehouse quoted.
  (default)         the query goes to the running stack (claims-cdc up), which holds the warehouse: DuckDB allows
                    one writer process, so no other process opens the file while the stack runs
  --state-dir DIR   the stack's state directory (default .claims-cdc)
  --db PATH         query this DuckDB file directly (only when no stack holds it, e.g. after \`claims-cdc up\` stopped)
  --json            print rows as a JSON array`;

/**
 * Runs one statement that reads on a DuckDB file opened by this process, read-only and with file access off, so
 * the statement can neither change the file nor reach any other.
 */
export const queryFile = async (file: string, sql: string): Promise<ResultRow[]> => {
  const holder = stackHolding(file);
  if (holder) {
    throw new CommandError(
      `warehouse ${file} is held by the stack running in ${holder.stateDir} (pid ${holder.pid}); query it through the stack: claims-cdc sql "..." --state-dir ${holder.stateDir}`,
    );
  }
  // A read-only open cannot create the file (a plain open would, empty).
  if (!existsSync(file)) throw new CommandError(`no warehouse at ${file}`);
  // Imported here: DuckDB's native module is only loaded by the commands that open a file.
  const { DuckDbWarehouse } = await import('@claims-cdc/shared/warehouse/duckdb');
  const { ReadOnlyQueries } = await import('../../inspect/read-only-sql');
  const opened = await DuckDbWarehouse.open({ path: file, readOnly: true });
  const warehouse = new ReadOnlyQueries(opened, opened);
  try {
    return await warehouse.query(sql);
  } catch (error) {
    throw new CommandError(`query failed: ${(error as Error).message.split('\n')[0]}`);
  } finally {
    await warehouse.close();
  }
};

/** The running stack whose warehouse is this file (its state directory is the file's directory), if any. */
const stackHolding = (file: string) => {
  const dir = path.dirname(path.resolve(file));
  const info = existsSync(dir) ? readStackInfo(dir) : undefined;
  return info && path.resolve(file) === path.join(info.stateDir, 'warehouse.duckdb') ? info : undefined;
};

/** Runs a query on the warehouse of the stack running for a state directory. */
export const queryStack = async (stateDir: string, sql: string): Promise<ResultRow[]> => {
  const stack = requireRunningStack(stateDir);
  return (await callControl<{ rows: ResultRow[] }>(stack, 'sql', { sql })).rows;
};

/** `claims-cdc sql` */
export const sqlCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(args, { db: { type: 'string' }, json: { type: 'boolean' }, 'state-dir': { type: 'string' } }, SQL_HELP);
  if (values.help) {
    io.out(SQL_HELP);
    return 0;
  }
  const [sql, ...extra] = positionals;
  if (!sql) throw new UsageError(`sql needs a QUERY\n${SQL_HELP}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}' (quote the query)`);
  if (typeof values.db === 'string' && values['state-dir'] !== undefined) throw new UsageError('give --db PATH or --state-dir DIR, not both');
  const rows = typeof values.db === 'string' ? await queryFile(path.resolve(process.env.INIT_CWD ?? process.cwd(), values.db), sql) : await queryStack(resolveStateDir(values['state-dir']), sql);
  io.out(values.json ? JSON.stringify(rows) : table(rows));
  return 0;
};
