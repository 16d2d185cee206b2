"""The fault drill's setup (``bench.drill``): a database where citizens have paid, whose
PSP events have not been delivered yet, and a copy of it for the serial replay.

Two services, each with a notification endpoint on the drill's receiver, create their
invoices in a batch (each announced by ``invoice.created``). Then each invoice plays one
scenario through regie's own pages and the simulator's hosted checkout: the citizen presses
Pay (``POST /pay/{token}/checkout``: a pending payment and a simulator checkout), and the
simulator settles the checkout with a test card (``hosted.settle``: its payment, its
balance line and the event announcing it, exactly what the card page does, without
delivering the event):

- ``paid``: one checkout, paid (``payment.succeeded``);
- ``declined_then_paid``: a declined card (``payment.failed``), then Pay pressed again
  before that event arrived (regie supersedes the first payment) and a card that pays;
- ``declined``: a declined card or one without funds, and the citizen gave up;
- ``abandoned``: Pay pressed, the card page left: no event.

Every so many invoices the simulator pays its balance out to the bank (``payout.paid`` and
``payout.reconciled``), so the ledger moves money from the PSP to the bank too.

The events are then taken out of the simulator's outbox (``sim_events``): the drill
delivers them itself, as the PSP would, so neither the simulator's redelivery job nor
regie's catch-up races it. Payments still pending are not re-asked about before a day (the
sweeper would otherwise find a lost event's payment after 5 minutes and hide the loss).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text

from bench.http_invoices import _plain
from payments.providers.simulator import hosted, payouts
from payments.providers.simulator.cards import Outcome
from regie.app import create_app
from regie.kit.database import utcnow
from regie.kit.settings import Settings
from regie.kit.tenancy import Role, create_key, create_service
from regie.migrate import upgrade

SERVICES = (("cantine", "Cantine scolaire"), ("urbanisme", "Mairie – Urbanisme"))
# scenario -> the cards of its checkouts, in order (None: Pay pressed, nothing paid)
SCENARIOS: dict[str, tuple[tuple[Outcome | None, ...], ...]] = {
    "paid": ((Outcome.succeed,),),
    "declined_then_paid": ((Outcome.decline, Outcome.succeed),),
    "declined": ((Outcome.decline,), (Outcome.insufficient_funds,)),
    "abandoned": ((None,),),
}
WEIGHTS = {"paid": 0.62, "declined_then_paid": 0.14, "declined": 0.16, "abandoned": 0.08}
LAST4 = {Outcome.succeed: "4242", Outcome.decline: "0002", Outcome.insufficient_funds: "9995"}
EVENTS_PER_PAYOUT = 400  # one payout (2 events) per this many unique events, at least one


@dataclass(frozen=True)
class Invoice:
    service: str
    reference: str
    amount: int
    scenario: str
    cards: tuple[Outcome | None, ...]


@dataclass
class Plan:
    chunks: list[list[Invoice]]  # a payout after each chunk

    @property
    def invoices(self) -> list[Invoice]:
        return [inv for chunk in self.chunks for inv in chunk]


@dataclass
class Setup:
    events: list[dict[str, Any]]  # the unique events, as the PSP created them (oldest first)
    secrets: dict[str, str]  # receiver path -> the endpoint's signing secret
    invoices: int
    scenarios: Counter[str] = field(default_factory=Counter)
    payouts: int = 0


def plan(unique: int, seed: int) -> Plan:
    """Invoices and payouts whose events number exactly ``unique`` (pure)."""
    rng = random.Random(seed)
    n_payouts = max(1, unique // EVENTS_PER_PAYOUT)
    budget = unique - 2 * n_payouts
    if budget < n_payouts:
        raise ValueError(f"{unique} events are too few for a drill")
    names = list(WEIGHTS)
    chunks: list[list[Invoice]] = []
    counter = 0
    for k in range(n_payouts):
        share = budget // (n_payouts - k)
        budget -= share
        chunk: list[Invoice] = []
        while share > 0:
            # each chunk starts with a paid invoice: its payout has something to carry
            name = "paid" if not chunk else rng.choices(names, [WEIGHTS[n] for n in names])[0]
            cards = rng.choice(SCENARIOS[name])
            events = sum(c is not None for c in cards)
            if events > share:
                name, cards, events = "paid", SCENARIOS["paid"][0], 1
            counter += 1
            service = SERVICES[rng.randrange(len(SERVICES))][0]
            amount = rng.randrange(50, 2500) * 10  # 5.00 to 249.90 €
            chunk.append(Invoice(service, f"DRILL-{counter:05d}", amount, name, cards))
            share -= events
        chunks.append(chunk)
    return Plan(chunks)


def setup_settings(url: str, simulator_secret: str) -> Settings:
    return Settings(
        database_url=url,
        env="development",
        psp="simulator",
        simulator_webhook_secret=simulator_secret,
        simulator_payouts="manual",
        base_url="http://127.0.0.1:8000",
        run_worker_in_process=False,
        rate_limit_api_key="off",
        rate_limit_address="off",
        rate_limit_checkouts="off",
    )


async def prepare(
    url: str, receiver_port: int, unique: int, seed: int, simulator_secret: str
) -> Setup:
    """Migrate ``url`` (a fresh database) and fill it as the module says."""
    await asyncio.to_thread(upgrade, url)
    settings = setup_settings(url, simulator_secret)
    app = create_app(settings)
    the_plan = plan(unique, seed)
    async with app.router.lifespan_context(app):
        db = app.state.db
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            keys, secrets = await _services(db, client, receiver_port)
            tokens = await _invoices(client, keys, the_plan.invoices)
            gate = asyncio.Semaphore(8)

            async def play(inv: Invoice) -> None:
                async with gate:
                    for card in inv.cards:
                        checkout = await _press_pay(client, tokens[inv.reference])
                        if card is not None:
                            await hosted.settle(
                                db, checkout, card, "visa", LAST4[card], from_status="open"
                            )

            made = 0
            for chunk in the_plan.chunks:
                await asyncio.gather(*(play(inv) for inv in chunk))
                made += len(await payouts.pay_out(db, utcnow()))
        async with db.session() as s:
            rows = (
                await s.execute(text("SELECT payload FROM sim_events ORDER BY created_at, id"))
            ).all()
            await s.execute(text("DELETE FROM sim_events"))
            await s.execute(
                text(
                    "UPDATE payments SET next_check_at = now() + interval '1 day'"
                    " WHERE status = 'pending'"
                )
            )
            await s.commit()
    events = [json.loads(r[0]) if isinstance(r[0], str) else dict(r[0]) for r in rows]
    if len(events) != unique:
        raise RuntimeError(f"the setup made {len(events)} events, not {unique}")
    return Setup(
        events=events,
        secrets=secrets,
        invoices=len(the_plan.invoices),
        scenarios=Counter(inv.scenario for inv in the_plan.invoices),
        payouts=made,
    )


async def _services(
    db: Any, client: httpx.AsyncClient, receiver_port: int
) -> tuple[dict[str, str], dict[str, str]]:
    keys: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for slug, name in SERVICES:
        async with db.session() as s:
            svc = await create_service(s, slug, name)
            _, keys[slug] = await create_key(s, svc, Role.service, live=False)
            await s.commit()
        path = f"/hooks/{slug}"
        r = await client.post(
            "/v1/webhook-endpoints",
            json={"url": f"http://127.0.0.1:{receiver_port}{path}"},
            headers={"Authorization": f"Bearer {keys[slug]}"},
        )
        if r.status_code != 201:
            raise RuntimeError(f"endpoint refused: {r.status_code} {r.text}")
        secrets[path] = r.json()["secret"]
    return keys, secrets


async def _invoices(
    client: httpx.AsyncClient, keys: dict[str, str], invoices: Sequence[Invoice]
) -> dict[str, str]:
    """One batch per service; returns reference -> pay token."""
    tokens: dict[str, str] = {}
    for slug, _ in SERVICES:
        items = [
            {
                "amount": inv.amount,
                "currency": "EUR",
                "reference": inv.reference,
                "description": "Exercice de panne",
                "payer": {"name": "Camille Martin", "email": "camille@example.org"},
            }
            for inv in invoices
            if inv.service == slug
        ]
        if not items:
            continue
        r = await client.post(
            "/v1/invoice-batches",
            json={"invoices": items},
            headers={"Authorization": f"Bearer {keys[slug]}"},
            timeout=120,
        )
        if r.status_code != 201:
            raise RuntimeError(f"batch refused: {r.status_code} {r.text[:500]}")
        for item in r.json()["invoices"]:
            tokens[item["reference"]] = item["payment_url"].rsplit("/", 1)[1]
    return tokens


async def _press_pay(client: httpx.AsyncClient, token: str) -> str:
    r = await client.post(f"/pay/{token}/checkout")
    if r.status_code != 303:
        raise RuntimeError(f"Pay refused: {r.status_code} {r.text[:300]}")
    found = re.search(r"/_simulator/checkout/(cs_sim_\w+)$", r.headers["location"])
    if not found:
        raise RuntimeError(f"not the simulator's card page: {r.headers['location']}")
    return found.group(1)


async def clone(source_url: str, copy_url: str) -> None:
    """``copy_url``'s database becomes a copy of ``source_url``'s (nothing may be connected
    to the source meanwhile: the drill's processes are not started yet)."""
    source = _plain(source_url).rsplit("/", 1)[1]
    base, name = _plain(copy_url).rsplit("/", 1)
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY($1)",
            [source, name],
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    finally:
        await conn.close()
