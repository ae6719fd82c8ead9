"""Finding the submissions in what an instructor downloaded, and saying how each was matched.

Two layouts are read, the same folder may mix them:

* **nbgrader's**, ``DIR/STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb`` (what ``nbgrader collect`` or
  ``nbgrader zip_collect`` leave in ``submitted/``), with the submission time in
  ``DIR/STUDENT/ASSIGNMENT/timestamp.txt`` when there is one;
* **an LMS download**, a folder or a ``.zip`` of files named ``STUDENT_ASSIGNMENT….ipynb``,
  the file-name convention of nbgrader's ``zip_collect`` (its ``FileNameCollectorPlugin``
  reads ``student_id`` and ``file_id`` out of each name with a regular expression). The part
  after the student is matched to a known assignment by its longest prefix, so a trailing
  ``-Copy1`` (JupyterLab's "Duplicate"), `` (1)`` (a browser's second download) or ``_v2`` is
  dropped; Canvas' ``_LATE`` marker and its numeric user/submission ids between the student
  and the file name are skipped too.

A notebook saved with a copy suffix in nbgrader's layout (``01-circuit-breaker-Copy1.ipynb``)
is matched the same way. Every file gets one line of the report: how it was matched, or why
not. A file naming an assignment the course does not have becomes an *ungradable*
submission (it still gets a CSV row and a feedback page); a file that names no student, or
no assignment at all, is *unmatched*. A folder with no notebook anywhere, or laid out so that
nothing matches (flat files without a student, a folder one level above ``submitted/``), is
refused with :class:`LayoutError`, which names the layout expected.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = [
    "EXPECTED_LAYOUT",
    "Collected",
    "Collection",
    "LayoutError",
    "collect",
    "match_assignment",
]

EXPECTED_LAYOUT = (
    "expected nbgrader's layout DIR/STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb (e.g. "
    "submitted/alice/01-circuit-breaker/01-circuit-breaker.ipynb), or an LMS download: a "
    "folder or .zip of STUDENT_ASSIGNMENT.ipynb files (e.g. alice_01-circuit-breaker.ipynb)"
)

_SKIP_DIRS = {".ipynb_checkpoints", "__MACOSX", "__pycache__"}
_ASSIGNMENT_LIKE = re.compile(r"^[0-9]{2}-[A-Za-z0-9]")
_CANVAS_ID = re.compile(r"^(?:late|LATE|[0-9]+)$")


class LayoutError(Exception):
    """Nothing in the folder can be graded as it is laid out; the message says what to do."""


@dataclass(frozen=True)
class Collected:
    """One submission found.

    Attributes:
        student: the student id.
        assignment: the assignment it was matched to (or, if ``problem``, the name it gives).
        path: the notebook to grade (inside the extracted zip for a zip download).
        origin: the file as found, relative to the download (``x.zip:member`` in a zip).
        how: how it was matched, in plain words.
        timestamp: the submission time from ``timestamp.txt`` (naive UTC), if any.
        problem: why it cannot be graded (an unknown assignment), or ``None``.
    """

    student: str
    assignment: str
    path: Path
    origin: str
    how: str
    timestamp: dt.datetime | None = None
    problem: str | None = None


@dataclass
class Collection:
    """What :func:`collect` found.

    Attributes:
        items: the submissions, gradable or not, in (student, assignment) order.
        unmatched: ``(file, why)`` for every file that is no submission.
        report: one line per file: how it was matched, or why not.
    """

    items: list[Collected] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)
    report: list[str] = field(default_factory=list)


def match_assignment(name: str, known: Sequence[str]) -> tuple[str, str] | None:
    """The known assignment a file stem names, and what was dropped after it.

    ``"01-circuit-breaker-Copy1"`` gives ``("01-circuit-breaker", "-Copy1")``; the longest
    known name wins; the rest must start with a non-alphanumeric character.

    Returns:
        ``(assignment, suffix)``, or ``None`` if no known assignment starts the name.
    """
    for assignment in sorted(known, key=len, reverse=True):
        if name == assignment:
            return assignment, ""
        if name.startswith(assignment) and not name[len(assignment)].isalnum():
            return assignment, name[len(assignment) :]
    return None


def _dropped(suffix: str) -> str:
    return f" ({suffix.strip()!r} after the assignment name dropped)" if suffix else ""


def _safe_extract(archive: Path, into: Path) -> None:
    """Extract ``archive`` into ``into``, refusing members that would land outside it."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                target = PurePosixPath(member.filename)
                if target.is_absolute() or ".." in target.parts:
                    raise LayoutError(f"{archive.name}: refusing the member {member.filename!r}")
                if member.is_dir():
                    continue
                dest = into.joinpath(*target.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out)
    except zipfile.BadZipFile as exc:
        raise LayoutError(f"{archive} is not a readable zip file ({exc})") from exc


def _timestamp(folder: Path, parse: Callable[[str], dt.datetime]) -> tuple[dt.datetime | None, str]:
    path = folder / "timestamp.txt"
    if not path.is_file():
        return None, ""
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if not text:
        return None, " (timestamp.txt is empty)"
    try:
        return parse(text), f", submitted {text}"
    except (ValueError, OverflowError):
        return None, f" (timestamp.txt holds no time: {text[:40]!r})"


def _notebooks(root: Path) -> list[Path]:
    """Every ``.ipynb`` under ``root`` (symlinked folders followed, at most 6 deep)."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        rel = Path(folder).relative_to(root)
        if len(rel.parts) >= 6:
            dirs[:] = []
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in files:
            if name.endswith(".ipynb") and not name.startswith("."):
                found.append(Path(folder) / name)
    return sorted(found)


def _lms(stem: str, known: Sequence[str]) -> tuple[str, str, str] | None:
    """``STUDENT[_LATE][_ids]_ASSIGNMENT…``: (student, assignment or guess, suffix)."""
    if "_" not in stem:
        return None
    student, rest = stem.split("_", 1)
    while "_" in rest and _CANVAS_ID.match(rest.split("_", 1)[0]):
        rest = rest.split("_", 1)[1]
    if not student:
        return None
    matched = match_assignment(rest, known)
    if matched:
        return student, matched[0], matched[1]
    if _ASSIGNMENT_LIKE.match(rest):
        return student, rest, ""
    return None


def collect(
    source: Path,
    known: Sequence[str],
    workdir: Path,
    *,
    parse_time: Callable[[str], dt.datetime] | None = None,
) -> Collection:
    """Find every submission in ``source`` (a folder or a ``.zip``).

    Args:
        source: the folder (nbgrader's ``submitted/`` or an LMS download) or a zip.
        known: the course's assignments.
        workdir: where a zip is extracted (the caller removes it).
        parse_time: reads a ``timestamp.txt`` value (default nbgrader's ``parse_utc``).

    Returns:
        The submissions, the unmatched files and the report.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        LayoutError: no notebook at all, or none that matches either layout.
    """
    if not source.exists():
        raise FileNotFoundError(f"submissions folder {source} does not exist")
    if parse_time is None:
        from autograders.gradebook import parse_timestamp

        parse_time = parse_timestamp
    prefix = ""
    root = source
    if source.is_file():
        if source.suffix.lower() != ".zip":
            raise LayoutError(f"{source} is a file, not a folder or a .zip; {EXPECTED_LAYOUT}")
        root = workdir / "download"
        root.mkdir(parents=True, exist_ok=True)
        _safe_extract(source, root)
        prefix = f"{source.name}:"
        entries = [p for p in root.iterdir() if p.name not in _SKIP_DIRS]
        if len(entries) == 1 and entries[0].is_dir():  # a zip of one folder: look inside it
            root = entries[0]
            prefix += f"{root.name}/"
    found = Collection()
    notebooks = _notebooks(root)
    if not notebooks:
        raise LayoutError(f"no notebooks (.ipynb) found in {source}; {EXPECTED_LAYOUT}")
    too_high = []
    for path in notebooks:
        rel = path.relative_to(root)
        origin = prefix + rel.as_posix()
        parts = rel.parts
        lms = _lms(path.stem, known)
        if len(parts) == 3:
            student, folder, _ = parts
            matched = match_assignment(path.stem, [folder]) if folder in known else None
            when, said = _timestamp(path.parent, parse_time)
            if folder not in known:
                problem = f"unknown assignment {folder!r} (known: {', '.join(known) or 'none'})"
                found.items.append(
                    Collected(student, folder, path, origin, "nbgrader layout", when, problem)
                )
                found.report.append(f"{origin}: {student} / {folder}: UNKNOWN ASSIGNMENT")
                continue
            if matched is None:
                why = f"in {folder}/ but named {path.name} (expected {folder}.ipynb)"
                found.unmatched.append((origin, why))
                found.report.append(f"{origin}: not matched: {why}")
                continue
            how = f"nbgrader layout STUDENT/ASSIGNMENT/{_dropped(matched[1])}{said}"
            found.items.append(Collected(student, folder, path, origin, how, when))
            found.report.append(f"{origin}: {student} / {folder}: {how}")
        elif lms is not None:
            student, assignment, suffix = lms
            how = f"LMS file name STUDENT_ASSIGNMENT{_dropped(suffix)}"
            problem = None
            if assignment not in known:
                problem = f"unknown assignment {assignment!r} (known: {', '.join(known) or 'none'})"
            found.items.append(Collected(student, assignment, path, origin, how, None, problem))
            verdict = "UNKNOWN ASSIGNMENT" if problem else how
            found.report.append(f"{origin}: {student} / {assignment}: {verdict}")
        else:
            if len(parts) >= 4 and parts[-2] in known:
                too_high.append(rel)
            if len(parts) == 1:
                why = "no student in the file name (expected STUDENT_ASSIGNMENT.ipynb)"
            elif len(parts) >= 4:
                why = f"{len(parts) - 1} folders deep (expected STUDENT/ASSIGNMENT/)"
            else:
                why = "neither STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb nor STUDENT_ASSIGNMENT.ipynb"
            found.unmatched.append((origin, why))
            found.report.append(f"{origin}: not matched: {why}")
    if not found.items:
        if too_high:
            top = too_high[0].parts[0]
            raise LayoutError(
                f"{source} looks like the folder above the submissions ({too_high[0].as_posix()}"
                f"): grade {Path(source) / top} instead; {EXPECTED_LAYOUT}"
            )
        listed = ", ".join(f"{f} ({why})" for f, why in found.unmatched[:3])
        raise LayoutError(
            f"nothing to grade in {source}: {len(found.unmatched)} notebook(s), none matched "
            f"[{listed}{', ...' if len(found.unmatched) > 3 else ''}]; {EXPECTED_LAYOUT}"
        )
    found.items = _one_per_submission(found)
    return found


def _one_per_submission(found: Collection) -> list[Collected]:
    """One file per (student, assignment): the one named exactly, else the first by name."""
    chosen: dict[tuple[str, str], Collected] = {}
    for item in sorted(
        found.items, key=lambda c: (c.student, c.assignment, "dropped" in c.how, c.origin)
    ):
        key = (item.student, item.assignment)
        if key in chosen:
            why = (
                f"another file of {item.student} for {item.assignment} is graded: "
                f"{chosen[key].origin}"
            )
            found.unmatched.append((item.origin, why))
            found.report.append(f"{item.origin}: not matched: {why}")
        else:
            chosen[key] = item
    return list(chosen.values())
