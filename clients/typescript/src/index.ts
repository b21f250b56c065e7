/**
 * A typed client of the HTTP API of `auth-session serve` (docs/http-api.md):
 * password login, whoami and logout; the caller's own sessions (`list`,
 * `revoke`, `revokeAll` keeping the current one); the admin routes (the
 * listing, revoking any session, a user's or a selection's). It needs
 * nothing but `fetch` (Node 20 or later, or a browser).
 *
 * ```ts
 * const client = new AuthSessionClient("http://127.0.0.1:8080");
 * await client.login("web_user", password);
 * const sessions = await client.sessions.list();
 * await client.sessions.revokeAll(); // sign out everywhere else
 * ```
 */
export {
  AdminClient,
  AuthSessionClient,
  AuthSessionError,
  SessionsClient,
  sessionHeader,
  type AdminListFilter,
  type ClientOptions,
  type Selection,
} from "./client.js";
export {
  bodies,
  type AdminPage,
  type AdminSession,
  type BulkRevokeResult,
  type Identity,
  type Login,
  type Logout,
  type OwnSession,
  type Spec,
} from "./wire.js";
