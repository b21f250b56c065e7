"""Tests of the client against a real ``auth-session serve``: e2e's TestClients
starts one and runs them (``go test ./e2e/ -run TestClients``). By hand:
AUTH_SESSION_CLIENT_TEST_URL, _USER, _PASSWORD, _ADMIN and _ADMIN_PASSWORD name
the server, a user whose sessions the tests may revoke, and a member of admin;
then ``python3 -m unittest discover -s tests`` in clients/python."""

from __future__ import annotations

import dataclasses
import json
import os
import typing
import unittest
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from typing import Any, Optional

from auth_session_client import (
    SESSION_HEADER,
    AuthSessionClient,
    AuthSessionError,
    Selection,
)
from auth_session_client import _wire as wire


def env(name: str) -> str:
    value = os.environ.get("AUTH_SESSION_CLIENT_TEST_" + name)
    if not value:
        raise RuntimeError(
            f"AUTH_SESSION_CLIENT_TEST_{name} is not set: run these tests with go test ./e2e/ -run TestClients"
        )
    return value


URL = env("URL")
USER = env("USER")
PASSWORD = env("PASSWORD")
ADMIN = env("ADMIN")
ADMIN_PASSWORD = env("ADMIN_PASSWORD")
REFUSED = "a valid authentication cookie is required"
LOGIN_REFUSED = "the username and password were refused"


def logged_in(name: str = USER, password: str = PASSWORD) -> AuthSessionClient:
    client = AuthSessionClient(URL)
    client.login(name, password)
    return client


class ClientTest(unittest.TestCase):
    def assert_refused(self, call: Any, status: int, message: str, *args: Any) -> None:
        """Fails unless call(*args) raises AuthSessionError of status with a
        message that starts with message."""
        with self.assertRaises(AuthSessionError) as cm:
            call(*args)
        self.assertEqual(cm.exception.status, status)
        self.assertTrue(
            cm.exception.server_message.startswith(message),
            f"{cm.exception.server_message!r} does not start with {message!r}",
        )
        self.assertEqual(str(cm.exception), f"HTTP {status}: {cm.exception.server_message}")

    def test_login_with_a_wrong_password_is_the_servers_401(self) -> None:
        client = AuthSessionClient(URL)
        self.assert_refused(client.login, 401, LOGIN_REFUSED, USER, "wrong")
        self.assertIsNone(client.session)

    def test_login_whoami_logout(self) -> None:
        client = AuthSessionClient(URL + "/")
        login = client.login(USER, PASSWORD)
        self.assertEqual(login.username, USER)
        self.assertTrue(login.session_id.isdigit())
        self.assertGreater(login.expires_at, datetime.now(timezone.utc))
        # Compared, never printed: a session is a secret.
        self.assertTrue(client.session == login.session, "the client does not hold the session it logged in with")
        self.assertNotIn(login.session, repr(login))
        self.assertNotIn(login.session, repr(client))

        me = client.whoami()
        self.assertEqual(me, wire.Identity(USER, login.session_id, login.expires_at))

        # A second client presents the same session without logging in.
        same = AuthSessionClient(URL, session=login.session)
        self.assertEqual(same.whoami().session_id, login.session_id)

        out = client.logout()
        self.assertEqual(out.session_id, login.session_id)
        self.assertIsInstance(out.revoked_at, datetime)
        self.assertIsNone(client.session)
        self.assert_refused(same.whoami, 401, REFUSED)

    def test_sessions_list_revoke_revoke_all_keeps_the_current_one(self) -> None:
        client = logged_in()
        client.sessions.revoke_all()  # whatever earlier tests left
        other, third = logged_in(), logged_in()

        sessions = client.sessions.list()
        self.assertEqual(len(sessions), 3)
        me = client.whoami().session_id
        self.assertEqual([s.id for s in sessions if s.current], [me])
        for s in sessions:
            self.assertEqual(s.ip, "127.0.0.1")
            self.assertTrue(s.user_agent.startswith("Python-urllib/"), s.user_agent)
            # Logged in over HTTP: the login is its last use so far.
            self.assertEqual((s.last_ip, s.last_user_agent), (s.ip, s.user_agent))
            self.assertEqual(s.created_at.tzinfo, timezone.utc)
        created = [s.created_at for s in sessions]
        self.assertEqual(created, sorted(created, reverse=True), "newest first")

        other_id = other.whoami().session_id
        self.assertFalse(client.sessions.revoke(other_id))
        self.assert_refused(other.whoami, 401, REFUSED)
        self.assert_refused(client.sessions.revoke, 404, "session not found", "1")
        self.assert_refused(client.sessions.revoke, 404, "session not found", "not-an-id")

        # Sign out everywhere else: the third goes, this one stays.
        self.assertEqual(client.sessions.revoke_all(), 1)
        self.assert_refused(third.whoami, 401, REFUSED)
        self.assertEqual([s.id for s in client.sessions.list()], [me])

        # The current session, by id: revoked, and reported as current.
        self.assertTrue(client.sessions.revoke(me))
        self.assert_refused(client.sessions.list, 401, REFUSED)

        last = logged_in()
        logged_in()
        self.assertEqual(last.sessions.revoke_all(keep_current=False), 2)
        self.assert_refused(last.whoami, 401, REFUSED)

    def test_admin_list_pages_revoke_logout_user_revoke_matching(self) -> None:
        root = logged_in(ADMIN, ADMIN_PASSWORD)
        root.admin.logout_user(USER)
        a, b = logged_in(), logged_in()
        a_id, b_id = a.whoami().session_id, b.whoami().session_id

        page = root.admin.list(user=USER, active=True)
        self.assertEqual([s.id for s in page.sessions], [b_id, a_id])
        self.assertIsNone(page.next)
        for s in page.sessions:
            self.assertEqual((s.username, s.via, s.active, s.current, s.revoked_at), (USER, "http", True, False, None))
        first = root.admin.list(user=USER, limit=1)
        self.assertEqual([s.id for s in first.sessions], [b_id])
        self.assertIsNotNone(first.next)
        second = root.admin.list(user=USER, limit=1, before=first.next)
        self.assertEqual([s.id for s in second.sessions], [a_id])

        revoked = root.admin.revoke(a_id)
        self.assertEqual((revoked.id, revoked.active), (a_id, False))
        self.assertIsInstance(revoked.revoked_at, datetime)
        self.assert_refused(a.whoami, 401, REFUSED)
        self.assert_refused(root.admin.revoke, 404, "session not found", "1")

        self.assertEqual(root.admin.logout_user(USER), 1)
        self.assert_refused(b.whoami, 401, REFUSED)

        # Revoking by selection: a dry run counts, the revocation revokes.
        c, d = logged_in(), logged_in()
        selection = Selection(users=[USER], state="active", via="http")
        self.assertEqual(
            root.admin.revoke_matching(selection, dry_run=True),
            wire.BulkRevokeResult(revoked=2, already_revoked=0, users=1, dry_run=True),
        )
        c.whoami()
        self.assertEqual(
            root.admin.revoke_matching(selection, reason="python client test"),
            wire.BulkRevokeResult(revoked=2, already_revoked=0, users=1, dry_run=False),
        )
        self.assert_refused(c.whoami, 401, REFUSED)
        self.assert_refused(d.whoami, 401, REFUSED)

        self.assert_refused(
            root.admin.revoke_matching, 400, 'invalid ip "300.1.1.1": want an IP address', Selection(ip="300.1.1.1")
        )
        self.assert_refused(root.admin.revoke_matching, 400, "the selection picks every session: give at least one of", Selection())

    def test_admin_routes_refuse_a_user_who_is_no_admin(self) -> None:
        client = logged_in()
        self.assert_refused(client.admin.list, 403, "admin role required")
        self.assert_refused(client.admin.logout_user, 403, "admin role required", ADMIN)
        self.assert_refused(client.admin.revoke_matching, 403, "admin role required", Selection(users=[ADMIN]))


def raw(method: str, path: str, session: Optional[str] = None, form: Optional[dict] = None, body: Any = None) -> Any:
    """A raw call of the API: the JSON body the server answered."""
    headers = {SESSION_HEADER: session} if session else {}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
    elif body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return json.loads(err.read())


class FieldsTest(unittest.TestCase):
    """Every body the server sends has exactly the fields the client declares."""

    def assert_same_keys(self, cls: type, value: Any, path: str) -> None:
        self.assertIsInstance(value, dict, path)
        self.assertEqual(
            sorted(value), sorted(f.name for f in dataclasses.fields(cls)), f"{path}: the server's keys, then the client's"
        )
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            if typing.get_origin(hint) is list:
                items = value[f.name]
                self.assertTrue(items, f"{path}.{f.name}: want a list with items to compare")
                for i, item in enumerate(items):
                    self.assert_same_keys(typing.get_args(hint)[0], item, f"{path}.{f.name}[{i}]")
            elif dataclasses.is_dataclass(hint):
                self.assert_same_keys(hint, value[f.name], f"{path}.{f.name}")

    def test_fields(self) -> None:
        login = raw("POST", "/api/v2/login/", form={"username": USER, "password": PASSWORD})
        self.assert_same_keys(wire.Login, login, "login")
        s = login["session"]
        self.assert_same_keys(wire.Identity, raw("GET", "/api/v2/whoami", s), "whoami")
        self.assert_same_keys(wire.OwnSessionsBody, raw("GET", "/api/v1/auth/sessions", s), "own sessions")
        self.assert_same_keys(wire.RevokedBody, raw("POST", "/api/v1/auth/logout-all?keep_current=true", s), "logout-all")
        self.assert_same_keys(wire.ErrorBody, raw("DELETE", "/api/v1/auth/sessions/1", s), "error")

        r = logged_in(ADMIN, ADMIN_PASSWORD).session
        self.assert_same_keys(wire.AdminPage, raw("GET", "/api/v1/admin/sessions?user=" + USER, r), "admin sessions")
        self.assert_same_keys(
            wire.BulkRevokeResult,
            raw("POST", "/api/v1/admin/sessions/revoke", r, body={"users": [USER], "dry_run": True}),
            "revoke by selection",
        )
        victim = logged_in().whoami().session_id
        self.assert_same_keys(wire.AdminRevokeBody, raw("DELETE", "/api/v1/admin/sessions/" + victim, r), "admin revoke")
        self.assert_same_keys(
            wire.IsCurrentBody, raw("DELETE", "/api/v1/auth/sessions/" + login["session_id"], s), "revoke own"
        )
        self.assert_same_keys(wire.RevokedBody, raw("POST", f"/api/v1/admin/users/{USER}/logout", r), "admin logout user")
        self.assert_same_keys(wire.Logout, raw("POST", "/api/v2/logout/", logged_in().session), "logout")


if __name__ == "__main__":
    unittest.main()
