"""Each source notebook as text: a MyST Markdown twin kept next to it, and kept in step.

``notebooks/NAME/NAME.ipynb`` is what nbgrader and Jupyter read; ``notebooks/NAME/NAME.md``
is the same notebook in jupytext's MyST Markdown format (``md:myst``), which is what a
reviewer reads in a diff. The text holds every cell's type, source and metadata (nbgrader's
``grade_id``, ``points``, ``locked``, ``solution``, ``grade``, ``schema_version``...) and
the notebook's kernelspec; the ``.ipynb`` adds cell ids (kept stable from one sync to the
next) and never has outputs.

:func:`sync` brings a pair into agreement in either direction; :func:`differences` says
where a pair disagrees. ``python -m autograders sync`` is the command line.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import nbformat
from nbformat import NotebookNode

__all__ = [
    "FORMAT",
    "Direction",
    "SyncError",
    "SyncResult",
    "cells_with_outputs",
    "differences",
    "notebook_from_text",
    "notebook_to_text",
    "read_notebook",
    "sync",
    "write_notebook",
]

#: jupytext's format name for the text twin.
FORMAT = "md:myst"
#: How a pair is brought into agreement: from the newer file, or towards the one named.
Direction = Literal["auto", "text", "ipynb"]
_LANGUAGE_INFO = {"name": "python"}


def read_notebook(path: Path) -> NotebookNode:
    """Read an ``.ipynb`` as nbformat 4 (nbformat itself has no type hints)."""
    nb: NotebookNode = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    return nb


def write_notebook(nb: NotebookNode) -> str:
    """The notebook's JSON as nbformat writes it, with a final newline."""
    text: str = nbformat.writes(nb)  # type: ignore[no-untyped-call]
    return text + "\n"


class SyncError(Exception):
    """A pair cannot be synced (both files missing, unreadable text...); the message says why."""


@dataclass(frozen=True)
class SyncResult:
    """What :func:`sync` did to one pair.

    Attributes:
        notebook: the ``.ipynb`` file.
        text: the ``.md`` file.
        wrote: the file written, or ``None`` if the pair already agreed (or ``check``).
        problems: where the pair disagreed before the sync (empty if it agreed).
        outputs: code cells of the notebook (after the sync) that have outputs or
            execution counts, by index; a committed notebook has none.
    """

    notebook: Path
    text: Path
    wrote: Path | None
    problems: tuple[str, ...]
    outputs: tuple[int, ...] = ()


def cells_with_outputs(notebook: Path) -> tuple[int, ...]:
    """The indexes of the code cells that have outputs or an execution count."""
    if not notebook.is_file():
        return ()
    return tuple(
        i
        for i, c in enumerate(read_notebook(notebook).cells)
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))
    )


def _jupytext() -> Any:
    try:
        import jupytext
    except ImportError as exc:  # pragma: no cover - jupytext is in the course extra
        raise SyncError("jupytext is not installed; pip install -e '.[course]'") from exc
    return jupytext


def notebook_to_text(nb: NotebookNode) -> str:
    """The notebook as MyST Markdown (outputs, execution counts and cell ids left out)."""
    clean = copy.deepcopy(nb)
    clean.metadata.pop("jupytext", None)
    text: str = _jupytext().writes(clean, fmt=FORMAT)
    return text


def _cell_id(cell: NotebookNode, index: int, taken: set[str]) -> str:
    """A stable id for a new cell: its grade_id if it has one, else a hash of its place."""
    grade_id = str(cell.metadata.get("nbgrader", {}).get("grade_id", ""))
    base = grade_id or (
        "cell-" + hashlib.sha256(f"{index}\0{cell.source}".encode()).hexdigest()[:8]
    )
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def notebook_from_text(text: str, previous: NotebookNode | None = None) -> NotebookNode:
    """The ``.ipynb`` for a MyST text, without outputs.

    Args:
        text: the MyST Markdown.
        previous: the ``.ipynb`` as it was, if any: cells that are still there (matched by
            jupytext on their source) keep their ids, and notebook metadata the text does
            not hold (``language_info``) is kept.

    Returns:
        A valid nbformat 4.5 notebook.

    Raises:
        SyncError: the text cannot be read as a notebook.
    """
    jupytext = _jupytext()
    try:
        nb = jupytext.reads(text, fmt=FORMAT)
    except Exception as exc:  # jupytext raises several kinds; name the problem
        raise SyncError(f"cannot read the text as MyST Markdown: {exc}") from exc
    nb.nbformat, nb.nbformat_minor = 4, 5
    if previous is not None:
        from jupytext.combine import combine_inputs_with_outputs

        old = copy.deepcopy(previous)
        old.nbformat, old.nbformat_minor = 4, 5
        matched_before = {id(c) for c in nb.cells}
        nb = combine_inputs_with_outputs(nb, old, fmt=FORMAT)
        new_cells = {id(c) for c in nb.cells if id(c) in matched_before}
    else:
        new_cells = {id(c) for c in nb.cells}
    nb.metadata.pop("jupytext", None)
    nb.metadata.setdefault("language_info", dict(_LANGUAGE_INFO))
    taken: set[str] = {str(c["id"]) for c in nb.cells if id(c) not in new_cells and "id" in c}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if id(cell) in new_cells or "id" not in cell:
            cell["id"] = _cell_id(cell, index, taken)
        taken.add(str(cell["id"]))
    result: NotebookNode = nbformat.from_dict(nb)  # type: ignore[no-untyped-call]
    nbformat.validate(result)
    return result


def _shape(nb: NotebookNode) -> list[tuple[str, str, dict[str, Any]]]:
    return [(c.cell_type, c.source, dict(c.metadata.get("nbgrader", {}))) for c in nb.cells]


def differences(notebook: Path, text: Path) -> list[str]:
    """Where the ``.ipynb`` and its text twin disagree (an empty list: they agree).

    Compared: the number of cells, each cell's type, source, nbgrader metadata and other
    metadata (as jupytext keeps it), and the notebook's kernelspec.
    """
    for path in (notebook, text):
        if not path.is_file():
            return [f"{path.name} is missing"]
    from_ipynb = read_notebook(notebook)
    try:
        from_text = notebook_from_text(text.read_text(encoding="utf-8"))
    except SyncError as exc:
        return [f"{text.name}: {exc}"]
    problems: list[str] = []
    left, right = _shape(from_ipynb), _shape(from_text)
    if len(left) != len(right):
        problems.append(f"{notebook.name} has {len(left)} cells, {text.name} has {len(right)}")
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        label = f"cell {index}" + (f" ({a[2]['grade_id']})" if a[2].get("grade_id") else "")
        if a[0] != b[0]:
            problems.append(f"{label}: {a[0]} in the notebook, {b[0]} in the text")
        if a[1] != b[1]:
            problems.append(f"{label}: the source differs")
        if a[2] != b[2]:
            problems.append(f"{label}: the nbgrader metadata differs: {a[2]} vs {b[2]}")
    if not problems and notebook_to_text(from_ipynb) != notebook_to_text(from_text):
        problems.append("the cell or notebook metadata differs (e.g. kernelspec, tags)")
    return problems


def _write(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content, encoding="utf-8")
    tmp.replace(path)


def sync(
    notebook: Path, text: Path | None = None, *, to: Direction = "auto", check: bool = False
) -> SyncResult:
    """Bring ``notebook`` (``.ipynb``) and its MyST text twin into agreement.

    Args:
        notebook: the ``.ipynb`` file (it may not exist yet if the text does).
        text: the ``.md`` twin; default ``notebook`` with the suffix ``.md``.
        to: ``"text"`` rewrites the text from the notebook, ``"ipynb"`` the notebook from
            the text (also to drop the notebook's outputs when the pair agrees);
            ``"auto"`` creates whichever is missing, else writes from the file modified last.
        check: only report; write nothing.

    Returns:
        What was found and written.

    Raises:
        SyncError: neither file exists, the direction needs a file that is missing, or the
            text cannot be read.
    """
    text = notebook.with_suffix(".md") if text is None else text
    has_nb, has_text = notebook.is_file(), text.is_file()
    if not has_nb and not has_text:
        raise SyncError(f"neither {notebook} nor {text} exists")
    problems = tuple(differences(notebook, text))
    outputs = cells_with_outputs(notebook)
    if check or not (problems or (to == "ipynb" and outputs)):
        return SyncResult(notebook, text, None, problems, outputs)
    if to == "auto":
        if not has_text:
            to = "text"
        elif not has_nb:
            to = "ipynb"
        else:
            to = "ipynb" if text.stat().st_mtime > notebook.stat().st_mtime else "text"
    if to == "text":
        if not has_nb:
            raise SyncError(f"{notebook} does not exist: cannot write the text from it")
        _write(text, notebook_to_text(read_notebook(notebook)))
        return SyncResult(notebook, text, text, problems, cells_with_outputs(notebook))
    if not has_text:
        raise SyncError(f"{text} does not exist: cannot write the notebook from it")
    previous = read_notebook(notebook) if has_nb else None
    nb = notebook_from_text(text.read_text(encoding="utf-8"), previous)
    _write(notebook, write_notebook(nb))
    return SyncResult(notebook, text, notebook, problems)
