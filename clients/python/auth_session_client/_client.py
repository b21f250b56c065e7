"""The client: one AuthSessionClient per server, its sessions and admin parts."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any, List, Optional, TypeVar

from ._wire import (
    AdminPage,
    AdminRevokeBody,
    AdminSession,
    BulkRevokeResult,
    Identity,
    IsCurrentBody,
    Login,
    Logout,
    OwnSession,
    OwnSessionsBody,
    RevokedBody,
    decode,
)

#: The request header the client presents its session in.
SESSION_HEADER = "X-Auth-Session"

T = TypeVar("T")


class AuthSessionError(Exception):
    """An answer of the server other than a success: its HTTP status and the
    ``error`` of its JSON body (or the body's text, or the status text)."""

    def __init__(self, status: int, server_message: str) -> None:
        super().__init__(f"HTTP {status}: {server_message}")
        #: The HTTP status, such as 401 or 404.
        self.status = status
        #: The server's message, such as "session not found".
        self.server_message = server_message


class AuthSessionClient:
    """A client of the API of one ``auth-session serve``.

    It presents its session in the X-Auth-Session header, so it needs no
    cookie jar and passes the server's CSRF guard. ``sessions`` is the
    caller's own sessions, ``admin`` the admin routes; both share the
    client's session. ``session`` may be given to present a session without
    logging in, such as the value ``auth-session login USER --only-value``
    prints; ``timeout`` is per request, in seconds.
    """

    def __init__(self, base_url: str, session: Optional[str] = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = timeout
        self.sessions = SessionsClient(self)
        self.admin = AdminClient(self)

    def __repr__(self) -> str:
        # Never the session: it is a secret.
        return f"AuthSessionClient({self.base_url!r}, logged_in={self.session is not None})"

    def login(self, username: str, password: str) -> Login:
        """Signs in with a password (checked by the database) and keeps the new
        session for the calls that follow. Every refusal is a 401, whatever the
        reason; a throttled login is a 429."""
        form = urllib.parse.urlencode({"username": username, "password": password})
        login = self._call(Login, "POST", "/api/v2/login/", form=form, anonymous=True)
        self.session = login.session
        return login

    def whoami(self) -> Identity:
        """Returns the user and session the client is authenticated as."""
        return self._call(Identity, "GET", "/api/v2/whoami")

    def logout(self) -> Logout:
        """Revokes the client's own session and forgets it."""
        out = self._call(Logout, "POST", "/api/v2/logout/")
        self.session = None
        return out

    def _call(
        self,
        cls: type[T],
        method: str,
        path: str,
        query: Optional[dict[str, str]] = None,
        form: Optional[str] = None,
        body: Optional[dict[str, Any]] = None,
        anonymous: bool = False,
    ) -> T:
        """Sends a request and decodes the answer's body into cls; an answer
        without a body (204) is None. Any status but 2xx is an AuthSessionError."""
        headers = {"Accept": "application/json"}
        data = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = form.encode()
        elif body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        if self.session is not None and not anonymous:
            headers[SESSION_HEADER] = self.session
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        route = f"{method} {path}"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, text = resp.status, resp.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            with err:
                text = err.read().decode("utf-8", "replace")
            raise AuthSessionError(err.code, _error_message(err.code, err.reason, text)) from None
        if text == "":
            if status == 204:
                return None  # type: ignore[return-value]
            raise ValueError(f"{route}: HTTP {status} with no body")
        try:
            value = json.loads(text)
        except ValueError:
            raise ValueError(f"{route}: HTTP {status} answered with a body that is not JSON") from None
        return decode(cls, value, route)


def _error_message(status: int, reason: str, text: str) -> str:
    """The message of an error answer: its "error" field, its text or its status."""
    try:
        body = json.loads(text)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return body["error"]
    except ValueError:
        pass  # not JSON: the text itself
    text = text.strip()
    if text:
        return text if len(text) <= 200 else text[:200] + "..."
    return str(reason or f"HTTP {status}").lower()


class SessionsClient:
    """The caller's own sessions: ``client.sessions``."""

    def __init__(self, client: AuthSessionClient) -> None:
        self._client = client

    # List, not list: the method's name hides the builtin in the class.
    def list(self) -> List[OwnSession]:
        """The caller's active sessions, newest first; ``current`` marks the client's."""
        return self._client._call(OwnSessionsBody, "GET", "/api/v1/auth/sessions").sessions

    def revoke(self, session_id: str) -> bool:
        """Revokes one of the caller's sessions by id and returns True when it
        was the client's own, which then no longer works. An id that does not
        exist or is someone else's is the same AuthSessionError 404."""
        path = "/api/v1/auth/sessions/" + urllib.parse.quote(session_id, safe="")
        body: Optional[IsCurrentBody] = self._client._call(IsCurrentBody, "DELETE", path)
        return body is not None and body.is_current

    def revoke_all(self, keep_current: bool = True) -> int:
        """Revokes all the caller's sessions but the client's own ("sign out
        everywhere else"), or every one with keep_current=False, in one
        statement on the server; returns how many it revoked."""
        query = {"keep_current": "true"} if keep_current else None
        return self._client._call(RevokedBody, "POST", "/api/v1/auth/logout-all", query=query).revoked


@dataclass
class Selection:
    """Picks sessions for a revocation by selection, as the selection flags of
    ``auth-session list`` and ``revoke`` do: each field set narrows it. Times
    are RFC 3339 or a duration ago ("2h", "7d"); durations as the CLI writes
    them."""

    users: Optional[list[str]] = None
    #: Leaves out these users' sessions.
    except_users: Optional[list[str]] = None
    #: Leaves out the sessions of these roles' members, and of the roles.
    except_roles: Optional[list[str]] = None
    #: active, idle, expired, revoked or all
    state: Optional[str] = None
    expired_within: Optional[str] = None
    created_before: Optional[str] = None
    created_after: Optional[str] = None
    idle_for: Optional[str] = None
    #: An address or a CIDR network.
    ip: Optional[str] = None
    #: A substring of the User-Agent.
    user_agent: Optional[str] = None
    #: cli or http
    via: Optional[str] = None


class AdminClient:
    """The admin routes, for a superuser or a member of ``admin``; others get a 403."""

    def __init__(self, client: AuthSessionClient) -> None:
        self._client = client

    def list(
        self,
        user: Optional[str] = None,
        active: Optional[bool] = None,
        limit: Optional[int] = None,
        before: Optional[str] = None,
    ) -> AdminPage:
        """One page of every user's sessions, newest first: only ``user``'s,
        only active ones, at most ``limit`` (1 to 5000; the server's default is
        500), continuing from ``before`` (the ``next`` of the previous page)."""
        query: dict[str, str] = {}
        if user is not None:
            query["user"] = user
        if active is not None:
            query["active"] = "true" if active else "false"
        if limit is not None:
            query["limit"] = str(limit)
        if before is not None:
            query["before"] = before
        return self._client._call(AdminPage, "GET", "/api/v1/admin/sessions", query=query)

    def revoke(self, session_id: str) -> AdminSession:
        """Revokes any user's session by id and returns its row; a session
        revoked before keeps its first revocation time. Unknown id: 404."""
        path = "/api/v1/admin/sessions/" + urllib.parse.quote(session_id, safe="")
        return self._client._call(AdminRevokeBody, "DELETE", path).session

    def logout_user(self, username: str) -> int:
        """Revokes every session of the user named; returns how many."""
        path = "/api/v1/admin/users/" + urllib.parse.quote(username, safe="") + "/logout"
        return self._client._call(RevokedBody, "POST", path).revoked

    def revoke_matching(
        self, selection: Selection, dry_run: bool = False, reason: Optional[str] = None
    ) -> BulkRevokeResult:
        """Revokes every session the selection picks, in one transaction, with
        ``reason`` in the audit trail; a dry run counts them and changes
        nothing. A selection of every session, or a bad value, is a 400 naming
        the field."""
        body: dict[str, Any] = {
            k: v for k, v in asdict(selection).items() if v is not None
        }
        body["dry_run"] = dry_run
        if reason is not None:
            body["reason"] = reason
        return self._client._call(BulkRevokeResult, "POST", "/api/v1/admin/sessions/revoke", body=body)
