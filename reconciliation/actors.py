"""Who ran a reconciliation or decided on a finding, said as a person reads it: the key's
service, role and printable prefix, or the command line; never the raw key id of a known
key. Pure: the caller looks the keys up (``regie.kit.tenancy.key_labels``).

Shared by the workspace's pages and the run's reports (PDF, CSV), so that both say it alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from regie.kit.i18n import translate_in

CLI_ACTOR = "cli"

WORDS: dict[str, dict[str, str]] = {
    "actor_key": {
        "fr": "la clé {role} de {service} ({prefix}…)",
        "en": "the {role} key of {service} ({prefix}…)",
    },
    "actor_cli": {"fr": "la ligne de commande", "en": "the command line"},
    "actor_unknown": {"fr": "la clé {id}", "en": "the key {id}"},
    "signer_key": {
        "fr": "{service}, clé {role} {prefix}…",
        "en": "{service}, {role} key {prefix}…",
    },
    "signer_cli": {"fr": "Ligne de commande", "en": "Command line"},
    "signer_unknown": {"fr": "Clé {id}", "en": "Key {id}"},
    "key_role_finance": {"fr": "finance", "en": "finance"},
    "key_role_service": {"fr": "de service", "en": "service"},
    "key_role_admin": {"fr": "d'administration", "en": "admin"},
}


class Label(Protocol):
    """What a person can tell a key by (``regie.kit.tenancy.KeyLabel``)."""

    @property
    def prefix(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def service(self) -> str: ...


def actor_text(actor: str, labels: Mapping[str, Label], lang: str, *, signer: bool = False) -> str:
    """Who ran a reconciliation (``signer=False``: "la clé finance de Mairie (rk_live_fin_…)")
    or signed a decision (``signer=True``: "Mairie, clé finance rk_live_fin_…"), from the
    recorded actor: a key's id, or ``cli`` for the command line. Never the raw key id when
    the key is known."""
    form = "signer" if signer else "actor"
    if actor == CLI_ACTOR:
        return translate_in(WORDS, f"{form}_cli", lang)
    label = labels.get(actor)
    if label is None:
        return translate_in(WORDS, f"{form}_unknown", lang, id=actor)
    role = translate_in(WORDS, f"key_role_{label.role}", lang)
    if role.startswith("key_role_"):
        role = label.role
    return translate_in(
        WORDS, f"{form}_key", lang, role=role, service=label.service, prefix=label.prefix
    )
