"""Print the app's OpenAPI document as YAML (``make openapi`` writes ``openapi.yaml``)."""

from __future__ import annotations

import sys
from typing import Any

import yaml

from regie.app import create_app
from regie.kit.settings import Settings


def current_schema() -> dict[str, Any]:
    app = create_app(
        Settings(database_url="sqlite+aiosqlite:///:memory:", psp="simulator", env="development")
    )
    return app.openapi()


def main() -> None:
    yaml.safe_dump(current_schema(), sys.stdout, sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":
    main()
