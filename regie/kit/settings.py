"""Settings from the environment (``REGIE_…`` and ``STRIPE_…``)."""

from __future__ import annotations

import ipaddress
import re
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

DEV_SECRET_KEY = "dev-only-secret-key-change-me"  # noqa: S105 - refused in production
DEV_SIMULATOR_SECRET = "whsec_sim_test_dev_only"  # noqa: S105 - refused in production
# A valid French test IBAN (bank code 30001, a made-up account): the demo's bank account.
DEMO_BANK_IBAN = "FR7630001007941234567890185"


# Stripe's test-mode secret and restricted keys; a live start refuses them.
STRIPE_TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


def _plain(value: object) -> str:
    """A setting's text, whether it is held as ``str`` or ``SecretStr``."""
    reveal = getattr(value, "get_secret_value", None)
    return str(reveal() if reveal is not None else value)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_SECRET_WORDS = re.compile(r"SECRET|KEY|TOKEN|URL|PASSWORD")


def base_url_problem(url: str) -> str | None:
    """What keeps ``url`` from being an absolute http(s) URL with a host, or None."""
    if any(c.isspace() for c in url):
        return "a URL has no space in it"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not url.lower().startswith(parts.scheme + "://"):
        return "an absolute URL starting with http:// or https:// is needed"
    if not parts.hostname:
        return "the URL has no host"
    try:
        parts.port  # noqa: B018 (urlsplit checks the port when it is read)
    except ValueError:
        return "the URL's port is not a number from 0 to 65535"
    return None


class UnsafeSettingsError(RuntimeError):
    """Raised when a production start would run with unsafe settings."""


def settings_errors(exc: ValidationError) -> list[str]:
    """Each setting the environment got wrong, one line each, named as the operator sets
    it (``REGIE_WORKER_BATCH_SIZE: Input should be greater than or equal to 1, not '0'``).
    The value given is quoted unless the setting may hold a secret (a key, a token, a
    database URL's password)."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        name = field if field.isupper() else f"REGIE_{field.upper()}"
        shown = isinstance(error.get("input"), str) and not _SECRET_WORDS.search(name)
        # a validator's own words, without pydantic's "Value error, " and the setting's name
        # the validator put first (it is said once, at the start of the line)
        said = str(error["msg"]).removeprefix("Value error, ")
        said = said.removeprefix(f"{name}: ").removeprefix(f"{name} ")
        given = f", not {error['input']!r}" if shown and repr(error["input"]) not in said else ""
        lines.append(f"{name}: {said}{given}")
    return lines


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGIE_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./regie.db"
    base_url: str = "http://127.0.0.1:8000"
    psp: Literal["simulator", "stripe"] = "simulator"
    secret_key: str = DEV_SECRET_KEY
    simulator_webhook_secret: str = DEV_SIMULATOR_SECRET
    log_level: str = "INFO"

    max_amount: int = Field(default=99_999_999, ge=1)
    default_invoice_ttl_days: int = Field(default=30, ge=1, le=365)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_webhook_body_bytes: int = Field(default=512 * 1024, ge=1024)
    # uploads of bank statements and PSP reports (reconciliation, the finance workspace)
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    # POST /v1/invoice-batches only: up to 10,000 invoices (about 3-5 MB of JSON)
    max_batch_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    # comma-separated former REGIE_SECRET_KEYs: they still open the webhook endpoint
    # secrets they sealed, until `regie maintenance reseal` (README, "Production notes")
    previous_secret_keys: str = ""
    # how long a rotated endpoint secret still signs next to the new one
    webhook_secret_overlap_hours: int = Field(default=24, ge=0, le=7 * 24)
    # delivered or given-up notifications keep their body (payer names) this long, then
    # `regie maintenance prune` (the worker, daily) empties it
    notification_retention_days: int = Field(default=30, ge=1)

    auto_refund_overpayments: bool = True
    # the CGI article printed on receipts: "TVA non applicable, art. 256 B du CGI" (a
    # public body's fees for its public service activity are outside VAT's scope)
    vat_exemption_article: str = Field(default="256 B", min_length=1, max_length=40)
    bank_account: str = Field(default="main", pattern=r"^[a-z0-9_-]{1,40}$")
    # the IBAN of that account (statements name it); written compact, upper case
    bank_iban: str = DEMO_BANK_IBAN
    # the simulator pays its balance out once a day, like Stripe's automatic payouts
    # ("daily"), or only when `regie simulator payout` says so ("manual")
    simulator_payouts: Literal["daily", "manual"] = "daily"
    bank_currency: str = Field(default="EUR", pattern=r"^([A-Z]{3})?$")
    reconcile_window_days: int = Field(default=3, ge=0, le=30)  # business days

    # the finance workspace's session cookie (/finance/): idle and absolute lifetimes
    finance_session_idle_minutes: int = Field(default=8 * 60, ge=1, le=24 * 60)
    finance_session_max_hours: int = Field(default=12, ge=1, le=7 * 24)

    # /docs and /openapi.json: on by default in development, off in production unless set
    docs_enabled: bool | None = None
    # /metrics asks for "Authorization: Bearer <token>" when set; in production, /metrics
    # is not served at all without one
    metrics_token: SecretStr = SecretStr("")

    # rate limits, "N/period" in the `limits` notation (second, minute, hour, day);
    # "" or "off": none. Over one: 429 with Retry-After (regie.kit.ratelimit)
    rate_limit_api_key: str = "6000/minute"  # requests per API key (/v1)
    rate_limit_address: str = "300/minute"  # requests per client address to public pages
    rate_limit_auth_failures: str = "30/minute"  # wrong API keys per client address
    rate_limit_checkouts: str = "10/hour"  # presses of Pay (new checkouts) per invoice
    # on PostgreSQL a process counts up to this share of a limit before it adds its count
    # to the shared one (fewer round trips; N processes may pass a limit by N × share)
    rate_limit_sync_share: float = Field(default=0.1, ge=0, le=0.5)
    # peers whose X-Forwarded-For is believed (addresses or networks, comma-separated);
    # `regie serve` also gives them to uvicorn. "": believe no proxy
    trusted_proxies: str = "127.0.0.1,::1"

    run_worker_in_process: bool = False
    # on SIGTERM, `regie serve` stops accepting and lets in-flight requests finish for up to
    # this long; `regie worker` finishes its current events for up to this long, then
    # abandons them (rolled back: they stay pending for the next worker)
    shutdown_grace_seconds: int = Field(default=25, ge=0, le=3600)
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    worker_batch_size: int = Field(default=20, ge=1, le=1000)
    worker_max_attempts: int = Field(default=8, ge=1)
    # a file `regie worker` touches after each tick that ends without an error, and that
    # `regie worker --healthcheck` reads (the container's health); unset: none is written
    worker_heartbeat_file: Path | None = None
    # `regie worker --healthcheck` fails when the last good tick is older than this (a tick
    # may wait on the PSP and the receivers: keep it well above their timeouts)
    worker_heartbeat_max_age_seconds: int = Field(default=300, ge=10, le=86400)
    # how long an inbox event (or a receipt to render) stays with the worker that claimed
    # it: another worker takes it over after this if that one died (or is still waiting
    # for the PSP: what that one then finds of an event is not recorded)
    worker_lease_seconds: float = Field(default=30, gt=0, le=3600)
    # how long a notification being sent stays with the worker that claimed it: another
    # worker sends it again after this if that one died before recording the answer (keep
    # it above an attempt's own bound, 36 s: its name looked up in 5 s, then two tries of
    # 15 s each at most, or a slow receiver is sent it twice)
    notification_lease_seconds: float = Field(default=120, gt=0, le=3600)

    stripe_api_key: str = Field(
        default="", validation_alias=AliasChoices("STRIPE_API_KEY", "REGIE_STRIPE_API_KEY")
    )
    stripe_webhook_secrets: str = Field(
        default="",
        validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRETS", "REGIE_STRIPE_WEBHOOK_SECRETS"),
    )
    stripe_api_base: str = Field(
        default="", validation_alias=AliasChoices("STRIPE_API_BASE", "REGIE_STRIPE_API_BASE")
    )
    # the account's shortened descriptor (2-10 characters, set in Stripe's dashboard): a
    # service's statement descriptor suffix must fit after it in 22 characters
    stripe_statement_descriptor_prefix: str = Field(
        default="",
        max_length=10,
        validation_alias=AliasChoices(
            "STRIPE_STATEMENT_DESCRIPTOR_PREFIX", "REGIE_STRIPE_STATEMENT_DESCRIPTOR_PREFIX"
        ),
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        """An absolute http(s) URL with a host, in every environment: pay links, the card
        page and the simulator's events are made of it (any text came out as broken links,
        silently). Without its trailing slash; its scheme in lower case (``https`` is read
        from it). The value is not repeated: a URL may carry a password."""
        problem = base_url_problem(v)
        if problem:
            raise ValueError(f"REGIE_BASE_URL: {problem}, e.g. https://recettes.example.fr")
        scheme = v.split(":", 1)[0]
        return scheme.lower() + v[len(scheme) :].rstrip("/")

    @field_validator(
        "rate_limit_api_key",
        "rate_limit_address",
        "rate_limit_auth_failures",
        "rate_limit_checkouts",
    )
    @classmethod
    def _limit(cls, v: str) -> str:
        v = v.strip()
        if v.lower() in ("", "off"):
            return ""
        from limits import parse  # (only for a limit given: the library takes 0.2 s to load)

        try:
            item = parse(v)
        except ValueError:
            raise ValueError(
                f"{v!r} is not a rate limit: write N/period, e.g. 100/minute"
            ) from None
        if item.amount < 1:
            raise ValueError("a rate limit allows at least 1 request; write off for none")
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        """One of logging's levels, in any case: an unknown one stopped every command with
        a traceback from ``logging`` at start."""
        level = v.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"a log level is one of {', '.join(LOG_LEVELS)}, not {v!r}")
        return level

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: str) -> str:
        try:
            for part in v.split(","):
                if part.strip():
                    ipaddress.ip_network(part.strip(), strict=False)
        except ValueError as exc:
            raise ValueError(f"REGIE_TRUSTED_PROXIES: {exc}") from None
        return v

    @field_validator("bank_iban")
    @classmethod
    def _valid_iban(cls, v: str) -> str:
        try:
            return str(IBAN(v).compact)
        except SchwiftyException as exc:
            raise ValueError(f"REGIE_BANK_IBAN: not a valid IBAN: {exc}") from None

    @property
    def stripe_secrets(self) -> list[str]:
        """``STRIPE_WEBHOOK_SECRETS`` is comma-separated: several are accepted during rotation."""
        return [x.strip() for x in self.stripe_webhook_secrets.split(",") if x.strip()]

    @property
    def sealing_keys(self) -> list[str]:
        """``REGIE_SECRET_KEY`` first (seals), then the previous ones (open only)."""
        keys = [_plain(self.secret_key)]
        keys += [k.strip() for k in _plain(self.previous_secret_keys).split(",") if k.strip()]
        return keys

    @property
    def serve_docs(self) -> bool:
        return self.docs_enabled if self.docs_enabled is not None else self.env != "production"

    @property
    def https(self) -> bool:
        """Served over https (production, whose REGIE_BASE_URL must be https, or any https
        REGIE_BASE_URL): HSTS is sent and every cookie is ``Secure``. The demo on
        http://127.0.0.1 gets neither, or its browser would drop the cookies."""
        return self.env == "production" or self.base_url.startswith("https://")

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def _weak_secret_key(self) -> bool:
        return self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32

    def check_sealing_key(self) -> None:
        """In production, refuse to seal with the default (public) or a short
        ``REGIE_SECRET_KEY``: ``regie maintenance reseal`` run from a shell that lacks the new
        key would seal every endpoint secret under the public one."""
        if self.env == "production" and self._weak_secret_key:
            raise UnsafeSettingsError(
                "refusing to seal in production: REGIE_SECRET_KEY is the default or shorter "
                "than 32 characters (set the new key, the former ones in "
                "REGIE_PREVIOUS_SECRET_KEYS)"
            )

    def check_production(self) -> None:
        """Refuse to start in production with settings that would be unsafe there, and on
        https (an address others reach, whatever ``env`` says) with the default secret key,
        which is public: anyone could sign a session with it."""
        if self.env != "production":
            if self.https and self.secret_key == DEV_SECRET_KEY:
                raise UnsafeSettingsError(
                    "refusing to start on https with the default REGIE_SECRET_KEY (it is "
                    "public: anyone could sign a session): set REGIE_SECRET_KEY"
                )
            return
        problems = []
        if self.psp == "simulator":
            problems.append("REGIE_PSP=simulator (the simulator takes card numbers)")
        if self._weak_secret_key:
            problems.append("REGIE_SECRET_KEY is the default or shorter than 32 characters")
        if self.is_sqlite:
            problems.append("REGIE_DATABASE_URL is SQLite (one process only)")
        if not self.base_url.startswith("https://"):
            problems.append("REGIE_BASE_URL is not https")
        if self.psp == "stripe" and (not self.stripe_api_key or not self.stripe_webhook_secrets):
            problems.append("STRIPE_API_KEY and STRIPE_WEBHOOK_SECRETS are required")
        if self.stripe_api_key.startswith(STRIPE_TEST_KEY_PREFIXES):
            problems.append("STRIPE_API_KEY is a test-mode key (sk_test_/rk_test_): use a live key")
        if problems:
            raise UnsafeSettingsError("refusing a production start: " + "; ".join(problems))
