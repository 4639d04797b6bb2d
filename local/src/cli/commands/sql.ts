import { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import type { ResultRow } from '@claims-cdc/shared/warehouse/port';
import { parse } from '../args';
import { CommandError, UsageError } from '../errors';
import type { Io } from '../io';
import { table } from '../output';

export const SQL_HELP = `Usage: claims-cdc sql "QUERY" [--db PATH] [--json]

Runs a query on the warehouse and prints the rows.
  --db PATH   query this DuckDB file directly (it must not be open in a running stack)
              without --db, the query goes to the running stack (claims-cdc up)
  --json      print rows as a JSON array`;

/** Runs a query on a DuckDB file opened by this process. */
export const queryFile = async (path: string, sql: string): Promise<ResultRow[]> => {
  const warehouse = await DuckDbWarehouse.open({ path });
  try {
    return await warehouse.query(sql);
  } catch (error) {
    throw new CommandError(`query failed: ${(error as Error).message.split('\n')[0]}`);
  } finally {
    await warehouse.close();
  }
};

/** `claims-cdc sql` */
export const sqlCommand = async (args: readonly string[], io: Io, viaStack?: (sql: string) => Promise<ResultRow[]>): Promise<number> => {
  const { values, positionals } = parse(args, { db: { type: 'string' }, json: { type: 'boolean' }, 'state-dir': { type: 'string' } }, SQL_HELP);
  if (values.help) {
    io.out(SQL_HELP);
    return 0;
  }
  const [sql, ...extra] = positionals;
  if (!sql) throw new UsageError(`sql needs a QUERY\n${SQL_HELP}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}' (quote the query)`);
  let rows: ResultRow[];
  if (typeof values.db === 'string') rows = await queryFile(values.db, sql);
  else if (viaStack) rows = await viaStack(sql);
  else throw new UsageError('give --db PATH, or start the stack with `claims-cdc up`');
  io.out(values.json ? JSON.stringify(rows) : table(rows));
  return 0;
};
