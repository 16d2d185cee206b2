"""Pure rules of the notifications: SSRF checks (no network: the resolver is injected),
the retry schedule, the payload and the uniqueness key."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import json
import logging
import time

import httpx
import pytest

from payments import signing
from payments.events import (
    DisputeClosed,
    InvoiceCanceled,
    InvoiceDisputed,
    InvoiceExpired,
    InvoicePaid,
    PaymentFailed,
    RefundSucceeded,
)
from regie.kit import __version__
from webhooks.outbound import ssrf
from webhooks.outbound.guard import system_resolver
from webhooks.outbound.rules import (
    EVENT_TYPES,
    MAX_ATTEMPTS,
    RETRY_SCHEDULE,
    build_payload,
    event_details,
    retry_delay,
    source_key,
)
from webhooks.outbound.signing import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    new_secret,
    signed_headers,
)

FORBIDDEN = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.10",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "192.0.0.8",  # IETF protocol assignments (global to Pythons before 3.11.10: CVE-2024-4032)
    "192.0.0.171",
    "198.18.0.1",
    "::1",
    "::",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "fc00::1",
    "fd12:3456:789a::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "2001:db8::1",
]
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "185.60.216.35",
    "2606:4700:4700::1111",
    "2a00:1450:4007:80e::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_non_public_addresses_are_forbidden(address: str) -> None:
    assert ssrf.forbidden_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert ssrf.forbidden_reason(ipaddress.ip_address(address)) is None


def test_reasons_name_the_kind_of_address() -> None:
    def reason(a: str) -> str | None:
        return ssrf.forbidden_reason(ipaddress.ip_address(a))

    assert reason("127.0.0.1") == "loopback"
    assert reason("::ffff:127.0.0.1") == "loopback (embedded in IPv6)"
    assert reason("169.254.169.254") == "link-local"
    assert reason("10.1.2.3") == "private"
    assert reason("fc00::1") == "private"
    assert reason("0.0.0.0") == "unspecified"
    assert reason("::") == "unspecified"
    assert reason("ff02::1") == "multicast"
    assert reason("240.0.0.1") == "reserved"


class FakeDNS:
    """A resolver that never touches the network, and remembers what it was asked."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if host not in self.table:
            raise OSError("Name or service not known")
        return self.table[host]


DNS = FakeDNS(
    {
        "hooks.example.org": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
        "internal.example.org": ["10.0.0.12"],
        "mixed.example.org": ["93.184.216.34", "10.0.0.12"],
        "metadata.example.org": ["169.254.169.254"],
        "mapped.example.org": ["::ffff:127.0.0.1"],
        "v6private.example.org": ["fd00::5"],
        "localhost": ["127.0.0.1", "::1"],
        "dev.example.org": ["127.0.0.1"],
    }
)


def vet(url: str, production: bool = True) -> ssrf.Pinned:
    return asyncio.run(ssrf.vet(url, production=production, resolver=DNS))


def code_of(url: str, production: bool = True) -> str:
    with pytest.raises(ssrf.UnsafeUrl) as info:
        vet(url, production)
    return info.value.code


def test_production_accepts_https_to_public_hosts_and_pins_the_checked_address() -> None:
    pinned = vet("https://hooks.example.org/regie?x=1")
    assert pinned.address == "93.184.216.34"
    assert pinned.url == "https://93.184.216.34:443/regie?x=1"
    assert pinned.target.host_header == "hooks.example.org"
    pinned = vet("https://[2606:4700:4700::1111]:8443/in")
    assert pinned.url == "https://[2606:4700:4700::1111]:8443/in"
    assert pinned.target.host_header == "[2606:4700:4700::1111]:8443"
    assert vet("https://8.8.8.8").url == "https://8.8.8.8:443/"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.org/", "url_scheme_not_allowed"),
        ("ftp://hooks.example.org/", "url_scheme_not_allowed"),
        ("file:///etc/passwd", "url_scheme_not_allowed"),
        ("https://127.0.0.1/", "url_host_not_allowed"),
        ("https://10.1.2.3/", "url_host_not_allowed"),
        ("https://169.254.169.254/latest/meta-data/", "url_host_not_allowed"),
        ("https://[::1]/", "url_host_not_allowed"),
        ("https://[::ffff:127.0.0.1]/", "url_host_not_allowed"),
        ("https://[::ffff:a9fe:a9fe]/", "url_host_not_allowed"),
        ("https://0.0.0.0/", "url_host_not_allowed"),
        ("https://[fc00::1]/", "url_host_not_allowed"),
        ("https://[fe80::1%25eth0]/", "url_host_not_allowed"),
        ("https://internal.example.org/", "url_host_not_allowed"),
        ("https://mixed.example.org/", "url_host_not_allowed"),
        ("https://metadata.example.org/", "url_host_not_allowed"),
        ("https://mapped.example.org/", "url_host_not_allowed"),
        ("https://v6private.example.org/", "url_host_not_allowed"),
        ("https://localhost/", "url_host_not_allowed"),
        ("https://127.1/", "url_host_not_allowed"),
        ("https://2130706433/", "url_host_not_allowed"),
        ("https://0x7f.0.0.1/", "url_host_not_allowed"),
        ("https://nowhere.example.org/", "url_host_unresolvable"),
        ("https://user:pw@hooks.example.org/", "url_invalid"),
        ("https://hooks.example.org/#frag", "url_invalid"),
        ("https:///path", "url_invalid"),
        ("https://hooks.example.org:99999/", "url_invalid"),
        ("https://hooks .example.org/", "url_invalid"),
        ("https://exämple.org/", "url_invalid"),
        ("https://-bad-.example.org/", "url_invalid"),
        ("https://hooks.example.org/" + "a" * 2100, "url_invalid"),
        ("", "url_invalid"),
    ],
)
def test_production_refuses(url: str, code: str) -> None:
    assert code_of(url) == code


def test_development_also_allows_loopback_and_http_only_there() -> None:
    assert vet("http://127.0.0.1:8080/hook", production=False).address == "127.0.0.1"
    assert vet("http://[::1]:8080/hook", production=False).url == "http://[::1]:8080/hook"
    assert vet("http://localhost:9000/h", production=False).target.host_header == "localhost:9000"
    assert vet("https://dev.example.org/h", production=False).address == "127.0.0.1"
    assert vet("https://hooks.example.org/", production=False).address == "93.184.216.34"
    # still refused in development: private networks, metadata, http to a public host
    assert code_of("http://10.0.0.1/", production=False) == "url_host_not_allowed"
    assert code_of("http://169.254.169.254/", production=False) == "url_host_not_allowed"
    assert code_of("https://internal.example.org/", production=False) == "url_host_not_allowed"
    assert code_of("http://hooks.example.org/", production=False) == "url_scheme_not_allowed"
    assert code_of("http://0.0.0.0:8000/", production=False) == "url_host_not_allowed"


@pytest.mark.parametrize("production", [True, False])
def test_a_host_name_with_an_underscore_is_refused_saying_why(production: bool) -> None:
    """DNS takes an underscore in a label (RFC 2181, section 11; _dmarc, _sip._tcp), a
    host name does not (RFC 952, RFC 1123 2.1: letters, digits, hyphens), nor does a
    certificate: the CA/Browser Forum's rules let no public CA name one since 2019, and
    OpenSSL matches no ``*.example.org`` to ``a_b.example.org``. An https URL to such a
    host could never be delivered to; it is refused when registered, before any lookup,
    with a message that says what is wrong (it said only "host name is invalid")."""
    dns = FakeDNS({"hooks_prod.example.org": ["93.184.216.34"]})
    for url in ("https://hooks_prod.example.org/", "https://a.b_c.example.org:8443/h"):
        with pytest.raises(ssrf.UnsafeUrl) as info:
            asyncio.run(ssrf.vet(url, production=production, resolver=dns))
        assert info.value.code == "url_invalid"
        assert "underscore" in info.value.message and "certificate" in info.value.message
    assert dns.asked == []


def test_ip_literals_are_not_looked_up() -> None:
    dns = FakeDNS({})
    asyncio.run(ssrf.vet("https://8.8.8.8/", production=True, resolver=dns))
    with pytest.raises(ssrf.UnsafeUrl):
        asyncio.run(ssrf.vet("https://10.0.0.1/", production=True, resolver=dns))
    assert dns.asked == []
    asyncio.run(ssrf.vet("https://hooks.example.org:8443/", production=True, resolver=DNS))
    assert DNS.asked[-1] == ("hooks.example.org", 8443)


def test_retry_schedule() -> None:
    minutes = [d.total_seconds() / 60 for d in RETRY_SCHEDULE]
    assert minutes == [1, 5, 30, 120, 360, 1440, 2880]
    assert [retry_delay(n) for n in range(1, 8)] == list(RETRY_SCHEDULE)
    assert retry_delay(8) is None  # the 8th failed attempt gives up
    assert retry_delay(50) is None
    assert MAX_ATTEMPTS == 8
    for failures in (0, -1):
        with pytest.raises(ValueError, match=r"^failures starts at 1$"):
            retry_delay(failures)
    total = sum(RETRY_SCHEDULE, dt.timedelta())
    assert total == dt.timedelta(hours=80, minutes=36)


def test_payload_shape_and_bytes_are_stable() -> None:
    created = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
    invoice = {"id": "inv_X", "object": "invoice", "status": "paid", "payer": {"name": "Zoé"}}
    body = build_payload("evt_1", "invoice.paid", created, invoice)
    assert body == build_payload("evt_1", "invoice.paid", created, dict(invoice))
    doc = json.loads(body)
    assert doc == {
        "id": "evt_1",
        "object": "event",
        "type": "invoice.paid",
        "created": int(created.timestamp()),
        "data": {"object": invoice},
    }
    assert "Zoé" in body  # UTF-8, not \\u escapes
    # compact: the bytes a receiver hashes are exactly these (no spaces after , or :)
    assert body == (
        '{"id":"evt_1","object":"event","type":"invoice.paid","created":1795521600,'
        '"data":{"object":{"id":"inv_X","object":"invoice","status":"paid",'
        '"payer":{"name":"Zoé"}}}}'
    )


def test_a_notification_carries_its_signature_event_id_and_who_sent_it() -> None:
    body = b'{"id":"evt_1"}'
    before = int(time.time())
    headers = httpx.Headers(signed_headers(["whsec_abc"], "evt_1", body, "hooks.example.org"))
    assert set(headers) == {
        "host",
        "content-type",
        "user-agent",
        "regie-event-id",
        "regie-signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    assert headers["Host"] == "hooks.example.org"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"regie/{__version__} (+notifications)"
    assert headers["Regie-Event-Id"] == "evt_1"
    assert (SIGNATURE_HEADER, EVENT_ID_HEADER) == ("Regie-Signature", "Regie-Event-Id")
    t = signing.verify(headers["Regie-Signature"], body, ["whsec_abc"])
    assert before <= t <= int(time.time())


def test_an_endpoint_secret_carries_256_random_bits() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_")
        token = secret.removeprefix("whsec_")
        # the Standard Webhooks form: standard base64 of the 32 key bytes
        assert len(base64.b64decode(token, validate=True)) == 32


def test_each_domain_event_has_its_type_and_a_key_naming_the_fact() -> None:
    common = ("inv_1", "svc_1", 100, "EUR", "psp:evt")
    assert source_key(InvoicePaid(*common, "pay_1", "simulator", 3), "invoice.paid") == (
        "invoice.paid:pay_1"
    )
    assert source_key(PaymentFailed(*common, "pay_2", "card_declined"), "x") == "x:pay_2"
    assert source_key(RefundSucceeded(*common, "ref_1", "pay_1", False), "x") == "x:ref_1"
    assert source_key(InvoiceDisputed(*common, "pay_1", "dp_1"), "x") == "x:dp_1"
    assert source_key(InvoiceCanceled(*common), "x") == "x:inv_1"
    assert source_key(InvoiceExpired(*common), "x") == "x:inv_1"
    assert sorted(EVENT_TYPES.values()) == [
        "invoice.canceled",
        "invoice.dispute_closed",
        "invoice.disputed",
        "invoice.expired",
        "invoice.paid",
        "invoice.payment_failed",
        "invoice.refund_failed",
        "invoice.refund_failed",
        "invoice.refunded",
    ]


def test_a_dispute_s_close_is_its_own_notification_with_its_outcome() -> None:
    """Told as ``invoice.disputed`` it would share the opening's key (the dispute's id) and
    be dropped as a repeat: a close has its own type, key and outcome."""
    common = ("inv_1", "svc_1", 2500, "EUR", "psp:evt")
    opened = InvoiceDisputed(*common, "pay_1", "dp_1")
    lost = DisputeClosed(*common, "pay_1", "dp_1", False)
    won = DisputeClosed(*common, "pay_1", "dp_1", True)
    assert EVENT_TYPES[DisputeClosed] == "invoice.dispute_closed"
    keys = {source_key(ev, EVENT_TYPES[type(ev)]) for ev in (opened, lost, won)}
    assert keys == {"invoice.disputed:dp_1", "invoice.dispute_closed:dp_1"}  # one close each
    dispute = {"id": "dp_1", "amount": 2500, "currency": "EUR"}
    assert event_details(opened) == {"dispute": dispute}
    assert event_details(lost) == {"dispute": {**dispute, "outcome": "lost"}}
    assert event_details(won) == {"dispute": {**dispute, "outcome": "won"}}
    assert event_details(InvoiceCanceled(*common)) == {}
    created = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
    body = build_payload(
        "evt_2", "invoice.dispute_closed", created, {"id": "inv_1"}, **event_details(lost)
    )
    assert json.loads(body)["data"] == {
        "object": {"id": "inv_1"},
        "dispute": {**dispute, "outcome": "lost"},
    }


async def test_the_system_resolver_answers_each_address_once() -> None:
    """What the SSRF guard checks comes from getaddrinfo (address literals here, so no DNS
    is asked): the addresses, as text."""
    assert await system_resolver("127.0.0.1", 443) == ["127.0.0.1"]
    assert await system_resolver("10.1.2.3", 80) == ["10.1.2.3"]


def test_a_host_that_resolves_to_nothing_usable_is_refused_with_its_reason() -> None:
    dns = FakeDNS({"empty.example.org": [], "odd.example.org": ["not-an-address"]})
    for host, message in [
        ("empty.example.org", "The URL's host does not resolve."),
        ("odd.example.org", "The URL's host resolves to no address."),
    ]:
        with pytest.raises(ssrf.UnsafeUrl) as info:
            asyncio.run(ssrf.vet(f"https://{host}/", production=True, resolver=dns))
        assert (info.value.code, info.value.message) == ("url_host_unresolvable", message)


async def test_a_crashed_delivery_run_is_logged_with_its_error_class_and_a_cancelled_one_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The worker starts each delivery run as a task of its own; nobody awaits it, so a
    crash would vanish without the done-callback's log line (what an operator greps)."""
    from webhooks.outbound.delivery import _log_crash

    async def crash() -> int:
        raise LookupError("a bug in a delivery run")

    async def wait() -> int:
        await asyncio.sleep(3600)
        return 0

    crashed, cancelled = asyncio.create_task(crash()), asyncio.create_task(wait())
    cancelled.cancel()
    await asyncio.gather(crashed, cancelled, return_exceptions=True)
    caplog.set_level(logging.ERROR, logger="regie.notifications")
    _log_crash(cancelled)
    assert not caplog.records
    _log_crash(crashed)
    [record] = caplog.records
    assert record.getMessage() == "notification run failed"
    assert record.error_class == "LookupError"  # type: ignore[attr-defined]
    assert record.exc_info is not None and record.exc_info[1] is crashed.exception()
