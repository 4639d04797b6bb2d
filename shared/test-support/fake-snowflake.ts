/**
 * A local HTTP endpoint that speaks just enough of Snowflake's REST protocol for the real `snowflake-sdk` to log in
 * (`/session/v1/login-request`), run statements (`/queries/v1/query-request`) and log out (`/session?delete=true`).
 * It records every login, statement (with its binds) and logout, and answers with scripted results (or, scripted,
 * never answers), so a test can assert what the driver SENDS. It executes nothing: what it proves and does not prove is in docs/snowflake.md.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One login the driver sent. */
export interface RecordedLogin {
  /** Query string of the login URL (warehouse, databaseName, schemaName, roleName). */
  readonly params: Record<string, string>;
  readonly accountName: string;
  readonly loginName: string;
  readonly authenticator: string;
  /** The JWT for SNOWFLAKE_JWT logins. */
  readonly token: string;
  readonly password: string | undefined;
  readonly sessionParameters: Record<string, unknown>;
  /** Session token handed out for it. */
  readonly sessionToken: string;
}

/** One bind variable as the driver sends it: a type and a value (a column of values for array binds). */
export interface RecordedBinding {
  readonly type: string;
  readonly value: string | null | ReadonlyArray<string | null>;
}

/** One statement the driver sent. */
export interface RecordedStatement {
  readonly sql: string;
  /** Session token the statement was sent with (which session, hence which transaction). */
  readonly sessionToken: string;
  /** Binds by position ("1", "2", ...), or undefined without binds. */
  readonly bindings: Record<string, RecordedBinding> | undefined;
  /** Set when the driver uploaded the binds to a stage instead of sending them inline. */
  readonly bindStage: string | undefined;
  readonly queryId: string;
}

/** A scripted answer. */
export type Reply =
  | { readonly rows: ReadonlyArray<Record<string, string | number | boolean | null>> }
  | { readonly dml: Record<string, number> }
  | { readonly error: { readonly code: string; readonly message: string; readonly sqlState?: string } }
  | { readonly goneSession: true }
  /** The statement never gets an answer: the request stays open (until the fake closes), as a lock wait or hung query would. */
  | { readonly never: true };

type Matcher = RegExp | ((statement: RecordedStatement) => boolean);

interface Script {
  readonly match: Matcher;
  readonly reply: Reply | ((statement: RecordedStatement) => Reply);
  times: number;
}

const DDL_TYPE_ID = 0x6000;
const STATEMENT_TYPE: Record<string, number> = { INSERT: 0x3100, UPDATE: 0x3200, DELETE: 0x3300, MERGE: 0x3400, SELECT: 0x1000, WITH: 0x1000 };

const column = (name: string, sample: unknown) =>
  typeof sample === 'boolean'
    ? { name, type: 'boolean', nullable: true, scale: null, precision: null, length: null, byteLength: null, collation: null, database: '', schema: '', table: '' }
    : typeof sample === 'number'
    ? { name, type: Number.isInteger(sample) ? 'fixed' : 'real', nullable: true, scale: 0, precision: 38, length: null, byteLength: null, collation: null, database: '', schema: '', table: '' }
    : { name, type: 'text', nullable: true, scale: null, precision: null, length: 16_777_216, byteLength: 16_777_216, collation: null, database: '', schema: '', table: '' };

/** A value as Snowflake's JSON result format carries it: text, booleans as "1"/"0", NULL as null. */
const cell = (value: string | number | boolean | null | undefined): string | null => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
};

/** The default answer for a statement nothing was scripted for: what Snowflake says for it, with zero counts. */
const defaultReply = (statement: RecordedStatement, sessionRoles: ReadonlySet<string>): Reply => {
  const verb = statement.sql.trimStart().split(/\s+/)[0]?.toUpperCase() ?? '';
  if (verb === 'INSERT') {
    const first = statement.bindings?.['1']?.value;
    return { dml: { 'number of rows inserted': Array.isArray(first) ? first.length : 0 } };
  }
  if (verb === 'UPDATE') return { dml: { 'number of rows updated': 0, 'number of multi-joined rows updated': 0 } };
  if (verb === 'DELETE') return { dml: { 'number of rows deleted': 0 } };
  if (verb === 'MERGE') return { dml: { 'number of rows inserted': 0, 'number of rows updated': 0, 'number of rows deleted': 0 } };
  // A context function the merge asks before it writes: answered from the roles the fake grants its sessions.
  const role = /^SELECT IS_ROLE_IN_SESSION\('([^']+)'\) AS (\w+)$/i.exec(statement.sql.trim());
  if (role) return { rows: [{ [(role[2] as string).toUpperCase()]: sessionRoles.has((role[1] as string).toUpperCase()) }] };
  if (verb === 'SELECT' || verb === 'WITH') return { rows: [] };
  return { rows: [{ status: 'Statement executed successfully.' }] };
};

/** The fake endpoint. Start with {@link FakeSnowflake.start}; point the driver's `accessUrl` at {@link url}. */
export class FakeSnowflake {
  readonly logins: RecordedLogin[] = [];
  readonly statements: RecordedStatement[] = [];
  /** Every request path, in order (login, query, telemetry, logout...). */
  readonly requests: string[] = [];
  /** Session tokens logged out (`/session?delete=true`), in order. */
  readonly logouts: string[] = [];
  /**
   * Roles `IS_ROLE_IN_SESSION` answers TRUE for (upper case), in every session. PHI_READER by default, as
   * `05-masking.sql` grants it to the pipeline role; delete it to play a revoked grant.
   */
  readonly sessionRoles = new Set<string>(['PHI_READER']);
  readonly #scripts: Script[] = [];
  readonly #liveSessions = new Set<string>();
  /**
   * Requests scripted never to be answered, by session. The session's logout ends them ("session gone"), as it ends
   * a running statement in Snowflake; {@link close} ends the rest.
   */
  readonly #unanswered: Array<{ readonly sessionToken: string; readonly res: ServerResponse }> = [];
  #sessions = 0;

  private constructor(
    readonly server: Server,
    readonly url: string,
  ) {}

  /** Listens on 127.0.0.1, on an ephemeral port. */
  static async start(): Promise<FakeSnowflake> {
    let fake: FakeSnowflake | undefined;
    const server = createServer((req, res) => {
      void fake?.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    fake = new FakeSnowflake(server, `http://127.0.0.1:${port}`);
    return fake;
  }

  /** Answers the next `times` statements that match with `reply` (first matching script wins). */
  on(match: Matcher, reply: Reply | ((statement: RecordedStatement) => Reply), times = Number.POSITIVE_INFINITY): this {
    this.#scripts.push({ match, reply, times });
    return this;
  }

  /** Forgets every session, as Snowflake does when sessions expire: their next request gets "session gone". */
  dropSessions(): void {
    this.#liveSessions.clear();
  }

  /** SQL texts in order, optionally only those of one session. */
  sql(sessionToken?: string): string[] {
    return this.statements.filter((s) => sessionToken === undefined || s.sessionToken === sessionToken).map((s) => s.sql);
  }

  async close(): Promise<void> {
    this.#answerUnanswered(() => true);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push(url.pathname);
    const body = await readJson(req);
    if (url.pathname === '/session/v1/login-request') return this.#login(url, body, res);
    const token = /Snowflake Token="([^"]*)"/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (!this.#liveSessions.has(token)) return send(res, { success: false, code: '390111', message: 'Session no longer exists.  New login required to access the service.', data: null });
    if (url.pathname === '/queries/v1/query-request') return this.#query(token, body, res);
    if (url.pathname === '/session' && url.searchParams.get('delete') === 'true') {
      this.#liveSessions.delete(token);
      this.logouts.push(token);
      this.#answerUnanswered((sessionToken) => sessionToken === token);
      return send(res, { success: true, data: null, code: null, message: null });
    }
    // Telemetry and anything else the driver sends on the side.
    return send(res, { success: true, data: null, code: null, message: null });
  }

  #answerUnanswered(which: (sessionToken: string) => boolean): void {
    for (const pending of this.#unanswered.filter(({ sessionToken }) => which(sessionToken))) {
      this.#unanswered.splice(this.#unanswered.indexOf(pending), 1);
      if (!pending.res.writableEnded) send(pending.res, SESSION_GONE);
    }
  }

  #login(url: URL, body: Record<string, unknown>, res: ServerResponse): void {
    const data = (body.data ?? {}) as Record<string, unknown>;
    this.#sessions += 1;
    const sessionToken = `session-token-${this.#sessions}`;
    this.#liveSessions.add(sessionToken);
    this.logins.push({
      params: Object.fromEntries(url.searchParams.entries()),
      accountName: String(data.ACCOUNT_NAME ?? ''),
      loginName: String(data.LOGIN_NAME ?? ''),
      authenticator: String(data.AUTHENTICATOR ?? ''),
      token: String(data.TOKEN ?? ''),
      password: data.PASSWORD === undefined ? undefined : String(data.PASSWORD),
      sessionParameters: (data.SESSION_PARAMETERS ?? {}) as Record<string, unknown>,
      sessionToken,
    });
    send(res, {
      success: true,
      code: null,
      message: null,
      data: {
        token: sessionToken,
        masterToken: `master-token-${this.#sessions}`,
        validityInSeconds: 3600,
        masterValidityInSeconds: 14_400,
        sessionId: this.#sessions,
        parameters: [{ name: 'CLIENT_STAGE_ARRAY_BINDING_THRESHOLD', value: 65_280 }],
        sessionInfo: { databaseName: url.searchParams.get('databaseName'), schemaName: url.searchParams.get('schemaName'), warehouseName: url.searchParams.get('warehouse'), roleName: url.searchParams.get('roleName') },
      },
    });
  }

  #query(sessionToken: string, body: Record<string, unknown>, res: ServerResponse): void {
    const queryId = randomUUID();
    const statement: RecordedStatement = {
      sql: String(body.sqlText ?? ''),
      sessionToken,
      bindings: body.bindings as Record<string, RecordedBinding> | undefined,
      bindStage: body.bindStage === undefined ? undefined : String(body.bindStage),
      queryId,
    };
    this.statements.push(statement);
    const script = this.#scripts.find((s) => s.times > 0 && (s.match instanceof RegExp ? s.match.test(statement.sql) : s.match(statement)));
    if (script) script.times -= 1;
    const reply = script ? (typeof script.reply === 'function' ? script.reply(statement) : script.reply) : defaultReply(statement, this.sessionRoles);
    if ('never' in reply) {
      this.#unanswered.push({ sessionToken, res });
      return;
    }
    if ('goneSession' in reply) {
      this.#liveSessions.delete(sessionToken);
      return send(res, { success: false, code: '390111', message: 'Session no longer exists.  New login required to access the service.', data: null });
    }
    if ('error' in reply) {
      return send(res, {
        success: false,
        code: reply.error.code,
        message: reply.error.message,
        data: { queryId, sqlState: reply.error.sqlState ?? '42000', errorCode: reply.error.code, internalError: false, age: 0 },
      });
    }
    const rows = 'rows' in reply ? reply.rows : [reply.dml];
    const names = rows.length > 0 ? Object.keys(rows[0] as object) : [];
    const verb = statement.sql.trimStart().split(/\s+/)[0]?.toUpperCase() ?? '';
    send(res, {
      success: true,
      code: null,
      message: null,
      data: {
        queryId,
        version: 1,
        queryResultFormat: 'json',
        parameters: [],
        rowtype: names.map((name) => column(name, rows.find((r) => r[name] !== null)?.[name] ?? '')),
        rowset: rows.map((r) => names.map((name) => cell(r[name]))),
        total: rows.length,
        returned: rows.length,
        statementTypeId: STATEMENT_TYPE[verb] ?? DDL_TYPE_ID,
      },
    });
  }
}

const SESSION_GONE = { success: false, code: '390111', message: 'Session no longer exists.  New login required to access the service.', data: null };

const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  let raw = Buffer.concat(chunks);
  // The driver gzips request bodies (and says so in Content-Encoding, most of the time).
  if (raw.length > 2 && raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw);
  if (raw.length === 0) return {};
  return JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
};

const send = (res: ServerResponse, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};
