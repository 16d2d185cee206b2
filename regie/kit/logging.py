"""JSON logs with request ids; payer names, emails, IBANs, card numbers, keys and the
input a validation error quotes masked."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# letters with accents too (\w is Unicode's): "zoé.dupré@…" and "…@exämple.fr" were kept whole
_EMAIL = re.compile(r"([\w.%+-])[\w.%+-]*@([\w.-]+\.[^\W\d_]{2,})")
_PAN = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# an IBAN, compact or in groups of four (masked when its check digits hold): a payer's
# appears on bank statements and refunds; the town hall's own is public, and masked alike
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
# what a validation error prints of the input it refused (for a missing field, the whole
# object around it: a payer's email and address): pydantic's ``input_value=…, input_type=…]``
# and FastAPI's ``'input': …`` in each error of its message (the rest of the error stays)
_PYDANTIC_INPUT = re.compile(r"(input_value=).*?(, input_type=\w+\])")
_FASTAPI_INPUT = re.compile(r"('input': ).*?(?=, 'ctx': |, 'url': |\}$)", re.MULTILINE)
# what asyncpg quotes of a value it could not encode for a query's parameter, before
# sending it (a client-side DataError: ``invalid input for query argument $3: 'Zoé Dupré'
# ('str' object cannot be interpreted as an integer)``): the argument and the reason stay.
# (``regie.kit.database`` rewrites the driver's exceptions so; the mask catches any other
# path). The value's repr holds no line break; greedy, it runs to the line's last " (", so
# a " (" inside the value is never taken for the reason's (a reason holding one loses its
# start instead)
_ARGUMENT_VALUE = re.compile(
    r"(invalid input for query argument \$\d+(?: in element #\d+ of executemany\(\) sequence)?)"
    r": (?:[^\n]*( \([^\n]*\))|[^\n]*)"
)
# regie's API keys (rk_live_ser_…) keep their kind; Stripe's secret, restricted and
# webhook secrets keep their prefix. A secret's tail runs over "-" and "_" alike, and a
# webhook secret's over base64's "+", "/" and "=" too (regie's own endpoint secrets are
# whsec_ and standard base64: the mask stopped at the first "+" or "/").
_KEY = re.compile(
    r"\b(rk_(?:live|test)_[a-z]{3}_)[A-Za-z0-9_-]+"
    r"|\b(whsec_)[A-Za-z0-9_+/=-]+"
    r"|\b(sk_(?:live|test)_|rk_(?:live|test)_)[A-Za-z0-9_-]+"
)
_BEARER = re.compile(r"\b(Bearer\s+)[^\s\"',;]+", re.IGNORECASE)
# a URL's (or a path's) query string: tokens, emails and session ids travel there
# set while regie sends to a URL a client service chose (a notification endpoint): its path
# may be its secret (a chat tool's incoming webhook, ``/services/T0/B0/XXXX``), and httpx
# logs each request's URL at INFO, so that line then shows the URL's origin only
private_urls_var: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "private_urls", default=False
)
_URL_PATH = re.compile(r"(\bhttps?://[^/\s\"'<>]+)/[^\s\"'<>]*")
_QUERY = re.compile(r"((?:\bhttps?://|/)[^\s?#\"'<>]*)\?[^\s#\"'<>]+")
# the record's own attributes, and uvicorn's ``color_message`` (the message again, with
# terminal colour codes): none is a field of the JSON line
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}
# fields a log call must not carry (it names ids): masked whole if one ever does
SENSITIVE_KEYS = {
    "payer_name",
    "name",
    "email",
    "payer_email",
    "payer",
    "address",
    "payer_address",
    "company_id",
    "payer_company_id",
    "vat_number",
    "payer_vat_number",
    "iban",
    "card_number",
    "authorization",
    "secret",
    "token",
    "api_key",
    "password",
    "body",
    "payload",
}


# Loggers held at WARNING whatever REGIE_LOG_LEVEL says: the database drivers and
# SQLAlchemy write statements' parameters and result rows (payers' names, pay tokens) at
# INFO/DEBUG, uvicorn's access log writes paths that carry pay tokens, and the Stripe SDK
# writes at DEBUG the form it posts (the payer's email) and the body Stripe answers (a
# session's customer_details: name, email, address); its INFO lines say what httpx's do.
QUIET_LOGGERS = (
    "uvicorn.access",
    "alembic",
    "factur-x",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "stripe",
)


def _iban_valid(compact: str) -> bool:
    """ISO 13616's check: the country and check digits moved to the end, mod 97 is 1."""
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _mask_iban(m: re.Match[str]) -> str:
    """The IBAN in the match (which may have taken a word after it as a last group) as its
    country and check digits, the rest ``***``; a match that is no IBAN is left as it is."""
    groups = m.group(0).split(" ")
    for end in range(len(groups), 0, -1):
        compact = "".join(groups[:end])
        if _iban_valid(compact):
            rest = " ".join(groups[end:])
            return compact[:4] + "***" + (" " + rest if rest else "")
    return m.group(0)


def without_argument_value(text: str) -> str:
    """``text`` with the value an ``invalid input for query argument $N: …`` quotes
    replaced by ``***`` (the argument's number and the reason kept)."""
    return _ARGUMENT_VALUE.sub(lambda m: f"{m.group(1)}: ***{m.group(2) or ''}", text)


def mask(text: str) -> str:
    text = without_argument_value(text)
    text = _PYDANTIC_INPUT.sub(r"\1***\2", text)
    text = _FASTAPI_INPUT.sub(r"\1***", text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _IBAN.sub(_mask_iban, text)
    text = _PAN.sub("[card number removed]", text)
    text = _QUERY.sub(lambda m: m.group(1) + "?***", text)
    text = _BEARER.sub(lambda m: m.group(1) + "***", text)
    return _KEY.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "***", text)


class _PrivateUrls(logging.Filter):
    """On httpx's logger: a request's line sent under ``private_urls_var`` keeps its URLs'
    origin only. A filter, not the formatter: it runs where the request is logged, inside
    the task that set the variable."""

    def filter(self, record: logging.LogRecord) -> bool:
        if private_urls_var.get():
            record.msg = _URL_PATH.sub(r"\1/***", record.getMessage())
            record.args = None
        return True


PRIVATE_URLS = _PrivateUrls()
logging.getLogger("httpx").addFilter(PRIVATE_URLS)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask(record.getMessage()),
        }
        rid = request_id_var.get()
        if rid:
            doc["request_id"] = rid
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if key in SENSITIVE_KEYS:
                doc[key] = "***"
            elif isinstance(value, str):
                doc[key] = mask(value)
            elif isinstance(value, int | float | bool) or value is None:
                doc[key] = value
            else:
                doc[key] = mask(str(value))
        if record.exc_info and record.exc_info[0] is not None:
            doc["error_class"] = record.exc_info[0].__name__
            doc["trace"] = mask(self.formatException(record.exc_info))[-4000:]
        return json.dumps(doc, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # a library's warnings.warn (pydantic's serializer warnings quote the value they met)
    # through this handler, masked, as JSON: not raw text on stderr beside the log lines
    logging.captureWarnings(True)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.Formatter.converter = __import__("time").gmtime
