"""A reconciliation's settings (the shell builds them from ``REGIE_*``)."""

from __future__ import annotations

from dataclasses import dataclass

from regie.kit.settings import Settings


@dataclass(frozen=True)
class ReconConfig:
    bank_account: str = "main"  # the ledger's assets:bank:<name>
    bank_iban: str | None = None  # statements for another account are refused
    bank_currency: str | None = None
    window_days: int = 3
    max_file_bytes: int = 50 * 1024 * 1024
    bulk: bool = True  # on PostgreSQL, match an uploaded report in bulk (reconciliation.bulk)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReconConfig:
        return cls(
            bank_account=settings.bank_account,
            bank_iban=settings.bank_iban or None,
            bank_currency=settings.bank_currency or None,
            window_days=settings.reconcile_window_days,
            max_file_bytes=settings.max_upload_bytes,
        )
