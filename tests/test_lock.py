"""The lock files (``make lock``): every dependency of pyproject.toml pinned, with hashes, in
requirements.lock (runtime + dev: make, .ci/run) and the runtime ones in
requirements-runtime.lock (the Dockerfile), at the same versions; and the three installers
install from them with ``--require-hashes``."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def _name(requirement: str) -> str:
    bare = re.split(r"[\s\[<>=!~;,]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


def pins(lock: str) -> dict[str, str]:
    """name -> version of every ``name==version`` block, each with at least one hash."""
    text = (ROOT / lock).read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = PIN.match(block)
        if m:
            assert "--hash=sha256:" in block, f"{lock}: {m.group(1)} has no hash"
            found[_name(m.group(1))] = m.group(2)
    return found


def _project() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_every_dependency_is_pinned_with_hashes() -> None:
    project = _project()
    runtime = {_name(r) for r in project["dependencies"]}
    dev = {_name(r) for r in project["optional-dependencies"]["dev"]}
    full, slim = pins("requirements.lock"), pins("requirements-runtime.lock")
    assert sorted((runtime | dev) - set(full)) == [], "run `make lock`"
    assert sorted(runtime - set(slim)) == [], "run `make lock`"
    # the runtime lock is the same tree, cut to what regie needs to run
    assert {n: v for n, v in slim.items() if full.get(n) != v} == {}
    assert "playwright" not in slim and "mutmut" not in slim


def test_the_installers_install_from_the_locks_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --require-hashes -r requirements.lock" in makefile
    # regie itself built with the lock's setuptools, as the image does (no isolated build,
    # which would fetch the newest setuptools unchecked)
    assert "pip install --quiet --no-deps --no-build-isolation -e ." in makefile
    assert "-e '.[dev]'" not in makefile
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements-runtime.lock" in dockerfile
    assert "--no-deps" in dockerfile
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make lint" in ci and "make test" in ci  # both go through the venv stamp rule


def test_the_image_builds_regie_with_the_locked_setuptools_not_one_fetched_unchecked() -> None:
    """``pip install --no-deps .`` still builds regie in an isolated environment, into which
    pip fetched pyproject's build requirements (``setuptools>=77``): the newest from the
    index, unpinned and without a hash, at every ``docker build``. The image installs the
    build lock (requirements-build.lock, cut from requirements.lock by ``make lock``) with
    its hashes, then builds regie without isolation, with it."""
    from packaging.requirements import Requirement

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requires = pyproject["build-system"]["requires"]
    build, full = pins("requirements-build.lock"), pins("requirements.lock")
    for requirement in map(Requirement, requires):
        name = _name(requirement.name)
        assert name in build, f"requirements-build.lock lacks {name}: run `make lock`"
        assert build[name] == full[name] and requirement.specifier.contains(build[name])
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    pinned = dockerfile.index("--require-hashes -r requirements-build.lock")
    assert pinned < dockerfile.index("--no-deps --no-build-isolation .")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "requirements-build.lock" in makefile.split("\nlock:", 1)[1].split("\n\n", 1)[0]
