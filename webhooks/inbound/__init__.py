"""PSP events in: ``POST /webhooks/{provider}`` verifies and stores each event once in the
inbox (``intake``), and the worker applies the inbox to payments (``apply``), retrying
failures with backoff and dead-lettering what keeps failing."""
