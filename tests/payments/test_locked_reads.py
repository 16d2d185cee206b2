"""A locked read returns the row as it is once the lock is held, not a copy the session
read earlier: ``get_invoice(lock=True)`` after an unlocked read of the same invoice, while
another transaction changed it, must see that change (``populate_existing``, as
``get_payment`` and ``get_refund`` already do)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from payments import repository
from tests.conftest import Keys, create_invoice

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("by", ["id", "token"])
async def test_a_locked_read_after_an_unlocked_one_sees_the_committed_change(
    client: httpx.AsyncClient, app: Any, keys: Keys, by: str
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    db = app.state.db
    async with db.session() as first:
        seen = await repository.get_invoice(first, inv["id"])
        assert seen is not None and seen.amount_refunded == 0
        token = seen.pay_token
        async with db.session() as other:  # another worker, meanwhile
            row = await repository.get_invoice(other, inv["id"], lock=True)
            assert row is not None
            row.amount_refunded = 700
            await other.commit()
        if by == "id":
            locked = await repository.get_invoice(first, inv["id"], lock=True)
        else:
            locked = await repository.get_invoice_by_token(first, token, lock=True)
        assert locked is not None
        assert locked.amount_refunded == 700
        await first.rollback()
