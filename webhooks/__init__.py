"""Webhooks both ways: ``inbound`` (PSP events in: the inbox and its apply loop) and
``outbound`` (notifications to client services: the outbox and its delivery). The two
share no code and do not import each other (an import-linter contract). See
docs/architecture.md."""
