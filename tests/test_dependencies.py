"""Every third-party module the code imports is declared by the extra that is installed to run it.

A developer's venv accumulates packages, so an undeclared import passes locally and breaks on
a fresh machine (tqdm once did: `autograders.grading` imported it, no extra required it).
This reads the imports from the source and walks the declared requirements, so it fails
here, before CI does.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = canonicalize_name("module14-fault-tolerance")
# the repository's own packages; a folder's own modules (conftest, bench_*) are added per folder
OWN_PACKAGES = {p.parent.name for p in ROOT.glob("*/__init__.py")}

# who runs the code in a folder, and with which extras installed
WHO_RUNS = {
    "course_lib": (),  # `pip install .`; httpx is imported only by the httpx adapter
    "autograders": ("course",),  # `pip install -e '.[course]'`, the instructor's set-up
    "benchmarks": ("test",),
    "tests": ("test",),
}
OPTIONAL_IMPORTS = {
    "course_lib": {"httpx": "http"},
    # `grade --cluster` only (autograders/cluster.py imports it when asked)
    "autograders": {"distributed": "class"},
}


def imported_top_level(folder: Path) -> set[str]:
    names: set[str] = set()
    paths = list(folder.rglob("*.py"))
    local = OWN_PACKAGES | {path.stem for path in paths}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in local}


def own_requirements() -> list[str]:
    """The project's requirements as pyproject.toml declares them now, not as last installed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra, reqs in project["optional-dependencies"].items():
        lines += [f'{r} ; extra == "{extra}"' for r in reqs]
    return lines


def declared_closure(extras: tuple[str, ...]) -> set[str]:
    """Canonical names of every distribution that installing PROJECT[extras] pulls in."""
    seen: set[tuple[str, frozenset[str]]] = set()
    found: set[str] = set()
    todo = [(PROJECT, frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        found.add(name)
        try:
            requires = own_requirements() if name == PROJECT else metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: its own requirements cannot be read
        for line in requires:
            req = Requirement(line)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return found


def undeclared(
    folder: Path, extras: tuple[str, ...], optional: dict[str, str] | None = None
) -> list[str]:
    """Third-party imports under folder that installing PROJECT[extras] does not provide."""
    providers = metadata.packages_distributions()
    optional = optional or {}
    declared = declared_closure(extras)
    missing = []
    for module in sorted(imported_top_level(folder)):
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        allowed = declared_closure((*extras, optional[module])) if module in optional else declared
        if not dists & allowed:
            missing.append(f"{module} (from {sorted(dists) or 'no installed distribution'})")
    return missing


@pytest.mark.parametrize("folder", sorted(WHO_RUNS))
def test_every_import_is_declared(folder: str) -> None:
    extras = WHO_RUNS[folder]
    missing = undeclared(ROOT / folder, extras, OPTIONAL_IMPORTS.get(folder))
    assert not missing, (
        f"{folder}/ imports modules that no requirement of "
        f"{PROJECT}[{','.join(extras)}] installs: {', '.join(missing)}"
    )


def test_an_undeclared_import_is_reported(tmp_path: Path) -> None:
    """The guard itself: the instructor's extra does not install pytest, the test extra does."""
    (tmp_path / "tool.py").write_text("import pytest\nimport json\nimport nbformat\n")
    assert undeclared(tmp_path, ("course",)) == ["pytest (from ['pytest'])"]
    assert undeclared(tmp_path, ("test",)) == []
