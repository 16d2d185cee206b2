"""Helpers of the workspace's page tests: sign in through the login form."""

from __future__ import annotations

import re

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF field on the page"
    return m.group(1)


async def sign_in(client: httpx.AsyncClient, key: str, next_path: str = "") -> httpx.Response:
    page = await client.get("/finance/login")
    assert page.status_code == 200, page.text
    data = {"key": key, "csrf": csrf_of(page.text)}
    if next_path:
        data["next"] = next_path
    return await client.post("/finance/login", data=data)
