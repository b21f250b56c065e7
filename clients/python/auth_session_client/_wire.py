"""The JSON bodies of the API (docs/http-api.md, "JSON fields"), as dataclasses.

A dataclass's fields are the client's one list of a body's keys: the decoder
reads exactly those, with the types their annotations give, and the tests
compare them with the keys a live server sends.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional, TypeVar


@dataclass(frozen=True)
class Identity:
    """The caller of a request, as ``GET /api/v2/whoami`` reports it."""

    username: str
    session_id: str
    expires_at: datetime


@dataclass(frozen=True)
class Login:
    """The answer to a password login: the new session."""

    #: The session's value, for the ``X-Auth-Session`` header. A secret,
    #: left out of repr().
    session: str = field(repr=False)
    username: str
    session_id: str
    expires_at: datetime


@dataclass(frozen=True)
class Logout:
    """The answer to ``POST /api/v2/logout/``: the session it revoked."""

    session_id: str
    revoked_at: datetime


@dataclass(frozen=True)
class OwnSession:
    """One of the caller's active sessions (``GET /api/v1/auth/sessions``)."""

    #: The session id, a decimal string.
    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    #: The address the session was made from over HTTP; "" for a CLI login.
    ip: str
    #: The User-Agent of the login; "" for a CLI login.
    user_agent: str
    #: The address of the session's last use over HTTP, as of last_used_at;
    #: "" before its first (a CLI login).
    last_ip: str
    #: The User-Agent of that use; "" before the first.
    last_user_agent: str
    #: True for the session making the request.
    current: bool


@dataclass(frozen=True)
class AdminSession:
    """A session as the admin routes show it."""

    id: str
    username: str
    created_at: datetime
    expires_at: datetime
    #: None while the session is not revoked.
    revoked_at: Optional[datetime]
    last_used_at: datetime
    #: "active", "idle", "expired" or "revoked", as ``auth-session list`` shows it.
    status: str
    #: Why the credential check revoked the session ("password changed", "role
    #: disabled", ...); None for any other revocation.
    revoke_reason: Optional[str]
    ip: str
    user_agent: str
    #: The address and User-Agent of the last use over HTTP; "" before the first.
    last_ip: str
    last_user_agent: str
    #: How the session was made: "cli" or "http".
    via: str
    #: Who made it: the admin for "cli", the user for "http".
    actor: str
    #: Neither revoked nor expired.
    active: bool
    #: The session the client presents.
    current: bool


@dataclass(frozen=True)
class AdminPage:
    """One page of the admin listing, newest first."""

    sessions: list[AdminSession]
    #: The ``before`` of the next page; None on the last page.
    next: Optional[str]


@dataclass(frozen=True)
class BulkRevokeResult:
    """What a revocation by selection did, or would have done (a dry run)."""

    #: Sessions revoked (or that would be).
    revoked: int
    #: Sessions picked that were revoked before.
    already_revoked: int
    #: The users of the sessions revoked.
    users: int
    dry_run: bool


# The bodies that only wrap a value the client's methods return.


@dataclass(frozen=True)
class OwnSessionsBody:
    sessions: list[OwnSession]


@dataclass(frozen=True)
class IsCurrentBody:
    is_current: bool


@dataclass(frozen=True)
class RevokedBody:
    revoked: int


@dataclass(frozen=True)
class AdminRevokeBody:
    session: AdminSession


@dataclass(frozen=True)
class ErrorBody:
    error: str


T = TypeVar("T")


def decode(cls: type[T], value: Any, path: str = "body") -> T:
    """Checks that value has every field of the dataclass cls, with its type,
    and returns them decoded. Keys cls does not name are left out, so a server
    newer than the client still works; a missing or mistyped field is a
    ValueError naming it (path is where value is, such as "sessions[2]")."""
    if not isinstance(value, dict):
        raise ValueError(f"{path}: want a JSON object, got {_describe(value)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        where = f"{path}.{f.name}"
        if f.name not in value:
            raise ValueError(f"{where}: missing")
        kwargs[f.name] = _decode_field(hints[f.name], value[f.name], where)
    return cls(**kwargs)


def _decode_field(hint: Any, value: Any, path: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union and type(None) in args:
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(f"{path}: want a list, got {_describe(value)}")
        return [_decode_field(args[0], item, f"{path}[{i}]") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(hint):
        return decode(hint, value, path)
    if hint is datetime and isinstance(value, str):
        return parse_time(value, path)
    # bool is an int in Python: ask for the exact type.
    if hint in (str, int, bool) and type(value) is hint:
        return value
    raise ValueError(f"{path}: want {getattr(hint, '__name__', hint)}, got {_describe(value)}")


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def parse_time(text: str, path: str = "time") -> datetime:
    """Parses an RFC 3339 time as the server writes them (UTC, up to nine
    fractional digits) into an aware datetime; Python before 3.11 reads only
    six digits and no "Z"."""
    m = _RFC3339.fullmatch(text)
    if not m:
        raise ValueError(f"{path}: want an RFC 3339 time, got {_describe(text)}")
    whole, fraction, zone = m.groups()
    fraction = (fraction or "")[:6].ljust(6, "0")
    return datetime.fromisoformat(f"{whole}.{fraction}{'+00:00' if zone == 'Z' else zone}")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value[:60])
    return type(value).__name__
