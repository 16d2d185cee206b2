"""The simulator's card page (issue 11, Pages): the expiry as people type it, every error
at once in an error summary linked to its fields, what was typed kept (never the full card
number: its last four digits at most), and a language link that leads somewhere."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from payments.providers.simulator.cards import (
    CardError,
    Outcome,
    check_card,
    kept_number,
    parse_expiry,
)
from tests.conftest import Keys, create_invoice, start_checkout, token_of

TODAY = dt.date(2026, 11, 20)
GOOD = {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123"}


# ------------------------------------------------------------------ pure
@pytest.mark.parametrize(
    ("typed", "month_year"),
    [
        ("12/34", (12, 2034)),
        ("1234", (12, 2034)),
        ("12 34", (12, 2034)),
        ("12-34", (12, 2034)),
        (" 12 / 34 ", (12, 2034)),
        ("1/34", (1, 2034)),
        ("12/2034", (12, 2034)),
        ("122034", (12, 2034)),
    ],
)
def test_the_expiry_is_read_as_people_type_it(typed: str, month_year: tuple[int, int]) -> None:
    assert parse_expiry(typed) == month_year


@pytest.mark.parametrize("typed", ["", "12", "123", "12345", "12/3", "ab/cd", "12//34", "1 2 34"])
def test_what_is_not_an_expiry(typed: str) -> None:
    assert parse_expiry(typed) is None


def test_every_problem_is_said_at_once() -> None:
    with pytest.raises(CardError) as err:
        check_card("1234", "13/99", "1", TODAY)
    assert err.value.codes == ("invalid_number", "invalid_expiry", "invalid_cvc")
    with pytest.raises(CardError) as err:
        check_card("5555 5555 5555 4444", "10/26", "123", TODAY)  # past, and not a test card
    assert err.value.codes == ("not_a_test_card", "invalid_expiry")
    assert err.value.kept is None


def test_a_card_is_good_until_the_end_of_its_expiry_month() -> None:
    assert check_card("4242 4242 4242 4242", "11/26", "123", TODAY).last4 == "4242"  # this month
    with pytest.raises(CardError) as err:
        check_card("4242 4242 4242 4242", "10/26", "123", TODAY)  # last month
    assert err.value.codes == ("invalid_expiry",)


def test_a_valid_test_card_is_kept_by_its_last_four_digits_only() -> None:
    with pytest.raises(CardError) as err:
        check_card("4000 0000 0000 0002", "13/30", "123", TODAY)
    assert err.value.codes == ("invalid_expiry",)
    assert err.value.kept == "•••• •••• •••• 0002"
    # sent back as it was shown, it names the same test card
    check = check_card(err.value.kept, "12/30", "123", TODAY)
    assert (check.outcome, check.last4) == (Outcome.decline, "0002")
    assert kept_number("4242 4242 4242 4242") == "•••• •••• •••• 4242"
    assert kept_number("5555 5555 5555 4444") is None  # only the simulator's test cards
    with pytest.raises(CardError) as err:
        check_card("•••• •••• •••• 4444", "12/30", "123", TODAY)  # no test card ends so
    assert err.value.codes == ("invalid_number",)


# ------------------------------------------------------------------ the page
async def refused(client, path: str, data: dict[str, str]):
    """Send a card form the page refuses: a redirect to the card page (post/redirect/get),
    which shows the problems; returns that page."""
    r = await client.post(path, data=data)
    assert r.status_code == 303, r.text
    assert r.headers["location"].split("?")[0] == path.split("?")[0]
    return await client.get(r.headers["location"])


@pytest.mark.parametrize("expiry", ["12/39", "1239", "12 39", "12-39"])
async def test_each_way_of_typing_the_expiry_pays(client, app, keys: Keys, expiry: str) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    _, path = await start_checkout(client, inv)
    r = await client.post(path, data={**GOOD, "expiry": expiry})
    assert r.status_code == 303, r.text
    await app.state.applier.process_batch()
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert doc["status"] == "paid"


async def test_every_error_is_shown_at_once_in_a_summary_linked_to_its_fields(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    _, path = await start_checkout(client, inv)
    r = await refused(client, path, {"card_number": "1234", "expiry": "13/99", "cvc": "1"})
    text = html.unescape(r.text)
    summary = re.search(r'<div class="error-summary"(.*?)</div>', text, re.S)
    assert summary, text
    assert 'role="alert"' in summary.group(1) and 'tabindex="-1"' in summary.group(1)
    assert "Il y a un problème" in summary.group(1)
    links = re.findall(r'<a href="#(\w+)">([^<]+)</a>', summary.group(1))
    assert links == [
        ("card_number", "Le numéro de carte n'est pas valide."),
        ("expiry", "La date d'expiration n'est pas valide ou est passée."),
        ("cvc", "Le code de sécurité a 3 ou 4 chiffres."),
    ]
    for field in ("card_number", "expiry", "cvc"):  # and each is said at its field
        tag = re.search(rf'<input id="{field}"[^>]*>', text)
        assert tag and 'aria-invalid="true"' in tag.group(0), field
        assert f'id="{field}_error"' in text
    assert text.count('class="error-msg"') == 3
    assert "<title>Erreur" in text


async def test_what_was_typed_is_kept_but_never_the_card_number(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    _, path = await start_checkout(client, inv)
    r = await refused(client, path, {**GOOD, "expiry": "13/39", "cvc": "12"})
    text = html.unescape(r.text)
    assert re.search(r'<input id="expiry"[^>]* value="13/39"', text)
    kept = re.search(r'<input id="card_number"[^>]* value="([^"]*)"', text)
    assert kept and kept.group(1) == "•••• •••• •••• 4242"
    inputs = re.findall(r"<input[^>]*>", text)
    assert not any("4242 4242 4242 4242" in i or "4242424242424242" in i for i in inputs)
    fresh = html.unescape((await client.get(path)).text)  # its banner names the test card
    assert text.count("4242 4242 4242 4242") == fresh.count("4242 4242 4242 4242")
    assert "4242424242424242" not in text
    assert not re.search(r'<input id="cvc"[^>]* value="12"', text)  # a code is typed again
    # what was kept pays once the rest is right
    r = await client.post(
        path, data={"card_number": kept.group(1), "expiry": "12 39", "cvc": "123"}
    )
    assert r.status_code == 303
    await app.state.applier.process_batch()
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert doc["status"] == "paid" and doc["payments"][0]["card"]["last4"] == "4242"


async def test_an_invalid_card_number_is_not_sent_back_at_all(client, app, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    _, path = await start_checkout(client, inv)
    r = await refused(client, path, {**GOOD, "card_number": "1234 5678 9012 3456"})
    assert "3456" not in r.text and "1234 5678" not in r.text
    assert re.search(r'<input id="expiry"[^>]* value="12/39"', r.text)


async def test_the_language_link_of_an_error_page_leads_to_the_card_page(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    checkout_id, path = await start_checkout(client, inv)
    r = await refused(client, path + "?lang=fr", {**GOOD, "cvc": "1"})
    link = re.search(r'<a class="lang-switch" href="([^"]+)"', r.text)
    assert link and link.group(1) == f"/_simulator/checkout/{checkout_id}?lang=en"
    r = await client.get(html.unescape(link.group(1)))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in r.text and "Card number" in r.text


async def test_an_unknown_card_page_is_a_404_page_in_the_asked_language(
    client, app, keys: Keys
) -> None:
    r = await client.get("/_simulator/checkout/cs_sim_unknown?lang=en")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in r.text and "Payment link not found" in r.text
    assert r.cookies.get("regie_lang") == "en"  # the choice is kept for the next pages
    link = re.search(r'<a class="lang-switch" href="([^"]+)"', r.text)
    assert link and link.group(1) == "/_simulator/checkout/cs_sim_unknown?lang=fr"


async def test_the_language_link_of_the_confirmation_step_keeps_the_step(
    client, app, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    checkout_id, path = await start_checkout(client, inv)
    r = await client.post(path + "?lang=fr", data={**GOOD, "card_number": "4000 0000 0000 3220"})
    assert r.status_code == 303
    r = await client.get(r.headers["location"])
    assert "Confirmez le paiement" in r.text
    link = re.search(r'<a class="lang-switch" href="([^"]+)"', r.text)
    assert link and link.group(1) == f"/_simulator/checkout/{checkout_id}?lang=en"
    r = await client.get(html.unescape(link.group(1)))
    assert r.status_code == 200
    assert '<html lang="en">' in r.text and "Confirm the payment" in r.text
    r = await client.post(
        f"/_simulator/checkout/{checkout_id}/confirm", data={"decision": "approve"}
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"http://testserver/pay/{token_of(inv)}/return")


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_the_confirmation_step_is_a_page_of_its_own_that_reloads_and_goes_back(
    client, app, keys: Keys, lang: str
) -> None:
    """The card the bank wants confirmed answers a redirect to the card page, which shows
    the step: reloading the step, or coming back to it with Back after paying, is a plain
    GET, never the card form sent again ("confirm form resubmission", then "session over"
    while the bank still waits for the answer)."""
    inv = await create_invoice(client, keys.urbanisme)
    checkout_id, path = await start_checkout(client, inv)
    r = await client.post(f"{path}?lang={lang}", data={**GOOD, "card_number": "4000000000003220"})
    assert r.status_code == 303
    assert r.headers["location"] == f"/_simulator/checkout/{checkout_id}?lang={lang}"
    step = "Confirmez le paiement" if lang == "fr" else "Confirm the payment"
    for _ in range(2):  # shown, then reloaded: the same step, still waiting
        r = await client.get(r.headers["location"] if r.status_code == 303 else str(r.url))
        assert r.status_code == 200 and step in r.text
        assert f'<html lang="{lang}">' in r.text
    r = await client.post(
        f"/_simulator/checkout/{checkout_id}/confirm?lang={lang}", data={"decision": "approve"}
    )
    assert r.status_code == 303
    await app.state.applier.process_batch()
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(keys.urbanisme))).json()
    assert doc["status"] == "paid" and doc["payments"][0]["card"]["last4"] == "3220"


@pytest.mark.parametrize(
    ("lang", "hint", "error"),
    [
        (
            "fr",
            "3 ou 4 chiffres, au dos de la carte (au recto pour American Express)",
            "Le code de sécurité a 3 ou 4 chiffres.",
        ),
        (
            "en",
            "3 or 4 digits, on the back of the card (on the front for American Express)",
            "The security code has 3 or 4 digits.",
        ),
    ],
)
async def test_the_security_code_hint_says_what_its_error_says(
    client, app, keys: Keys, lang: str, hint: str, error: str
) -> None:
    """The page accepts 3 or 4 digits (check_card): its hint says so, like its error."""
    with pytest.raises(CardError):
        check_card("4242 4242 4242 4242", "12/39", "12345", TODAY)
    check_card("4242 4242 4242 4242", "12/39", "1234", TODAY)  # 4 digits are a code
    inv = await create_invoice(client, keys.urbanisme)
    _, path = await start_checkout(client, inv)
    page = html.unescape((await client.get(f"{path}?lang={lang}")).text)
    assert f'<p class="hint" id="cvc_hint">{hint}</p>' in page
    r = await refused(client, f"{path}?lang={lang}", {**GOOD, "cvc": "1"})
    assert error in html.unescape(r.text)
