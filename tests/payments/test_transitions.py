"""One transition function: every status change goes through payments.transitions.

The guard parses every module of regie's packages and fails on any other write to an
attribute named ``status`` (plain, tuple-unpacking, augmented or annotated assignment,
``setattr``), on a bulk ``update(Invoice|Payment|Refund).values(status=...)``, and on a
``StateChange`` row built anywhere else. The rest tests the function on a real database.
"""

from __future__ import annotations

import ast
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from payments import repository as repo
from payments.models import Invoice, Payment, Refund, StateChange
from payments.states import (
    LATER_WORD_WINS_NOTE,
    PAID_AFTER_EXPIRY_NOTE,
    REFUND_TRANSITIONS,
    InvalidTransition,
    InvoiceStatus,
    PaymentStatus,
    RefundStatus,
    TransitionKind,
    can_invoice,
)
from payments.transitions import record_new, transition
from regie.kit.events import DomainEvent
from regie.kit.uow import UnitOfWork, unit_of_work
from tests.conftest import Keys, create_invoice, start_checkout

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("payments", "webhooks", "receipts", "ledger", "reconciliation", "regie")
TRANSITION_MODULE = "payments.transitions"
MODELS = {"Invoice", "Payment", "Refund"}

# Objects that have a ``status`` of their own and are not invoices, payments or refunds:
# (package prefix, receiver) -> what it is. Keyed by package, not file, so that moving a
# module inside its package does not matter.
NOT_OURS = {
    ("payments.providers", "cs"): "the simulator PSP's own checkout sessions",
    ("webhooks", "locked"): "a webhook inbox row",
    ("webhooks", "row"): "a webhook inbox row",
    ("regie.kit", "self"): "ApiError's HTTP status",
}


# ------------------------------------------------------------------- the guard
def _targets(node: ast.expr) -> list[ast.expr]:
    """Every target an assignment writes, through tuple/list/starred unpacking."""
    if isinstance(node, (ast.Tuple, ast.List)):
        return [t for elt in node.elts for t in _targets(elt)]
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    return [node]


def _written(tree: ast.AST) -> list[ast.expr]:
    out: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            out += [t for target in node.targets for t in _targets(target)]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            out += _targets(node.target)
        elif isinstance(node, ast.comprehension):
            out += _targets(node.target)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            out += [
                t for item in node.items if item.optional_vars for t in _targets(item.optional_vars)
            ]
    return out


def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _is_model_update(node: ast.expr) -> bool:
    """Does this chain of calls start with ``update(Invoice|Payment|Refund)``?"""
    while isinstance(node, (ast.Call, ast.Attribute)):
        if isinstance(node, ast.Call):
            first = node.args[0] if node.args else None
            if _call_name(node) == "update" and isinstance(first, ast.Name) and first.id in MODELS:
                return True
            node = node.func
        else:
            node = node.value
    return False


@dataclass(frozen=True)
class Write:
    line: int
    what: str
    receiver: str = ""


def status_writes(source: str) -> list[Write]:
    """Every write of a ``status`` attribute, and every ``StateChange`` row built."""
    tree = ast.parse(source)
    found = [
        Write(t.lineno, ast.unparse(t), ast.unparse(t.value))
        for t in _written(tree)
        if isinstance(t, ast.Attribute) and t.attr == "status"
    ]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if (
            name in ("setattr", "__setattr__")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "status"
        ):
            found.append(Write(node.lineno, ast.unparse(node), ast.unparse(node.args[0])))
        elif (
            name == "values"
            and isinstance(node.func, ast.Attribute)
            and _is_model_update(node.func.value)
            and any(k.arg == "status" for k in node.keywords)
        ):
            found.append(Write(node.lineno, ast.unparse(node)))
        elif name == "StateChange":
            found.append(Write(node.lineno, "StateChange(...)"))
    return sorted(found, key=lambda w: w.line)


def _modules() -> list[tuple[str, Path]]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out.append((".".join(parts), path))
    return out


def _not_ours(module: str, w: Write) -> bool:
    return any(
        (module == prefix or module.startswith(prefix + ".")) and w.receiver == receiver
        for prefix, receiver in NOT_OURS
    )


def test_no_status_changes_outside_the_transition_function() -> None:
    modules = _modules()
    assert TRANSITION_MODULE in dict(modules)
    assert len(modules) > 50  # the walk found the tree
    offenders = [
        f"{path.relative_to(ROOT)}:{w.line}: {w.what}"
        for module, path in modules
        if module != TRANSITION_MODULE
        for w in status_writes(path.read_text(encoding="utf-8"))
        if not _not_ours(module, w)
    ]
    assert offenders == [], "use payments.transitions.transition:\n" + "\n".join(offenders)


def test_the_transition_module_is_where_the_writes_are() -> None:
    path = dict(_modules())[TRANSITION_MODULE]
    whats = {w.what for w in status_writes(path.read_text(encoding="utf-8"))}
    assert {"subject.status", "StateChange(...)"} <= whats


# Lines of the code this replaced (payments/service.py and payments/refunds.py), and the
# other ways to write a status: each one must be caught.
OLD_CODE = """\
inv.status, inv.updated_at = InvoiceStatus.disputed, utcnow()
p.status, p.updated_at, p.next_check_at = target, now, None
refund.status, refund.updated_at, refund.next_attempt_at = status, now, None
inv.status = target
inv.status, inv.amount_paid, inv.paid_at, inv.updated_at = (InvoiceStatus.paid, p.amount, now, now)
p.status, p.failure_code, p.failure_message = (PaymentStatus.failed, "provider_unavailable", exc.kind)
(a, [b.status, *c]) = x
first, *rest.status = x
x.status += "_again"
x.status: str = "paid"
setattr(inv, "status", "paid")
object.__setattr__(inv, "status", "paid")
s.execute(update(Payment).where(Payment.id == pid).values(status="failed"))
uow.session.add(StateChange(invoice_id=inv.id, to_status="paid"))
"""


def test_the_guard_catches_the_old_hand_written_changes() -> None:
    lines = {w.line for w in status_writes(OLD_CODE)}
    assert lines == set(range(1, OLD_CODE.count("\n") + 1))
    # (and an exemption only holds in its own package)
    (w,) = status_writes("cs.status = 'canceled'\n")
    assert _not_ours("payments.providers.simulator", w)
    assert not _not_ours("payments.service.checkout", w)


def test_reading_a_status_is_not_a_write() -> None:
    src = "if p.status == 'failed':\n    x = p.status\nq = update(InboxEvent).values(status='pending')\n"
    assert status_writes(src) == []


# --------------------------------------------------------- the function itself
AT = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Probe(DomainEvent):
    name: str


async def _invoice_and_payment(client: Any, app: Any, keys: Keys) -> tuple[str, str]:
    inv = await create_invoice(client, keys.urbanisme)
    await start_checkout(client, inv)  # a pending payment
    async with app.state.db.session() as s:
        (p,) = (await repo.payments_of(s, [inv["id"]]))[inv["id"]]
    return inv["id"], p.id


async def _rows(app: Any, invoice_id: str) -> list[StateChange]:
    async with app.state.db.session() as s:
        stmt = (
            select(StateChange).where(StateChange.invoice_id == invoice_id).order_by(StateChange.id)  # type: ignore[arg-type]
        )
        return list((await s.execute(stmt)).scalars())


async def _count(app: Any) -> int:
    async with app.state.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(StateChange))).scalar_one())


def _probe(app: Any) -> list[str]:
    seen: list[str] = []

    async def on_probe(uow: UnitOfWork, ev: Probe) -> None:
        seen.append(ev.name)

    app.state.bus.subscribe(Probe, on_probe)
    return seen


async def _load(uow: UnitOfWork, invoice_id: str, payment_id: str) -> tuple[Invoice, Payment]:
    inv = await repo.get_invoice(uow.session, invoice_id, lock=True)
    p = await repo.get_payment(uow.session, payment_id, lock=True)
    assert inv is not None and p is not None
    return inv, p


async def test_an_illegal_transition_raises_and_writes_nothing(client, app, keys: Keys) -> None:
    invoice_id, payment_id = await _invoice_and_payment(client, app, keys)
    seen = _probe(app)
    before = await _count(app)
    async with unit_of_work(app.state.db, app.state.bus) as uow:
        inv, p = await _load(uow, invoice_id, payment_id)
        updated = inv.updated_at
        with pytest.raises(InvalidTransition):  # open -> refunded is not in the table
            transition(uow, inv, InvoiceStatus.refunded, cause="test", event=Probe("x"), at=AT)
        with pytest.raises(InvalidTransition):  # a step is never asked for as another kind
            transition(
                uow, p, PaymentStatus.failed, invoice=inv, cause="test",
                kind=TransitionKind.later_word_wins, event=Probe("y"), at=AT,
            )  # fmt: skip
        assert (inv.status, inv.updated_at, p.status) == ("open", updated, "pending")
        assert not uow.session.new and not uow.session.dirty
        await uow.commit()
    assert await _count(app) == before and seen == []
    async with app.state.db.session() as s:
        inv2 = await repo.get_invoice(s, invoice_id)
        assert inv2 is not None and (inv2.status, inv2.updated_at) == ("open", updated)


async def test_a_transition_writes_its_row_sets_its_timestamps_and_publishes(
    client, app, keys: Keys
) -> None:
    invoice_id, payment_id = await _invoice_and_payment(client, app, keys)
    seen = _probe(app)
    async with unit_of_work(app.state.db, app.state.bus) as uow:
        inv, p = await _load(uow, invoice_id, payment_id)
        transition(uow, p, PaymentStatus.succeeded, invoice=inv, cause="test:pay", at=AT)
        transition(uow, inv, InvoiceStatus.paid, cause="test:pay", event=Probe("paid"), at=AT)
        assert (p.status, p.updated_at, p.succeeded_at) == ("succeeded", AT, AT)
        assert (inv.status, inv.updated_at, inv.paid_at) == ("paid", AT, AT)
        assert seen == []  # events go out with the transaction, not before
        await uow.commit()
    assert seen == ["paid"]
    later = AT + dt.timedelta(days=3)
    async with unit_of_work(app.state.db, app.state.bus) as uow:
        inv, p = await _load(uow, invoice_id, payment_id)
        transition(uow, inv, InvoiceStatus.disputed, cause="test:dispute", note="dp_1", at=later)
        with pytest.raises(InvalidTransition):  # only the dispute's close leaves a dispute
            transition(uow, inv, InvoiceStatus.paid, cause="test:won", note="dp_1", at=later)
        transition(
            uow, inv, InvoiceStatus.paid, cause="test:won", note="dp_1", at=later,
            kind=TransitionKind.dispute_closed,
        )  # fmt: skip
        assert (inv.updated_at, inv.paid_at) == (later, AT)  # a won dispute: paid when it was
        await uow.commit()
    rows = [
        (r.object, r.payment_id, r.from_status, r.to_status, r.cause, r.note)
        for r in await _rows(app, invoice_id)
    ]
    assert rows == [
        ("invoice", None, None, "open", "api:create", None),
        ("payment", payment_id, None, "pending", "citizen:checkout", None),
        ("payment", payment_id, "pending", "succeeded", "test:pay", None),
        ("invoice", None, "open", "paid", "test:pay", None),
        ("invoice", None, "paid", "disputed", "test:dispute", "dp_1"),
        ("invoice", None, "disputed", "paid", "test:won", "dp_1"),
    ]


@pytest.mark.parametrize("target", [InvoiceStatus.canceled, InvoiceStatus.expired])
async def test_closing_an_invoice_stamps_when(client, app, keys: Keys, target) -> None:
    invoice_id, payment_id = await _invoice_and_payment(client, app, keys)
    async with unit_of_work(app.state.db, app.state.bus) as uow:
        inv, p = await _load(uow, invoice_id, payment_id)
        transition(uow, inv, target, cause="test", at=AT)
        transition(uow, p, PaymentStatus(target.value), invoice=inv, cause="test", at=AT)
        assert (inv.canceled_at, inv.expired_at) == (
            (AT, None) if target == InvoiceStatus.canceled else (None, AT)
        )
        assert (inv.paid_at, p.succeeded_at, p.updated_at) == (None, None, AT)
        await uow.commit()


async def test_the_psps_later_word_wins_is_a_named_kind_of_transition(
    client, app, keys: Keys
) -> None:
    invoice_id, payment_id = await _invoice_and_payment(client, app, keys)
    async with unit_of_work(app.state.db, app.state.bus) as uow:
        inv, p = await _load(uow, invoice_id, payment_id)
        transition(uow, p, PaymentStatus.failed, invoice=inv, cause="psp:evt_1", at=AT)
        assert p.succeeded_at is None
        with pytest.raises(InvalidTransition):  # not as an ordinary step
            transition(uow, p, PaymentStatus.succeeded, invoice=inv, cause="psp:evt_2")
        assert p.status == "failed"
        later = AT + dt.timedelta(minutes=1)
        transition(
            uow, p, PaymentStatus.succeeded, invoice=inv, cause="psp:evt_2",
            kind=TransitionKind.later_word_wins, at=later,
        )  # fmt: skip
        assert (p.status, p.updated_at, p.succeeded_at) == ("succeeded", later, later)
        await uow.commit()
    rows = [(r.from_status, r.to_status, r.cause, r.note) for r in await _rows(app, invoice_id)]
    assert rows[-2:] == [
        ("pending", "failed", "psp:evt_1", None),
        ("failed", "succeeded", "psp:evt_2", LATER_WORD_WINS_NOTE),
    ]
    assert LATER_WORD_WINS_NOTE == "PSP's later word wins"


async def test_an_expired_invoice_is_paid_only_as_a_named_kind_of_transition(
    client, app, keys: Keys
) -> None:
    """A payment on its way when the invoice expired (a SEPA debit) pays it: the step
    expired -> paid exists only as ``paid_after_expiry``; a canceled invoice has none."""
    invoice_id, payment_id = await _invoice_and_payment(client, app, keys)
    later = AT + dt.timedelta(days=3)
    async with unit_of_work(app.state.db, app.state.bus) as uow:
        inv, p = await _load(uow, invoice_id, payment_id)
        transition(uow, inv, InvoiceStatus.expired, cause="sweeper:expiry", at=AT)
        with pytest.raises(InvalidTransition):  # not as an ordinary step
            transition(uow, inv, InvoiceStatus.paid, cause="psp:evt_1", at=later)
        transition(uow, p, PaymentStatus.succeeded, invoice=inv, cause="psp:evt_1", at=later)
        transition(
            uow, inv, InvoiceStatus.paid, cause="psp:evt_1", at=later,
            kind=TransitionKind.paid_after_expiry,
        )  # fmt: skip
        assert (inv.status, inv.expired_at, inv.paid_at) == ("paid", AT, later)
        await uow.commit()
    rows = [(r.from_status, r.to_status, r.note) for r in await _rows(app, invoice_id)]
    assert rows[-1] == ("expired", "paid", PAID_AFTER_EXPIRY_NOTE)
    assert not can_invoice(InvoiceStatus.canceled, InvoiceStatus.paid)
    assert not can_invoice(InvoiceStatus.expired, InvoiceStatus.paid, TransitionKind.ordinary)


async def test_refunds_follow_their_own_table(client, app, keys: Keys) -> None:
    assert REFUND_TRANSITIONS == {
        RefundStatus.pending: {RefundStatus.succeeded, RefundStatus.failed},
        RefundStatus.succeeded: {RefundStatus.failed},  # only as the PSP's later word
        RefundStatus.failed: set(),
    }
    invoice_id, payment_id = await _invoice_and_payment(client, app, keys)
    async with unit_of_work(app.state.db, app.state.bus) as uow:
        inv, p = await _load(uow, invoice_id, payment_id)

        def build(status: RefundStatus) -> Refund:
            return Refund(
                id="ref_test", invoice_id=inv.id, payment_id=p.id, service_id=inv.service_id,
                provider=p.provider, amount=100, currency="EUR", status=status, origin="api",
                created_at=AT, updated_at=AT,
            )  # fmt: skip

        with pytest.raises(InvalidTransition):  # a refund is born pending
            record_new(uow, build(RefundStatus.succeeded), invoice=inv, cause="test")
        refund = build(RefundStatus.pending)
        uow.session.add(refund)
        record_new(uow, refund, invoice=inv, cause="test:refund")
        with pytest.raises(InvalidTransition):
            transition(uow, refund, RefundStatus.pending, invoice=inv, cause="test")
        transition(uow, refund, RefundStatus.succeeded, invoice=inv, cause="psp:evt_r", at=AT)
        assert (refund.status, refund.updated_at, refund.succeeded_at) == ("succeeded", AT, AT)
        with pytest.raises(InvalidTransition):  # not as an ordinary step
            transition(uow, refund, RefundStatus.failed, invoice=inv, cause="test")
        transition(
            uow, refund, RefundStatus.failed, invoice=inv, cause="psp:evt_f",
            kind=TransitionKind.later_word_wins, at=AT,
        )  # fmt: skip
        assert (refund.status, refund.succeeded_at) == ("failed", AT)  # both are kept
        await uow.commit()
    rows = [
        (r.object, r.payment_id, r.from_status, r.to_status, r.note)
        for r in await _rows(app, invoice_id)
    ]
    assert rows[-3:] == [
        ("refund", None, None, "pending", "ref_test"),  # the note names the refund
        ("refund", None, "pending", "succeeded", "ref_test"),
        ("refund", None, "succeeded", "failed", LATER_WORD_WINS_NOTE),
    ]


async def test_a_payment_is_audited_on_its_own_invoice(client, app, keys: Keys) -> None:
    invoice_id, payment_id = await _invoice_and_payment(client, app, keys)
    other = await create_invoice(client, keys.urbanisme, reference="PC-OTHER")
    async with unit_of_work(app.state.db, app.state.bus) as uow:
        inv, p = await _load(uow, invoice_id, payment_id)
        wrong = await repo.get_invoice(uow.session, other["id"])
        assert wrong is not None
        with pytest.raises(ValueError, match="its own invoice"):
            transition(uow, p, PaymentStatus.failed, invoice=wrong, cause="test")
        assert p.status == "pending" and not uow.session.new
