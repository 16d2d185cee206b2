"""The dozen-line receiver the README gives ("Get notified"), run as written.

It is taken from the README's first Python block after "A receiver in a dozen lines", its
``SECRET`` replaced, and sent regie's own signed notifications: a receiver holding either
secret accepts during a rotation (two ``v1=``, the new secret's first), and refuses a
forged or stale one. The same section must also say what counts as delivered (with the
code's timeout) and what the order per invoice leaves out.
"""

from __future__ import annotations

import inspect
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from webhooks.outbound.delivery import OutboxPump
from webhooks.outbound.signing import regie_signature

README = Path(__file__).resolve().parent.parent / "README.md"
NEW, OLD = "whsec_readme_new_0123456789", "whsec_readme_old_0123456789"
BODY = b'{"id":"evt_readme_1","type":"invoice.paid"}'


def _receiver(secret: str) -> Any:
    text = README.read_text(encoding="utf-8")
    after = text.split("A receiver in a dozen lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", after, re.S)
    assert code is not None, "the README's receiver block"
    source = code.group(1).replace('"whsec_..."', repr(secret))
    assert repr(secret) in source, "the sample names its SECRET as whsec_..."
    scope: dict[str, Any] = {}
    exec(compile(source, "README receiver", "exec"), scope)  # noqa: S102 (the README's own code)
    return scope["app"]


async def _post(secret: str, header: str) -> int:
    transport = httpx.ASGITransport(app=_receiver(secret))
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
        got = await client.post("/regie", content=BODY, headers={"Regie-Signature": header})
    return got.status_code


@pytest.mark.parametrize("held", [NEW, OLD])
async def test_during_a_rotation_a_receiver_holding_either_secret_accepts(held: str) -> None:
    header = regie_signature([NEW, OLD], BODY, int(time.time()))
    assert header.count("v1=") == 2
    assert await _post(held, header) == 200


async def test_a_forged_or_stale_notification_is_refused() -> None:
    now = int(time.time())
    assert await _post(NEW, regie_signature([NEW], BODY, now)) == 200
    assert await _post(NEW, regie_signature(["whsec_someone_else_000"], BODY, now)) == 400
    assert await _post(NEW, regie_signature([NEW], BODY, now - 3600)) == 400


def test_the_readme_tells_a_receiver_what_counts_as_delivered_and_the_order_it_gets() -> None:
    """What a receiver's developer must know, in "Get notified": the answer regie waits
    for (a 2xx within the delivery's timeout; a redirect is never followed) and what the
    order per invoice does not promise."""
    text = README.read_text(encoding="utf-8")
    section = text.split("**8. Get notified.**", 1)[1].split("**9. ", 1)[0]
    timeout = inspect.signature(OutboxPump.__init__).parameters["timeout"].default
    assert f"2xx within {timeout:g} s" in section
    assert "redirect" in section
    assert "in order per invoice" in section and "updated_at" in section


async def test_a_replay_under_another_event_id_header_is_the_same_event_to_the_receiver() -> None:
    """Regie-Signature covers ``t`` and the body, no header: a notification captured and
    sent again within the receiver's five minutes under another ``Regie-Event-Id`` still
    verifies, and a receiver that de-duplicated on that header handled it twice. The
    README's receiver takes the event id the signature covers, the body's."""
    header = regie_signature([NEW], BODY, int(time.time()))
    transport = httpx.ASGITransport(app=_receiver(NEW))
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
        answers = [
            await client.post(
                "/regie", content=BODY, headers={"Regie-Signature": header, "Regie-Event-Id": sent}
            )
            for sent in ("evt_readme_1", "evt_replayed_2")
        ]
    assert [a.status_code for a in answers] == [200, 200]  # both verify: the header is not signed
    assert [a.json().get("received") for a in answers] == ["evt_readme_1", "evt_readme_1"]
    section = README.read_text(encoding="utf-8").split("**8. Get notified.**", 1)[1]
    assert "on the Regie-Event-Id header" not in section
