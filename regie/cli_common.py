"""What every ``regie`` subcommand module shares: settings with logging, and failing."""

from __future__ import annotations

import typer

from regie.kit.settings import Settings


def load_settings() -> Settings:
    from regie.kit.logging import configure

    settings = Settings()
    configure(settings.log_level)
    return settings


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
