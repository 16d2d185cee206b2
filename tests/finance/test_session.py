"""The finance session cookie's token and its limits (pure: no app, no database)."""

from __future__ import annotations

import base64
import json

import pytest

from regie.finance.session import (
    REFRESH_AFTER_SECONDS,
    Policy,
    Session,
    csrf_matches,
    decode,
    encode,
    new_session,
    signing_key,
)
from regie.kit.tokens import derive_key, dumps, loads

KEY = signing_key("a-secret-of-at-least-thirty-two-characters")
POLICY = Policy.of(idle_minutes=8 * 60, max_hours=12)
T0 = 1_800_000_000


def test_a_session_survives_its_cookie() -> None:
    s = new_session("key_01ABC", T0)
    assert decode(encode(s, KEY), KEY, POLICY, T0 + 5) == (s, None)
    assert s.signed_in and len(s.csrf) >= 43  # 32 random bytes, base64url


def test_the_cookie_holds_the_key_id_and_nothing_else_of_the_key() -> None:
    value = encode(new_session("key_01ABC", T0), KEY)
    body = value.split(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert set(payload) == {"k", "c", "i", "s"}
    assert payload["k"] == "key_01ABC"


def test_each_new_session_has_its_own_csrf_token() -> None:
    assert new_session(None, T0).csrf != new_session(None, T0).csrf


@pytest.mark.parametrize(
    "alter",
    [
        lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),  # the signature
        lambda v: "f" + v[1:],  # the payload
        lambda v: v.split(".")[0],  # no signature
        lambda v: v + "." + v,
        lambda v: "",
        lambda v: "not a token",
        lambda v: "x" * 5000,
    ],
)
def test_an_altered_cookie_is_invalid(alter) -> None:
    value = encode(new_session("key_01ABC", T0), KEY)
    session, problem = decode(alter(value), KEY, POLICY, T0 + 5)
    assert session is None
    assert problem in ("invalid", "missing")


def test_a_cookie_signed_with_another_secret_or_for_another_purpose_is_invalid() -> None:
    s = new_session("key_01ABC", T0)
    assert decode(encode(s, signing_key("another-secret")), KEY, POLICY, T0)[1] == "invalid"
    other_purpose = derive_key("a-secret-of-at-least-thirty-two-characters", "receipts")
    assert decode(encode(s, other_purpose), KEY, POLICY, T0)[1] == "invalid"


def test_a_well_signed_payload_of_the_wrong_shape_is_invalid() -> None:
    for payload in (
        {"k": 1, "c": "x" * 43, "i": T0, "s": T0},
        {"k": None, "c": "short", "i": T0, "s": T0},
        {"k": None, "c": "x" * 43, "i": "1", "s": T0},
        {"k": None, "c": "x" * 43, "i": T0, "s": T0 - 1},  # seen before issued
        {"k": None, "c": "x" * 43, "i": T0, "s": True},
    ):
        assert decode(dumps(payload, KEY), KEY, POLICY, T0 + 1) == (None, "invalid"), payload


def test_the_idle_limit_counts_from_the_last_use() -> None:
    s = new_session("key_01ABC", T0)
    idle = POLICY.idle_seconds
    assert decode(encode(s, KEY), KEY, POLICY, T0 + idle - 1)[0] == s
    assert decode(encode(s, KEY), KEY, POLICY, T0 + idle) == (None, "expired")
    used = s.touched(T0 + idle - 1)
    assert used is not None
    assert decode(encode(used, KEY), KEY, POLICY, T0 + idle + 60)[0] == used


def test_the_absolute_limit_holds_however_often_the_session_is_used() -> None:
    s = new_session("key_01ABC", T0)
    end = T0 + POLICY.max_seconds
    used = Session(s.key_id, s.csrf, s.issued_at, end - 10)
    assert decode(encode(used, KEY), KEY, POLICY, end - 1)[0] == used
    assert decode(encode(used, KEY), KEY, POLICY, end) == (None, "expired")
    assert used.expires_at(POLICY) == end


def test_a_session_is_written_again_at_most_once_a_minute() -> None:
    s = new_session("key_01ABC", T0)
    assert s.touched(T0 + REFRESH_AFTER_SECONDS - 1) is None
    touched = s.touched(T0 + REFRESH_AFTER_SECONDS)
    assert touched is not None
    assert (touched.seen_at, touched.issued_at, touched.csrf) == (
        T0 + REFRESH_AFTER_SECONDS,
        T0,
        s.csrf,
    )


def test_the_csrf_token_must_be_the_sessions() -> None:
    s = new_session(None, T0)
    assert csrf_matches(s, s.csrf)
    assert not csrf_matches(s, s.csrf[:-1])
    assert not csrf_matches(s, new_session(None, T0).csrf)
    assert not csrf_matches(s, "")
    assert not csrf_matches(s, None)
    assert not csrf_matches(None, s.csrf)


def test_tokens_refuse_what_is_not_an_object_or_not_ascii() -> None:
    key = derive_key("secret", "test")
    assert loads(dumps({"a": 1}, key), key) == {"a": 1}
    body = base64.urlsafe_b64encode(b"[1, 2]").rstrip(b"=").decode()
    forged = dumps({}, key).replace(dumps({}, key).split(".")[0], body)
    assert loads(forged, key) is None  # the signature no longer matches
    assert loads("é." + dumps({}, key), key) is None
    assert derive_key("secret", "a") != derive_key("secret", "b")


def test_the_key_derivation_known_answer() -> None:
    """The finance session cookies of a running regie stay valid across an upgrade only if
    the derivation never changes: HMAC-SHA256 of ``regie-token:<purpose>`` under the secret
    (the vector computed once with the standard library's hmac)."""
    assert derive_key("s3cret-of-the-app", "citizen-session").hex() == (
        "0f0df0390e86a63f073434dc6db82610e2ba461e77b81b1c7db4820c4bac4f28"
    )
