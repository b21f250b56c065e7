import {
  bodies,
  decode,
  type AdminPage,
  type AdminSession,
  type BulkRevokeResult,
  type Identity,
  type Login,
  type Logout,
  type OwnSession,
  type Spec,
} from "./wire.js";

/** The request header the client presents its session in. */
export const sessionHeader = "X-Auth-Session";

/**
 * An answer of the server other than a success: its HTTP status and the
 * `error` of its JSON body (or the body's text, or the status text).
 */
export class AuthSessionError extends Error {
  override name = "AuthSessionError";

  constructor(
    /** The HTTP status, such as 401 or 404. */
    readonly status: number,
    /** The server's message, such as "session not found". */
    readonly serverMessage: string,
  ) {
    super(`HTTP ${status}: ${serverMessage}`);
  }
}

/** Options of an AuthSessionClient. */
export interface ClientOptions {
  /**
   * A session value to present without logging in, such as the one
   * `auth-session login USER --only-value` prints.
   */
  session?: string;
  /** How long one request may take, in milliseconds; 30000 unless set. */
  timeoutMs?: number;
}

/** One call of the API. */
interface Call {
  method: "GET" | "POST" | "DELETE";
  path: string;
  query?: URLSearchParams;
  form?: URLSearchParams;
  json?: unknown;
  /** Leave the session out (login). */
  anonymous?: boolean;
}

/**
 * A client of the API of one `auth-session serve`. It presents its session
 * in the X-Auth-Session header, so it needs no cookie jar and passes the
 * server's CSRF guard. `sessions` is the caller's own sessions, `admin` the
 * admin routes; both share the client's session.
 */
export class AuthSessionClient {
  readonly baseURL: string;
  readonly sessions: SessionsClient;
  readonly admin: AdminClient;
  #session: string | undefined;
  #timeoutMs: number;

  /** baseURL is the server's, such as "https://127.0.0.1:8080". */
  constructor(baseURL: string, options: ClientOptions = {}) {
    this.baseURL = baseURL.replace(/\/+$/, "");
    this.#session = options.session;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.sessions = new SessionsClient(this);
    this.admin = new AdminClient(this);
  }

  /** The session value the client presents; undefined when none. */
  get session(): string | undefined {
    return this.#session;
  }

  /**
   * Signs in with a password (checked by the database) and keeps the new
   * session for the calls that follow. Every refusal is a 401, whatever the
   * reason; a throttled login is a 429.
   */
  async login(username: string, password: string): Promise<Login> {
    const login = await this.call(bodies.login, {
      method: "POST",
      path: "/api/v2/login/",
      form: new URLSearchParams({ username, password }),
      anonymous: true,
    });
    this.#session = login.session;
    return login;
  }

  /** Returns the user and session the client is authenticated as. */
  whoami(): Promise<Identity> {
    return this.call(bodies.whoami, { method: "GET", path: "/api/v2/whoami" });
  }

  /** Revokes the client's own session and forgets it. */
  async logout(): Promise<Logout> {
    const out = await this.call(bodies.logout, { method: "POST", path: "/api/v2/logout/" });
    this.#session = undefined;
    return out;
  }

  /**
   * Sends c and decodes the answer's body with spec; an answer without a
   * body (204) is undefined. Any status but 2xx is an AuthSessionError.
   * @internal
   */
  async call<T>(spec: Spec<T>, c: Call): Promise<T>;
  async call<T>(spec: Spec<T>, c: Call, allowEmpty: true): Promise<T | undefined>;
  async call<T>(spec: Spec<T>, c: Call, allowEmpty = false): Promise<T | undefined> {
    const headers: Record<string, string> = { Accept: "application/json" };
    let body: string | undefined;
    if (c.form) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = c.form.toString();
    } else if (c.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(c.json);
    }
    if (this.#session !== undefined && !c.anonymous) {
      headers[sessionHeader] = this.#session;
    }
    const query = c.query?.toString() ? `?${c.query}` : "";
    const route = `${c.method} ${c.path}`;
    const init: RequestInit = { method: c.method, headers, signal: AbortSignal.timeout(this.#timeoutMs) };
    if (body !== undefined) {
      init.body = body;
    }
    const resp = await fetch(this.baseURL + c.path + query, init);
    const text = await resp.text();
    if (!resp.ok) {
      throw new AuthSessionError(resp.status, errorMessage(resp, text));
    }
    if (text === "") {
      if (allowEmpty) return undefined;
      throw new TypeError(`${route}: HTTP ${resp.status} with no body`);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new TypeError(`${route}: HTTP ${resp.status} answered with a body that is not JSON`);
    }
    return decode(spec, value, route);
  }
}

/** The message of an error answer: its "error" field, its text or its status. */
function errorMessage(resp: Response, text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === "object" && body !== null && "error" in body && typeof body.error === "string") {
      return body.error;
    }
  } catch {
    // not JSON: the text itself
  }
  const trimmed = text.trim();
  if (trimmed !== "") {
    return trimmed.length > 200 ? `${trimmed.slice(0, 200)}...` : trimmed;
  }
  return resp.statusText.toLowerCase() || "no message";
}

/** The caller's own sessions: `client.sessions`. */
export class SessionsClient {
  readonly #client: AuthSessionClient;

  constructor(client: AuthSessionClient) {
    this.#client = client;
  }

  /** The caller's active sessions, newest first; `current` marks the client's. */
  async list(): Promise<OwnSession[]> {
    const body = await this.#client.call(bodies.ownSessions, { method: "GET", path: "/api/v1/auth/sessions" });
    return body.sessions;
  }

  /**
   * Revokes one of the caller's sessions by id and resolves to true when
   * it was the client's own, which then no longer works. An id that does
   * not exist or is someone else's is the same AuthSessionError 404.
   */
  async revoke(id: string): Promise<boolean> {
    const body = await this.#client.call(
      bodies.revokeOwn,
      { method: "DELETE", path: `/api/v1/auth/sessions/${encodeURIComponent(id)}` },
      true,
    );
    return body?.is_current ?? false;
  }

  /**
   * Revokes all the caller's sessions but the client's own ("sign out
   * everywhere else"), or every one with `{ keepCurrent: false }`, in one
   * statement on the server; resolves to how many it revoked.
   */
  async revokeAll(options: { keepCurrent?: boolean } = {}): Promise<number> {
    const keepCurrent = options.keepCurrent ?? true;
    const body = await this.#client.call(bodies.revoked, {
      method: "POST",
      path: "/api/v1/auth/logout-all",
      query: new URLSearchParams(keepCurrent ? { keep_current: "true" } : {}),
    });
    return body.revoked;
  }
}

/** Selects a page of the admin listing; every field is optional. */
export interface AdminListFilter {
  /** Only this user's sessions. */
  user?: string;
  /** Only sessions neither revoked nor expired. */
  active?: boolean;
  /** The most sessions on the page, 1 to 5000; the server's default is 500. */
  limit?: number;
  /** Continue a listing: the `next` of the previous page. */
  before?: string;
}

/**
 * Picks sessions for a revocation by selection, as the selection flags of
 * `auth-session list` and `revoke` do: each field set narrows it. Times are
 * RFC 3339 or a duration ago ("2h", "7d"); durations as the CLI writes them.
 */
export interface Selection {
  users?: string[];
  /** Leaves out these users' sessions. */
  except_users?: string[];
  /** Leaves out the sessions of these roles' members, and of the roles. */
  except_roles?: string[];
  /** active, idle, expired, revoked or all */
  state?: string;
  expired_within?: string;
  created_before?: string;
  created_after?: string;
  idle_for?: string;
  /** An address or a CIDR network. */
  ip?: string;
  /** A substring of the User-Agent. */
  user_agent?: string;
  /** cli or http */
  via?: string;
}

/** The admin routes, for a superuser or a member of `admin`; others get a 403. */
export class AdminClient {
  readonly #client: AuthSessionClient;

  constructor(client: AuthSessionClient) {
    this.#client = client;
  }

  /** One page of every user's sessions, newest first. */
  list(filter: AdminListFilter = {}): Promise<AdminPage> {
    const query = new URLSearchParams();
    if (filter.user !== undefined) query.set("user", filter.user);
    if (filter.active !== undefined) query.set("active", String(filter.active));
    if (filter.limit !== undefined) query.set("limit", String(filter.limit));
    if (filter.before !== undefined) query.set("before", filter.before);
    return this.#client.call(bodies.adminSessions, { method: "GET", path: "/api/v1/admin/sessions", query });
  }

  /**
   * Revokes any user's session by id and resolves to its row; a session
   * revoked before keeps its first revocation time. Unknown id: 404.
   */
  async revoke(id: string): Promise<AdminSession> {
    const body = await this.#client.call(bodies.adminRevoke, {
      method: "DELETE",
      path: `/api/v1/admin/sessions/${encodeURIComponent(id)}`,
    });
    return body.session;
  }

  /** Revokes every session of the user named; resolves to how many. */
  async logoutUser(username: string): Promise<number> {
    const body = await this.#client.call(bodies.revoked, {
      method: "POST",
      path: `/api/v1/admin/users/${encodeURIComponent(username)}/logout`,
    });
    return body.revoked;
  }

  /**
   * Revokes every session the selection picks, in one transaction, with
   * `reason` in the audit trail; a dry run counts them and changes nothing.
   * A selection of every session, or a bad value, is a 400 naming the field.
   */
  revokeMatching(
    selection: Selection,
    options: { dryRun?: boolean; reason?: string } = {},
  ): Promise<BulkRevokeResult> {
    const json: Record<string, unknown> = { ...selection, dry_run: options.dryRun ?? false };
    if (options.reason !== undefined) json.reason = options.reason;
    return this.#client.call(bodies.bulkRevoke, { method: "POST", path: "/api/v1/admin/sessions/revoke", json });
  }
}
