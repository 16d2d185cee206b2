"""Gap-free receipts and their verification (a later issue)."""
