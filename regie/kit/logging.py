"""JSON logs with request ids; payer names, emails, card numbers and keys masked."""

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

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PAN = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
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
_QUERY = re.compile(r"((?:\bhttps?://|/)[^\s?#\"'<>]*)\?[^\s#\"'<>]+")
# the record's own attributes, and uvicorn's ``color_message`` (the message again, with
# terminal colour codes): none is a field of the JSON line
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}
SENSITIVE_KEYS = {
    "payer_name",
    "name",
    "email",
    "payer_email",
    "card_number",
    "authorization",
    "secret",
}


# Loggers held at WARNING whatever REGIE_LOG_LEVEL says: the database drivers and
# SQLAlchemy write statements' parameters and result rows (payers' names, pay tokens) at
# INFO/DEBUG, and uvicorn's access log writes paths that carry pay tokens.
QUIET_LOGGERS = (
    "uvicorn.access",
    "alembic",
    "factur-x",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
)


def mask(text: str) -> str:
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _PAN.sub("[card number removed]", text)
    text = _QUERY.sub(lambda m: m.group(1) + "?***", text)
    text = _BEARER.sub(lambda m: m.group(1) + "***", text)
    return _KEY.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "***", text)


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
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.Formatter.converter = __import__("time").gmtime
