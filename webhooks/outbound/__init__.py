"""Notifications to client services: a service registers endpoints (``service``, checked
against SSRF by ``guard``/``ssrf``); each notified domain event writes one outbox row per
endpoint in the publisher's transaction; the worker's pump delivers them signed, in order
per invoice, and retries on a schedule (``delivery``, ``signing``, ``rules``)."""
