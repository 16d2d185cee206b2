"""The kernel: what every package shares and that imports no domain package.

Settings, the database and its unit of work, the one error shape, money, ids, API keys and
tenancy, idempotency, i18n, the page environment, gap-free sequences, domain events,
logging, metrics and the HTTP middleware. See docs/architecture.md.
"""

__version__ = "0.1.0"
