"""The finance workspace's session: what its cookie holds and when it ends. Pure.

The cookie is a signed token (``regie.kit.tokens``) holding the API key's *id* (never the
key), a random CSRF token, and two times: when the officer signed in (the absolute limit
counts from there) and when the session was last used (the idle limit counts from there).
A visitor who has not signed in yet gets a session without a key id, so that the login
form carries a CSRF token too; signing in replaces it with a new one (new CSRF token).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Literal

from regie.kit.tokens import derive_key, dumps, loads

COOKIE = "regie_finance"
COOKIE_PATH = "/finance"
PURPOSE = "finance-session"
TOKEN_BYTES = 32
# A used session is written again (new "seen" time) at most once a minute.
REFRESH_AFTER_SECONDS = 60
# Several replicas' clocks may differ a little: a session "seen" by one a moment ahead is fine.
CLOCK_SKEW_SECONDS = 300

Problem = Literal["missing", "invalid", "expired"]


@dataclass(frozen=True)
class Policy:
    idle_seconds: int
    max_seconds: int

    @classmethod
    def of(cls, idle_minutes: int, max_hours: int) -> Policy:
        return cls(idle_minutes * 60, max_hours * 3600)


@dataclass(frozen=True)
class Session:
    key_id: str | None
    csrf: str
    issued_at: int  # Unix seconds
    seen_at: int

    @property
    def signed_in(self) -> bool:
        return self.key_id is not None

    def expires_at(self, policy: Policy) -> int:
        return min(self.issued_at + policy.max_seconds, self.seen_at + policy.idle_seconds)

    def touched(self, now: int) -> Session | None:
        """The session with ``seen_at = now`` when it is worth writing again, else None."""
        if now - self.seen_at < REFRESH_AFTER_SECONDS:
            return None
        return replace(self, seen_at=now)


def new_session(key_id: str | None, now: int) -> Session:
    return Session(key_id, secrets.token_urlsafe(TOKEN_BYTES), now, now)


def signing_key(secret: str) -> bytes:
    return derive_key(secret, PURPOSE)


def encode(session: Session, key: bytes) -> str:
    return dumps(
        {"k": session.key_id, "c": session.csrf, "i": session.issued_at, "s": session.seen_at},
        key,
    )


def decode(
    value: str | None, key: bytes, policy: Policy, now: int
) -> tuple[Session | None, Problem | None]:
    """The session in a cookie value, or None and why."""
    if not value:
        return None, "missing"
    payload = loads(value, key)
    if payload is None:
        return None, "invalid"
    key_id, csrf = payload.get("k"), payload.get("c")
    issued, seen = payload.get("i"), payload.get("s")
    if not (
        (key_id is None or isinstance(key_id, str))
        and isinstance(csrf, str)
        and len(csrf) >= TOKEN_BYTES
        and type(issued) is int
        and type(seen) is int
        and issued <= seen <= now + CLOCK_SKEW_SECONDS
    ):
        return None, "invalid"
    session = Session(key_id, csrf, issued, seen)
    if now >= session.expires_at(policy):
        return None, "expired"
    return session, None


def csrf_matches(session: Session | None, submitted: object) -> bool:
    """The form's token is this session's (compared in constant time)."""
    if session is None or not isinstance(submitted, str) or not submitted:
        return False
    return secrets.compare_digest(submitted.encode(), session.csrf.encode())
