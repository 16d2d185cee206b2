"""The Stripe SDK's own log lines carry no payer data, whatever ``REGIE_LOG_LEVEL`` says.

The SDK logs every call on its ``stripe`` logger: at DEBUG the form it posts (the payer's
email, URL-encoded, which the email mask does not recognise) and the whole body Stripe
answers (a Checkout Session's ``customer_details``: the payer's name, email and address).
With regie's handler installed at DEBUG, as ``REGIE_LOG_LEVEL=DEBUG`` does, none of it is
written.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest
import respx

from payments.providers.stripe.client import StripeProvider
from regie.kit import logging as regie_logging
from tests.stripe.conftest import RESPX_BASE
from tests.stripe.stripe_payloads import CS_ID, URLS, checkout_request, session

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)

NAME = "Zéphyrine Quatremaire"
EMAIL = "zephyrine.quatremaire@example.org"
STREET = "12 rue des Acacias"


@pytest.fixture
def regie_log() -> Iterator[io.StringIO]:
    """regie's JSON handler at DEBUG (``regie.kit.logging.configure``), into a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    regie_logging.configure("DEBUG")
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        logging.captureWarnings(False)
        for name in regie_logging.QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)


async def test_the_sdk_logs_neither_the_form_it_posts_nor_the_body_stripe_answers(
    respx_mock: respx.MockRouter, respx_provider: StripeProvider, regie_log: io.StringIO
) -> None:
    details = {
        "name": NAME,
        "email": EMAIL,
        "address": {"line1": STREET, "postal_code": "91000", "city": "Évry", "country": "FR"},
    }
    respx_mock.post(f"{RESPX_BASE}/v1/checkout/sessions").mock(
        return_value=httpx.Response(200, json=session(customer_details=details))
    )
    created = await respx_provider.create_checkout(checkout_request(payer_email=EMAIL), URLS)
    assert created.id == CS_ID
    written = regie_log.getvalue()
    for personal in (NAME, "Quatremaire", "quatremaire", STREET, "Acacias"):
        assert personal not in written, f"{personal!r} leaked into the logs"
