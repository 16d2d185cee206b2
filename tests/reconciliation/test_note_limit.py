"""The resolve endpoint's note limit counts as the workspace's does, once the white space
around the note is stripped (SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx

from reconciliation.decisions import MAX_NOTE
from tests.conftest import Keys
from tests.reconciliation.test_reconcile_api import _period, _upload, camt
from tests.reconciliation.test_reconcile_api import settings as settings  # noqa: F401


async def test_the_longest_note_with_a_trailing_line_end_is_taken_as_in_the_workspace(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """A note of exactly 2,000 characters pasted with its trailing line end ("…\\n"):
    the workspace's form accepts it (the limit counts once the spaces around the note are
    stripped: ``reconciliation.decisions.MAX_NOTE``, and the service stores it stripped),
    but POST /v1/reconciliations/{id}/discrepancies/{id}/resolve refuses it with 422
    "String should have at most 2000 characters." (``NoteIn.note`` has
    ``max_length=2000`` on the unstripped text). The same note should be taken by both."""
    fin = Keys.h(keys.finance)
    assert (await _upload(client, keys.finance, camt([("BNK-1", "15.00", "X")]))).status_code == 201
    run = (await client.post("/v1/reconciliations", json=_period(), headers=fin)).json()
    d = run["discrepancies"][0]
    note = "Subvention. " * 166 + "Titre 42"  # 2,000 characters
    assert len(note) == MAX_NOTE
    r = await client.post(
        f"/v1/reconciliations/{run['id']}/discrepancies/{d['id']}/resolve",
        json={"note": note + "\n"}, headers=fin,
    )  # fmt: skip
    assert r.status_code == 200, r.text[:300]
    assert r.json()["note"] == note
