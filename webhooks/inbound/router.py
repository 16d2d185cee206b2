"""``POST /webhooks/{provider}``: verify the signature on the raw body, store once, 200."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from webhooks.inbound.intake import EventIntake

router = APIRouter(tags=["webhooks"])


class Received(BaseModel):
    received: bool
    duplicate: bool
    ignored: bool = False  # a Stripe event about a payment that is not regie's


@router.post(
    "/webhooks/{provider}",
    response_model=Received,
    summary="Receive a signed PSP event",
    responses={
        400: {"description": "Bad or missing signature, or a malformed event"},
        404: {"description": "Unknown provider or payment"},
    },
)
async def receive_event(provider: str, request: Request) -> Received:
    intake: EventIntake = request.app.state.intake
    raw = await request.body()
    inserted = await intake.receive(provider, raw, request.headers)
    if inserted is None:
        return Received(received=True, duplicate=False, ignored=True)
    return Received(received=True, duplicate=not inserted)
