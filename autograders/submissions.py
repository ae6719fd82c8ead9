"""Known submissions: TOML files describing a notebook built from the solution or the blank.

The format is documented in ``autograders/submissions/README.md``. :func:`load` reads and
checks one file; :func:`build` turns it into the bytes of a submitted notebook.
"""

from __future__ import annotations

import copy
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

__all__ = [
    "THREATS",
    "TRANSFORMS",
    "Insert",
    "KnownSubmission",
    "SubmissionFormatError",
    "build",
    "load",
    "load_all",
    "solution_notebook",
]

THREATS = ("outside", "forge", "resources", "malformed")
TRANSFORMS = ("invalid-json", "not-utf8", "empty", "not-a-notebook")
_KEYS = {
    "description",
    "base",
    "expect_failed",
    "threat",
    "expected_score",
    "expect_ungradable",
    "replace",
    "pad",
    "insert",
    "delete",
    "nbgrader",
    "transform",
}


class SubmissionFormatError(ValueError):
    """A known-submission file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Insert:
    """A cell added to the notebook after (or before) the cell with a grade_id."""

    source: str
    after: str | None = None
    before: str | None = None
    cell_type: str = "code"
    nbgrader: dict[str, Any] | None = None


@dataclass(frozen=True)
class KnownSubmission:
    """One known submission and what grading it must give."""

    name: str
    path: Path
    description: str
    base: str
    expect_failed: tuple[str, ...] | None
    threat: str | None
    expected_score: float | None
    expect_ungradable: bool
    replace: dict[str, str]
    insert: tuple[Insert, ...]
    delete: tuple[str, ...]
    nbgrader: dict[str, dict[str, Any]]
    transform: str | None
    pad: dict[str, int] = field(default_factory=dict)


def _fail(path: Path, problem: str) -> SubmissionFormatError:
    return SubmissionFormatError(f"{path}: {problem}")


def _str_list(path: Path, data: dict[str, Any], key: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, f"{key} must be a list of grade_id strings")
    return tuple(value)


def load(path: Path) -> KnownSubmission:
    """Read and check one known-submission TOML file.

    Raises:
        SubmissionFormatError: invalid TOML, an unknown key, a wrong type or value.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _fail(path, f"cannot be read as TOML ({exc})") from exc
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise _fail(
            path, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}"
        )
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise _fail(path, "description (a sentence saying what is wrong) is required")
    base = data.get("base", "solution")
    if base not in ("solution", "blank"):
        raise _fail(path, f'base must be "solution" or "blank", got {base!r}')
    threat = data.get("threat")
    if threat is not None and threat not in THREATS:
        raise _fail(path, f"threat must be one of {', '.join(THREATS)}, got {threat!r}")
    transform = data.get("transform")
    if transform is not None and transform not in TRANSFORMS:
        raise _fail(path, f"transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
    expected = data.get("expected_score")
    if expected is not None and (
        isinstance(expected, bool) or not isinstance(expected, int | float)
    ):
        raise _fail(path, f"expected_score must be a number, got {expected!r}")
    expect_failed = _str_list(path, data, "expect_failed")
    if expect_failed is None and expected is None:
        raise _fail(path, "give expect_failed (test cells that must score 0) or expected_score")
    ungradable = data.get("expect_ungradable", transform is not None)
    if not isinstance(ungradable, bool):
        raise _fail(path, "expect_ungradable must be true or false")
    replace = data.get("replace", {})
    if not isinstance(replace, dict) or not all(isinstance(v, str) for v in replace.values()):
        raise _fail(path, "[replace] maps grade_id = '''cell source'''")
    pad = data.get("pad", {})
    if not isinstance(pad, dict) or not all(
        type(v) is int and 0 < v <= 1_000_000 for v in pad.values()
    ):
        raise _fail(path, "[pad] maps grade_id = number of characters (1 to 1000000)")
    nbmeta = data.get("nbgrader", {})
    if not isinstance(nbmeta, dict) or not all(isinstance(v, dict) for v in nbmeta.values()):
        raise _fail(path, "[nbgrader] maps grade_id = { metadata keys to overwrite }")
    inserts = []
    raw_inserts = data.get("insert", [])
    if not isinstance(raw_inserts, list):
        raise _fail(path, "insert must be an array of tables ([[insert]])")
    for i, item in enumerate(raw_inserts):
        if not isinstance(item, dict) or not isinstance(item.get("source"), str):
            raise _fail(path, f"[[insert]] number {i + 1} needs source = '''...'''")
        extra = set(item) - {"source", "after", "before", "cell_type", "nbgrader"}
        if extra:
            raise _fail(
                path, f"[[insert]] number {i + 1}: unknown key(s) {', '.join(sorted(extra))}"
            )
        if (item.get("after") is None) == (item.get("before") is None):
            raise _fail(path, f"[[insert]] number {i + 1} needs exactly one of after / before")
        if item.get("cell_type", "code") not in ("code", "markdown", "raw"):
            raise _fail(path, f"[[insert]] number {i + 1}: cell_type must be code, markdown or raw")
        inserts.append(
            Insert(
                item["source"],
                item.get("after"),
                item.get("before"),
                item.get("cell_type", "code"),
                item.get("nbgrader"),
            )
        )
    return KnownSubmission(
        name=path.stem,
        path=path,
        description=description.strip(),
        base=base,
        expect_failed=expect_failed,
        threat=threat,
        expected_score=None if expected is None else float(expected),
        expect_ungradable=ungradable,
        replace=dict(replace),
        insert=tuple(inserts),
        delete=_str_list(path, data, "delete") or (),
        nbgrader=dict(nbmeta),
        transform=transform,
        pad=dict(pad),
    )


def load_all(directory: Path) -> list[KnownSubmission]:
    """Every ``*.toml`` in ``directory`` (none if the folder does not exist), sorted by name."""
    if not directory.is_dir():
        return []
    return [load(p) for p in sorted(directory.glob("*.toml"))]


def _grade_id(cell: NotebookNode) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def solution_notebook(source: NotebookNode, blank: NotebookNode) -> NotebookNode:
    """The student version with every answer cell holding the solution (markers removed)."""
    answers = {
        _grade_id(c): "\n".join(
            line
            for line in c.source.split("\n")
            if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line
        )
        for c in source.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    nb = copy.deepcopy(blank)
    for cell in nb.cells:
        grade_id = _grade_id(cell)
        if grade_id in answers and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell.source = answers[grade_id]
    return nb


def build(known: KnownSubmission, *, solution: NotebookNode, blank: NotebookNode) -> bytes:
    """The bytes of the submitted notebook ``known`` describes.

    Order: start from the base, apply ``[replace]``, ``[pad]``, ``[nbgrader]``, ``delete``,
    ``[[insert]]``, then ``transform`` on the serialized file.

    Raises:
        SubmissionFormatError: a grade_id that is not in the notebook.
    """
    nb = copy.deepcopy(solution if known.base == "solution" else blank)
    ids = {_grade_id(c): c for c in nb.cells if _grade_id(c)}

    def cell_for(grade_id: str, what: str) -> NotebookNode:
        if grade_id not in ids:
            raise _fail(
                known.path,
                f"{what}: no cell with grade_id {grade_id!r} "
                f"(known: {', '.join(sorted(k for k in ids if k))})",
            )
        cell: NotebookNode = ids[grade_id]
        return cell

    for grade_id, source in known.replace.items():
        cell_for(grade_id, "[replace]").source = source.strip("\n")
    for grade_id, size in known.pad.items():
        cell = cell_for(grade_id, "[pad]")
        cell.source = cell.source + "\n# " + "x" * size
    for grade_id, meta in known.nbgrader.items():
        cell_for(grade_id, "[nbgrader]").metadata["nbgrader"].update(meta)
    for grade_id in known.delete:
        nb.cells.remove(cell_for(grade_id, "delete"))
    for item in known.insert:
        anchor = cell_for(item.after or item.before or "", "[[insert]]")
        factory = {
            "code": nbformat.v4.new_code_cell,
            "markdown": nbformat.v4.new_markdown_cell,
            "raw": nbformat.v4.new_raw_cell,
        }[item.cell_type]
        cell = factory(item.source.strip("\n"))  # type: ignore[no-untyped-call]
        if item.nbgrader is not None:
            cell.metadata["nbgrader"] = dict(item.nbgrader)
        index = nb.cells.index(anchor) + (1 if item.after else 0)
        nb.cells.insert(index, cell)
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if known.transform == "invalid-json":
        return text[: len(text) // 2].encode("utf-8")
    if known.transform == "not-utf8":
        return b"\xff\xfe\x00" + text.encode("utf-16-le")
    if known.transform == "empty":
        return b""
    if known.transform == "not-a-notebook":
        return b'{"hello": "this is JSON, but not a notebook"}\n'
    return text.encode("utf-8")
