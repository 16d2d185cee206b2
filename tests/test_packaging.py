"""pyproject declares its licence as setuptools wants it (issue 11): an SPDX expression
with a setuptools that reads one, so installing prints no deprecation warning."""

from __future__ import annotations

import re
import tomllib
import warnings
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _config() -> dict[str, object]:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def test_the_licence_is_an_spdx_expression_for_a_setuptools_that_reads_it() -> None:
    config = _config()
    project = config["project"]
    assert isinstance(project, dict)
    assert project["license"] == "EUPL-1.2"  # not {text = …}: deprecated, warned on every install
    # PEP 639: no licence classifier beside the expression (setuptools refuses both)
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))
    build = config["build-system"]
    assert isinstance(build, dict)
    (setuptools,) = [r for r in build["requires"] if r.startswith("setuptools")]
    m = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools.replace(" ", ""))
    assert m and int(m.group(1)) >= 77, setuptools  # the first to read an SPDX `license`


def test_setuptools_reads_it_without_a_warning(tmp_path: Path) -> None:
    """With a setuptools that reads SPDX licences (the build's; the test venv's may be older)."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} here; the build installs >= 77")
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist = apply_configuration(Distribution(), str(PYPROJECT))
    assert dist.metadata.license_expression == "EUPL-1.2"
