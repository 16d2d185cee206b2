"""The double-entry journal: append-only entries, pure postings, the hash chain, balances and
exports. Imports no other domain package. The chart of accounts is in docs/architecture.md.
"""
