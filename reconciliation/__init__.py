"""Settlement and bank-statement reconciliation (the next capability): one module per input
format in ``reconciliation/sources/``, pure matching, runs and discrepancies. See
docs/architecture.md, "Reconciliation".
"""
