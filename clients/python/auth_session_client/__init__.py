"""A typed client of the HTTP API of ``auth-session serve`` (docs/http-api.md).

Password login, whoami and logout; the caller's own sessions (``list``,
``revoke``, ``revoke_all`` keeping the current one); the admin routes (the
listing, revoking any session, a user's or a selection's). Standard library
only, Python 3.9 or later::

    client = AuthSessionClient("http://127.0.0.1:8080")
    client.login("web_user", password)
    for s in client.sessions.list():
        print(s.id, s.user_agent, s.current)
    client.sessions.revoke_all()  # sign out everywhere else
"""

from ._client import (
    SESSION_HEADER,
    AdminClient,
    AuthSessionClient,
    AuthSessionError,
    Selection,
    SessionsClient,
)
from ._wire import (
    AdminPage,
    AdminSession,
    BulkRevokeResult,
    Identity,
    Login,
    Logout,
    OwnSession,
)

__all__ = [
    "SESSION_HEADER",
    "AdminClient",
    "AdminPage",
    "AdminSession",
    "AuthSessionClient",
    "AuthSessionError",
    "BulkRevokeResult",
    "Identity",
    "Login",
    "Logout",
    "OwnSession",
    "Selection",
    "SessionsClient",
]
