"""Settlement and bank-statement reconciliation (a later issue)."""
