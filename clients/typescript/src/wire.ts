// The JSON bodies of the API (docs/http-api.md, "JSON fields"): each one
// an interface and a spec of its fields. The spec is the client's one list
// of a body's keys: the decoder reads exactly those, the compiler checks
// that it names every field of the interface with a matching kind, and the
// tests compare it with the keys a live server sends.

/** The caller of a request, as `GET /api/v2/whoami` reports it. */
export interface Identity {
  username: string;
  session_id: string;
  expires_at: Date;
}

/** The answer to a password login: the new session. */
export interface Login extends Identity {
  /** The session's value, for the `X-Auth-Session` header. A secret. */
  session: string;
}

/** The answer to `POST /api/v2/logout/`: the session it revoked. */
export interface Logout {
  session_id: string;
  revoked_at: Date;
}

/** One of the caller's active sessions (`GET /api/v1/auth/sessions`). */
export interface OwnSession {
  /** The session id, a decimal string (it exceeds 2^53). */
  id: string;
  created_at: Date;
  last_used_at: Date;
  expires_at: Date;
  /** The address the session was made from over HTTP; "" for a CLI login. */
  ip: string;
  /** The User-Agent of the login; "" for a CLI login. */
  user_agent: string;
  /** The address of the session's last use over HTTP, as of last_used_at; "" before its first (a CLI login). */
  last_ip: string;
  /** The User-Agent of that use; "" before the first. */
  last_user_agent: string;
  /** True for the session making the request. */
  current: boolean;
}

/** A session as the admin routes show it. */
export interface AdminSession {
  id: string;
  username: string;
  created_at: Date;
  expires_at: Date;
  /** null while the session is not revoked. */
  revoked_at: Date | null;
  last_used_at: Date;
  /** "active", "idle", "expired" or "revoked", as `auth-session list` shows it. */
  status: string;
  /** Why the credential check revoked the session ("password changed", "role disabled", ...); null for any other revocation. */
  revoke_reason: string | null;
  ip: string;
  user_agent: string;
  /** The address and User-Agent of the last use over HTTP; "" before the first. */
  last_ip: string;
  last_user_agent: string;
  /** How the session was made: "cli" or "http". */
  via: string;
  /** Who made it: the admin for "cli", the user for "http". */
  actor: string;
  /** Neither revoked nor expired. */
  active: boolean;
  /** The session the client presents. */
  current: boolean;
}

/** One page of the admin listing, newest first. */
export interface AdminPage {
  sessions: AdminSession[];
  /** The `before` of the next page; null on the last page. */
  next: string | null;
}

/** What a revocation by selection did, or would have done (a dry run). */
export interface BulkRevokeResult {
  /** Sessions revoked (or that would be). */
  revoked: number;
  /** Sessions picked that were revoked before. */
  already_revoked: number;
  /** The users of the sessions revoked. */
  users: number;
  dry_run: boolean;
}

/** The bodies that only wrap a value the client's methods return. */
export interface OwnSessionsBody {
  sessions: OwnSession[];
}
export interface IsCurrentBody {
  is_current: boolean;
}
export interface RevokedBody {
  revoked: number;
}
export interface AdminRevokeBody {
  session: AdminSession;
}
export interface ErrorBody {
  error: string;
}

/** The kind of a field: how it travels in JSON and what it decodes to. */
type Kind<T> = [T] extends [string]
  ? "string"
  : [T] extends [string | null]
    ? "string?"
    : [T] extends [number]
      ? "number"
      : [T] extends [boolean]
        ? "boolean"
        : [T] extends [Date]
          ? "time"
          : [T] extends [Date | null]
            ? "time?"
            : [T] extends [readonly (infer E)[]]
              ? readonly [Spec<E>]
              : Spec<T>;

/**
 * The fields of a JSON body of type T and their kinds: a time is an RFC 3339
 * string decoded to a Date, a "?" kind may be null, `[spec]` is a list.
 */
export type Spec<T> = { readonly [K in keyof T]-?: Kind<T[K]> };

const identity: Spec<Identity> = {
  username: "string",
  session_id: "string",
  expires_at: "time",
};

const ownSession: Spec<OwnSession> = {
  id: "string",
  created_at: "time",
  last_used_at: "time",
  expires_at: "time",
  ip: "string",
  user_agent: "string",
  last_ip: "string",
  last_user_agent: "string",
  current: "boolean",
};

const adminSession: Spec<AdminSession> = {
  id: "string",
  username: "string",
  created_at: "time",
  expires_at: "time",
  revoked_at: "time?",
  last_used_at: "time",
  status: "string",
  revoke_reason: "string?",
  ip: "string",
  user_agent: "string",
  last_ip: "string",
  last_user_agent: "string",
  via: "string",
  actor: "string",
  active: "boolean",
  current: "boolean",
};

/** The spec of every body the API answers, by route. */
export const bodies: {
  /** POST /api/v2/login/ */
  login: Spec<Login>;
  /** GET /api/v2/whoami */
  whoami: Spec<Identity>;
  /** POST /api/v2/logout/ */
  logout: Spec<Logout>;
  /** GET /api/v1/auth/sessions */
  ownSessions: Spec<OwnSessionsBody>;
  /** DELETE /api/v1/auth/sessions/{id} of the current session (others: 204, no body) */
  revokeOwn: Spec<IsCurrentBody>;
  /** POST /api/v1/auth/logout-all, and POST /api/v1/admin/users/{name}/logout */
  revoked: Spec<RevokedBody>;
  /** GET /api/v1/admin/sessions */
  adminSessions: Spec<AdminPage>;
  /** DELETE /api/v1/admin/sessions/{id} */
  adminRevoke: Spec<AdminRevokeBody>;
  /** POST /api/v1/admin/sessions/revoke */
  bulkRevoke: Spec<BulkRevokeResult>;
  /** every answer other than a success */
  error: Spec<ErrorBody>;
} = {
  login: { session: "string", ...identity },
  whoami: identity,
  logout: { session_id: "string", revoked_at: "time" },
  ownSessions: { sessions: [ownSession] },
  revokeOwn: { is_current: "boolean" },
  revoked: { revoked: "number" },
  adminSessions: { sessions: [adminSession], next: "string?" },
  adminRevoke: { session: adminSession },
  bulkRevoke: { revoked: "number", already_revoked: "number", users: "number", dry_run: "boolean" },
  error: { error: "string" },
};

/** A specification of fields at run time, whatever the type it decodes. */
type AnySpec = { readonly [key: string]: AnyKind };
type AnyKind = string | readonly [AnySpec] | AnySpec;

/**
 * decode checks that value has every field of spec, with its kind, and
 * returns them decoded. Fields the spec does not name are left out, so a
 * server newer than the client still works; a missing or mistyped field is
 * an error naming it (path is where value is, such as "sessions[2]").
 */
export function decode<T>(spec: Spec<T>, value: unknown, path = "body"): T {
  return decodeObject(spec as AnySpec, value, path) as T;
}

function decodeObject(spec: AnySpec, value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${path}: want a JSON object, got ${describe(value)}`);
  }
  const fields = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, kind] of Object.entries(spec)) {
    const where = `${path}.${key}`;
    if (!Object.hasOwn(fields, key)) {
      throw new TypeError(`${where}: missing`);
    }
    out[key] = decodeField(kind, fields[key], where);
  }
  return out;
}

function decodeField(kind: AnyKind, value: unknown, path: string): unknown {
  if (typeof kind !== "string") {
    if (!isList(kind)) {
      return decodeObject(kind, value, path);
    }
    if (!Array.isArray(value)) {
      throw new TypeError(`${path}: want a list, got ${describe(value)}`);
    }
    return value.map((item, i) => decodeObject(kind[0], item, `${path}[${i}]`));
  }
  if (kind.endsWith("?") && value === null) {
    return null;
  }
  switch (kind.replace(/\?$/, "")) {
    case "string":
      if (typeof value === "string") return value;
      break;
    case "number":
      if (typeof value === "number") return value;
      break;
    case "boolean":
      if (typeof value === "boolean") return value;
      break;
    case "time":
      if (typeof value === "string") {
        const t = new Date(value);
        if (!Number.isNaN(t.getTime())) return t;
      }
      break;
  }
  throw new TypeError(`${path}: want ${kind}, got ${describe(value)}`);
}

function isList(kind: readonly [AnySpec] | AnySpec): kind is readonly [AnySpec] {
  return Array.isArray(kind);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "string" ? JSON.stringify(value).slice(0, 60) : typeof value;
}
