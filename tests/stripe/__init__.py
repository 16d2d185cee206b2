"""Tests of the Stripe adapter (localstripe, recorded payloads, respx faults)."""
