"""The finance workspace's one table: the sessions signed out before their end.

A session lives in its signed cookie (``session``), so clearing the cookie ends it only in
the browser that signed out: a copy of the cookie (another browser, a proxy's log, a
stolen laptop's disk) would stay valid until its idle or absolute limit. "Sign out" also
stores the session's identity here, a SHA-256 of its random CSRF token (never the token
itself), until the session's absolute end; every page refuses a session found here. The
rows are pruned once that end has passed (``repository.prune_signed_out``).
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Column, Field, SQLModel, String

from regie.kit.database import UTCDateTime


class SignedOutSession(SQLModel, table=True):
    __tablename__ = "finance_signed_out_sessions"

    # SHA-256 (hex) of the session's CSRF token: unique to the session, random, 256 bits
    session_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    key_id: str = Field(max_length=40)
    signed_out_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # the session's absolute end (signed in + REGIE_FINANCE_SESSION_MAX_HOURS): the cookie is
    # refused from then on anyway, so the row is no longer needed
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
