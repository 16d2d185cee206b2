"""Deciding on a run's findings: resolve a discrepancy (a note is required), confirm or
reject a suggestion. A decision is stored by the item's stable key, so it holds in every
later run; a new one supersedes the one in force, which is never deleted."""

from __future__ import annotations

import unicodedata

from sqlalchemy.ext.asyncio import AsyncSession

from reconciliation import repository as repo
from reconciliation.banking import encode_ref, payout_bank_sides
from reconciliation.models import ReconDecision, ReconDiscrepancy, ReconSuggestion
from regie.kit.database import Database, utcnow
from regie.kit.errors import ApiError, NotFound
from regie.kit.ids import new_id

MAX_NOTE = 2000  # characters, once the spaces around it are stripped


class Decisions:
    db: Database

    async def resolve(
        self, run_id: str, discrepancy_id: str, note: str, actor: str
    ) -> ReconDecision:
        note = _note(note, required=True)
        async with self.db.session() as s:
            d = await s.get(ReconDiscrepancy, discrepancy_id)
            if d is None or d.run_id != run_id:
                raise NotFound("discrepancy", "discrepancy_id")
            return await self._decide(s, d.key, "resolve", note, actor, run_id)

    async def decide_suggestion(
        self, run_id: str, suggestion_id: str, action: str, note: str, actor: str
    ) -> ReconDecision:
        async with self.db.session() as s:
            x = await s.get(ReconSuggestion, suggestion_id)
            if x is None or x.run_id != run_id:
                raise NotFound("suggestion", "suggestion_id")
            note = _note(note, required=False)
            if action == "confirm":
                await _no_rival(s, x.key)
            return await self._decide(s, x.key, action, note, actor, run_id)

    async def _decide(
        self, s: AsyncSession, key: str, action: str, note: str, actor: str, run_id: str
    ) -> ReconDecision:
        decision = ReconDecision(
            id=new_id("dec"),
            key=key,
            action=action,
            note=note,
            actor=actor,
            run_id=run_id,
            created_at=utcnow(),
        )
        # one decider of a key at a time: two at once both found none in force (or the same
        # one), and both were left in force (a review found it on PostgreSQL)
        await repo.lock_decisions_of(s, key)
        # timed when its turn comes: one that waited supersedes the decision taken meanwhile,
        # and must not read as older than it
        decision.created_at = utcnow()
        previous = await repo.decision_in_force(s, key)
        if previous is not None:  # never deleted: superseded, before its successor is added
            previous.superseded_by = decision.id  # (one in force per key: a unique index)
            s.add(previous)
            await s.flush()
        s.add(decision)
        await s.commit()
        return decision


async def _no_rival(s: AsyncSession, key: str) -> None:
    """Refuses to confirm ``key`` while a confirmation in force claims one of its payouts or
    bank credits: each is matched once, so the next run would have matched the one whose
    key sorts first and dropped the other without a word. The confirmers wait for each
    other (``lock_confirmations``): two at once each found the other not confirmed yet."""
    sides = payout_bank_sides(key)
    if sides is None:
        return
    payouts, credits = set(sides[0]), set(sides[1])
    await repo.lock_confirmations(s)
    parts = [encode_ref(i) for i in sorted(payouts | credits)]
    for d in await repo.confirmations_naming(s, parts):
        theirs = payout_bank_sides(d.key)
        if d.key == key or theirs is None:
            continue
        shared = [f"payout {p}" for p in sorted(payouts & set(theirs[0]))]
        shared += [f"bank credit {b}" for b in sorted(credits & set(theirs[1]))]
        if not shared:
            continue
        rival = await repo.suggestion_of(s, d.run_id, d.key)
        which = f"suggestion {rival.id} of run {d.run_id}" if rival else f"run {d.run_id}"
        raise ApiError(
            409,
            "suggestion_conflict",
            f"Another suggestion confirmed ({which}) already claims {' and '.join(shared)}: "
            "a payout or a bank credit is matched once. Reject that suggestion first to "
            "confirm this one.",
        )


def _visible(c: str) -> bool:
    """A letter, a digit, a punctuation mark or a symbol: not a space, a control or format
    character (a zero-width space), a combining mark alone."""
    return unicodedata.category(c)[0] in "LNPS"


def note_text(note: str | None) -> str:
    """The note as stored: stripped, and empty when nothing in it is visible (a zero-width
    space alone is no note). The workspace's form checks a note with it too, so that it
    refuses in the page's language what the service would refuse."""
    note = (note or "").strip()
    return note if any(_visible(c) for c in note) else ""


def _note(note: str, *, required: bool) -> str:
    note = note_text(note)
    if required and not note:
        raise ApiError(
            422, "parameter_missing", "A note is required to resolve a discrepancy.", param="note"
        )
    if len(note) > MAX_NOTE:
        raise ApiError(
            422,
            "parameter_invalid",
            f"The note is longer than {MAX_NOTE} characters.",
            param="note",
        )
    if "\x00" in note:
        raise ApiError(422, "parameter_invalid", "The note contains a NUL character.", param="note")
    return note
