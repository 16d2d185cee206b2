"""The finance workspace: server-rendered pages under ``/finance/`` for a public body's
finance officer (login with a finance key, dashboard, ledger balances, invoices search and
CSV export, reconciliation runs). Part of the shell: it reads through the services of
``payments``, ``ledger`` and ``reconciliation``; see docs/architecture.md.
"""
