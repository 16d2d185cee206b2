"""``regie services …`` and ``regie keys …``: client services (tenants) and their API keys.

A bad argument (a name no service has, a value a service cannot keep) is exit 2 with one
line, checked before anything is written; 1 is for what the command found (a service that
already exists)."""

from __future__ import annotations

from typing import Annotated

import typer

from regie.cli_common import database_settings, fail, run_async
from regie.kit.settings import Settings

services_app = typer.Typer(help="Client services (tenants).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)


async def _with_session(settings: Settings, fn):  # type: ignore[no-untyped-def]
    from regie.kit.database import Database

    db = Database(settings.database_url)
    try:
        async with db.session() as s:
            result = await fn(s)
            await s.commit()
            return result
    finally:
        await db.dispose()


def _run(settings: Settings, fn):  # type: ignore[no-untyped-def]
    """``fn`` in one transaction; a name no service has is exit 2 (a bad argument), any
    other refusal exit 1 (what the command found). Nothing is committed either way."""
    from regie.kit.tenancy import TenancyError, UnknownService

    try:
        return run_async(_with_session(settings, fn))
    except UnknownService as exc:
        fail(f"{exc} (create it with `regie services create NAME`)", 2)
    except TenancyError as exc:
        fail(str(exc))


_SUFFIX_HELP = (
    "Printed after the Stripe account's prefix on payers' card statements "
    "(Stripe's rules: 22 characters in all, Latin letters, no < > \\ ' \" *)"
)


_EMAIL_HELP = "Email address citizens write to (on receipts and pay pages)"
_PHONE_HELP = "Phone number citizens call (on receipts and pay pages)"
_HOURS_HELP = "Opening hours, as you word them, e.g. 'Lundi–vendredi 9 h – 12 h'"
_REGIE_HELP = "Name of the régie that collects for the service (on receipts)"


def _checked_suffix(settings: Settings, suffix: str | None) -> str | None:
    """The suffix, if Stripe would take it after the account's prefix; exit 2 if not."""
    if not suffix:
        return None
    from payments.providers.stripe.descriptors import suffix_problem

    problem = suffix_problem(suffix, settings.stripe_statement_descriptor_prefix or None)
    if problem:
        fail(problem, 2)
    return suffix


def _check_lengths(**given: str | None) -> None:
    """Each value fits its column (contact details as they are kept: stripped); else exit 2
    naming the option. Keyword names are the columns' (``name`` is ``--display-name``)."""
    from regie.kit.tenancy import CONTACT_FIELDS, SERVICE_FIELDS

    for field, value in given.items():
        limit = CONTACT_FIELDS.get(field) or SERVICE_FIELDS[field]
        kept = (value or "").strip() if field in CONTACT_FIELDS else value or ""
        if len(kept) > limit:
            option = "--display-name" if field == "name" else "--" + field.replace("_", "-")
            fail(f"{option} is at most {limit} characters, not {len(kept)}", 2)


def _check_timezone(timezone: str) -> None:
    """An IANA time zone this machine knows (the pay pages show times in it); else exit 2."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--timezone is an IANA time zone, e.g. Europe/Paris, not {timezone[:64]!r}", 2)


@services_app.command("create")
def services_create(
    name: Annotated[str, typer.Argument(help="Short name, e.g. urbanisme")],
    display_name: Annotated[str | None, typer.Option(help="Name shown to citizens")] = None,
    address: Annotated[str, typer.Option(help="Postal address on receipts")] = "",
    identifier: Annotated[str, typer.Option(help="SIRET or similar")] = "",
    timezone: Annotated[str, typer.Option(help="IANA time zone")] = "Europe/Paris",
    statement_descriptor_suffix: Annotated[str, typer.Option(help=_SUFFIX_HELP)] = "",
    email: Annotated[str, typer.Option(help=_EMAIL_HELP)] = "",
    phone: Annotated[str, typer.Option(help=_PHONE_HELP)] = "",
    opening_hours: Annotated[str, typer.Option(help=_HOURS_HELP)] = "",
    regie_name: Annotated[str, typer.Option(help=_REGIE_HELP)] = "",
) -> None:
    """Create a client service (tenant)."""
    from regie.kit.tenancy import SLUG_RE, create_service, set_contact

    if not SLUG_RE.fullmatch(name):
        fail(f"service names are 2-40 lower-case letters, digits or dashes, not {name!r}", 2)
    _check_lengths(name=display_name, address=address, identifier=identifier, email=email,
                   phone=phone, opening_hours=opening_hours, regie_name=regie_name)  # fmt: skip
    _check_timezone(timezone)
    settings = database_settings()
    suffix = _checked_suffix(settings, statement_descriptor_suffix)

    async def go(s):  # type: ignore[no-untyped-def]
        return await create_service(
            s,
            name,
            display_name,
            address=address,
            identifier=identifier,
            timezone=timezone,
            statement_descriptor_suffix=suffix,
        ), await set_contact(
            s, name, email=email, phone=phone, opening_hours=opening_hours, regie_name=regie_name
        )

    svc, _ = _run(settings, go)
    typer.echo(svc.id)


@services_app.command("set-statement-descriptor")
def services_set_statement_descriptor(
    name: Annotated[str, typer.Argument(help="The service's short name")],
    suffix: Annotated[str, typer.Argument(help=_SUFFIX_HELP + "; empty to remove it")],
) -> None:
    """Set (or remove) the words a service's payers read on their card statement."""
    from regie.kit.tenancy import set_statement_descriptor_suffix

    settings = database_settings()
    checked = _checked_suffix(settings, suffix)

    async def go(s):  # type: ignore[no-untyped-def]
        return await set_statement_descriptor_suffix(s, name, checked)

    _run(settings, go)


@services_app.command("set-contact")
def services_set_contact(
    name: Annotated[str, typer.Argument(help="The service's short name")],
    address: Annotated[
        str | None, typer.Option(help="Postal address, lines separated by commas")
    ] = None,
    email: Annotated[str | None, typer.Option(help=_EMAIL_HELP)] = None,
    phone: Annotated[str | None, typer.Option(help=_PHONE_HELP)] = None,
    opening_hours: Annotated[str | None, typer.Option(help=_HOURS_HELP)] = None,
    regie_name: Annotated[str | None, typer.Option(help=_REGIE_HELP)] = None,
) -> None:
    """Set how citizens reach a service, printed on its receipts from now on and shown on
    the pay pages that send them to it; an option left out is kept, an empty one removed."""
    from regie.kit.tenancy import set_contact

    given = {
        "address": address, "email": email, "phone": phone,
        "opening_hours": opening_hours, "regie_name": regie_name,
    }  # fmt: skip
    _check_lengths(**given)
    settings = database_settings()

    async def go(s):  # type: ignore[no-untyped-def]
        return await set_contact(s, name, **{k: v for k, v in given.items() if v is not None})

    _run(settings, go)


@keys_app.command("create")
def keys_create(
    service: Annotated[str, typer.Option(help="The service's short name")],
    role: Annotated[str, typer.Option(help="service, finance or admin")] = "service",
) -> None:
    """Create an API key; prints the key alone on stdout (it is shown only once)."""
    from regie.kit.tenancy import Role, UnknownService, create_key, get_service_by_slug

    if role not in {r.value for r in Role}:
        fail(f"--role must be service, finance or admin, not {role!r}", 2)
    settings = database_settings()

    async def go(s):  # type: ignore[no-untyped-def]
        svc = await get_service_by_slug(s, service)
        if svc is None:  # before any key is made
            raise UnknownService(f"no service named {service!r}")
        production = settings.env == "production"
        return (await create_key(s, svc, Role(role), live=production, production=production))[1]

    typer.echo(_run(settings, go))


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id (key_…) or the key itself")],
) -> None:
    """Revoke an API key at once."""
    from regie.kit.tenancy import TenancyError, revoke_key

    async def go(s):  # type: ignore[no-untyped-def]
        return await revoke_key(s, key)

    try:
        row = run_async(_with_session(database_settings(), go))
    except TenancyError as exc:  # no such key: a bad argument (the key itself is not shown)
        fail(str(exc), 2)
    typer.echo(f"revoked {row.id}", err=True)
