"""Invoices, payment attempts, refunds and disputes; the PSP port and its adapters.

Imports only ``ledger`` and the kernel. Use cases live in ``payments.service`` (one façade),
every status change goes through ``payments.transitions``, postings are built in
``payments.accounting``. See docs/architecture.md.
"""
