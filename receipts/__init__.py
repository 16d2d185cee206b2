"""Gap-free receipts and credit notes, their PDF (words, qr, typeset, render, Factur-X) and
their verification. Subscribes to ``InvoicePaid`` and ``RefundSucceeded`` through its
``wiring``. See docs/architecture.md.
"""
