// Tests of the client against a real `auth-session serve`: e2e's
// TestClients starts one and runs them (`go test ./e2e/ -run TestClients`).
// By hand: AUTH_SESSION_CLIENT_TEST_URL, _USER, _PASSWORD, _ADMIN and
// _ADMIN_PASSWORD name the server, a user whose sessions the tests may
// revoke, and a member of admin; then `npm test`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { AuthSessionClient, AuthSessionError, bodies, sessionHeader, type Spec } from "../src/index.js";

function env(name: string): string {
  const value = process.env[`AUTH_SESSION_CLIENT_TEST_${name}`];
  if (!value) {
    throw new Error(`AUTH_SESSION_CLIENT_TEST_${name} is not set: run these tests with go test ./e2e/ -run TestClients`);
  }
  return value;
}

const url = env("URL");
const user = env("USER");
const password = env("PASSWORD");
const admin = env("ADMIN");
const adminPassword = env("ADMIN_PASSWORD");

async function loggedIn(name = user, pw = password): Promise<AuthSessionClient> {
  const client = new AuthSessionClient(url);
  await client.login(name, pw);
  return client;
}

/** Rejects unless promise fails with an AuthSessionError of status and message. */
async function rejectsWith(promise: Promise<unknown>, status: number, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof AuthSessionError, `want an AuthSessionError, got ${String(err)}`);
    assert.equal(err.status, status);
    if (typeof message === "string") {
      assert.equal(err.serverMessage, message);
    } else {
      assert.match(err.serverMessage, message);
    }
    assert.equal(err.message, `HTTP ${status}: ${err.serverMessage}`);
    return true;
  });
}

test("login with a wrong password is the server's 401", async () => {
  const client = new AuthSessionClient(url);
  await rejectsWith(client.login(user, "wrong"), 401, "the username and password were refused");
  assert.equal(client.session, undefined);
});

test("login, whoami and logout", async () => {
  const client = new AuthSessionClient(`${url}/`);
  const login = await client.login(user, password);
  assert.equal(login.username, user);
  assert.match(login.session_id, /^[0-9]+$/);
  assert.ok(login.expires_at instanceof Date && login.expires_at.getTime() > Date.now());
  // Compared, never printed: a session is a secret.
  assert.ok(client.session === login.session, "the client does not hold the session it logged in with");

  const me = await client.whoami();
  assert.deepEqual(me, { username: user, session_id: login.session_id, expires_at: login.expires_at });

  // A second client presents the same session without logging in.
  const same = new AuthSessionClient(url, { session: login.session });
  assert.equal((await same.whoami()).session_id, login.session_id);

  const out = await client.logout();
  assert.equal(out.session_id, login.session_id);
  assert.ok(out.revoked_at instanceof Date);
  assert.equal(client.session, undefined);
  await rejectsWith(same.whoami(), 401, "a valid authentication cookie is required");
});

test("sessions: list, revoke, revokeAll keeps the current one", async () => {
  const client = await loggedIn();
  await client.sessions.revokeAll(); // whatever earlier tests left
  const other = await loggedIn();
  const third = await loggedIn();

  const list = await client.sessions.list();
  assert.equal(list.length, 3);
  const me = (await client.whoami()).session_id;
  assert.deepEqual(
    list.filter((s) => s.current).map((s) => s.id),
    [me],
  );
  for (const s of list) {
    assert.ok(s.created_at instanceof Date && s.last_used_at instanceof Date && s.expires_at instanceof Date);
    assert.equal(s.ip, "127.0.0.1");
    assert.notEqual(s.user_agent, "");
    // Logged in over HTTP: the login is its last use so far.
    assert.equal(s.last_ip, s.ip);
    assert.equal(s.last_user_agent, s.user_agent);
  }
  assert.deepEqual(
    list.map((s) => s.created_at.getTime()),
    list.map((s) => s.created_at.getTime()).sort((a, b) => b - a),
    "newest first",
  );

  // Someone else's session of ours: revoked, not current.
  const otherID = (await other.whoami()).session_id;
  assert.equal(await client.sessions.revoke(otherID), false);
  await rejectsWith(other.whoami(), 401, "a valid authentication cookie is required");
  await rejectsWith(client.sessions.revoke("1"), 404, "session not found");
  await rejectsWith(client.sessions.revoke("not-an-id"), 404, "session not found");

  // Sign out everywhere else: the third goes, this one stays.
  assert.equal(await client.sessions.revokeAll(), 1);
  await rejectsWith(third.whoami(), 401, "a valid authentication cookie is required");
  assert.deepEqual(
    (await client.sessions.list()).map((s) => s.id),
    [me],
  );

  // The current session, by id: revoked, and reported as current.
  assert.equal(await client.sessions.revoke(me), true);
  await rejectsWith(client.sessions.list(), 401, "a valid authentication cookie is required");

  const last = await loggedIn();
  await loggedIn();
  assert.equal(await last.sessions.revokeAll({ keepCurrent: false }), 2);
  await rejectsWith(last.whoami(), 401, "a valid authentication cookie is required");
});

test("admin: list pages, revoke, logoutUser, revokeMatching", async () => {
  const root = await loggedIn(admin, adminPassword);
  await root.admin.logoutUser(user);
  const a = await loggedIn();
  const b = await loggedIn();
  const aID = (await a.whoami()).session_id;
  const bID = (await b.whoami()).session_id;

  const page = await root.admin.list({ user, active: true });
  assert.deepEqual(
    page.sessions.map((s) => s.id),
    [bID, aID],
  );
  assert.equal(page.next, null);
  for (const s of page.sessions) {
    assert.equal(s.username, user);
    assert.equal(s.via, "http");
    assert.equal(s.active, true);
    assert.equal(s.current, false);
    assert.equal(s.revoked_at, null);
  }
  const first = await root.admin.list({ user, limit: 1 });
  assert.deepEqual(
    first.sessions.map((s) => s.id),
    [bID],
  );
  assert.ok(first.next !== null);
  const second = await root.admin.list({ user, limit: 1, before: first.next });
  assert.deepEqual(
    second.sessions.map((s) => s.id),
    [aID],
  );

  const revoked = await root.admin.revoke(aID);
  assert.equal(revoked.id, aID);
  assert.equal(revoked.active, false);
  assert.ok(revoked.revoked_at instanceof Date);
  await rejectsWith(a.whoami(), 401, "a valid authentication cookie is required");
  await rejectsWith(root.admin.revoke("1"), 404, "session not found");

  assert.equal(await root.admin.logoutUser(user), 1);
  await rejectsWith(b.whoami(), 401, "a valid authentication cookie is required");

  // Revoking by selection: a dry run counts, the revocation revokes.
  const c = await loggedIn();
  const d = await loggedIn();
  const selection = { users: [user], state: "active", via: "http" };
  assert.deepEqual(await root.admin.revokeMatching(selection, { dryRun: true }), {
    revoked: 2,
    already_revoked: 0,
    users: 1,
    dry_run: true,
  });
  assert.ok(await c.whoami());
  assert.deepEqual(await root.admin.revokeMatching(selection, { reason: "typescript client test" }), {
    revoked: 2,
    already_revoked: 0,
    users: 1,
    dry_run: false,
  });
  await rejectsWith(c.whoami(), 401, "a valid authentication cookie is required");
  await rejectsWith(d.whoami(), 401, "a valid authentication cookie is required");

  await rejectsWith(root.admin.revokeMatching({ ip: "300.1.1.1" }), 400, /^invalid ip "300\.1\.1\.1": want an IP address/);
  await rejectsWith(root.admin.revokeMatching({}), 400, /^the selection picks every session: give at least one of/);
});

test("admin routes refuse a user who is no admin", async () => {
  const client = await loggedIn();
  await rejectsWith(client.admin.list(), 403, "admin role required");
  await rejectsWith(client.admin.logoutUser(admin), 403, "admin role required");
  await rejectsWith(client.admin.revokeMatching({ users: [admin] }), 403, "admin role required");
});

/** A raw call of the API: the JSON body the server answered. */
async function raw(method: string, path: string, session?: string, body?: URLSearchParams | object): Promise<unknown> {
  const init: RequestInit = { method, headers: session ? { [sessionHeader]: session } : {} };
  if (body instanceof URLSearchParams) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers = { ...init.headers, "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(url + path, init);
  return resp.json();
}

/** Fails unless value has exactly the keys of spec, at every level. */
function assertSameKeys(spec: Spec<unknown> | object, value: unknown, path: string): void {
  assert.ok(typeof value === "object" && value !== null, `${path}: not an object`);
  assert.deepEqual(Object.keys(value).sort(), Object.keys(spec).sort(), `${path}: the server's keys, then the client's`);
  for (const [key, kind] of Object.entries(spec)) {
    const field = (value as Record<string, unknown>)[key];
    if (Array.isArray(kind)) {
      assert.ok(Array.isArray(field) && field.length > 0, `${path}.${key}: want a list with items to compare`);
      field.forEach((item, i) => assertSameKeys(kind[0], item, `${path}.${key}[${i}]`));
    } else if (typeof kind === "object") {
      assertSameKeys(kind, field, `${path}.${key}`);
    }
  }
}

test("every body the server sends has exactly the fields the client declares", async () => {
  const form = new URLSearchParams({ username: user, password });
  const login = (await raw("POST", "/api/v2/login/", undefined, form)) as { session: string; session_id: string };
  assertSameKeys(bodies.login, login, "login");
  const s = login.session;
  assertSameKeys(bodies.whoami, await raw("GET", "/api/v2/whoami", s), "whoami");
  assertSameKeys(bodies.ownSessions, await raw("GET", "/api/v1/auth/sessions", s), "own sessions");
  assertSameKeys(bodies.revoked, await raw("POST", "/api/v1/auth/logout-all?keep_current=true", s), "logout-all");
  assertSameKeys(bodies.error, await raw("DELETE", "/api/v1/auth/sessions/1", s), "error");

  const root = await loggedIn(admin, adminPassword);
  const r = root.session;
  assertSameKeys(bodies.adminSessions, await raw("GET", `/api/v1/admin/sessions?user=${user}`, r), "admin sessions");
  assertSameKeys(bodies.bulkRevoke, await raw("POST", "/api/v1/admin/sessions/revoke", r, { users: [user], dry_run: true }), "revoke by selection");
  const victim = await loggedIn();
  const victimID = (await victim.whoami()).session_id;
  assertSameKeys(bodies.adminRevoke, await raw("DELETE", `/api/v1/admin/sessions/${victimID}`, r), "admin revoke");
  assertSameKeys(bodies.revokeOwn, await raw("DELETE", `/api/v1/auth/sessions/${login.session_id}`, s), "revoke own");
  assertSameKeys(bodies.revoked, await raw("POST", `/api/v1/admin/users/${user}/logout`, r), "admin logout user");
  const other = await loggedIn();
  assertSameKeys(bodies.logout, await raw("POST", "/api/v2/logout/", other.session), "logout");
});
