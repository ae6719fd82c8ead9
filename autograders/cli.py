"""``python -m autograders``: release, open, grade, selfcheck.

Exit codes: 0 success; 1 the command ran but found a problem (selfcheck mismatch,
``grade --strict`` with ungradable submissions); 2 bad usage or input (unknown
assignment, missing folder, an existing release in the way).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "build_parser"]

EPILOG = """\
examples:
  python -m autograders open                      # release into ./student, start JupyterLab
  python -m autograders release /tmp/out          # student versions of every assignment
  python -m autograders grade submitted --jobs 2  # submitted/STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb
  python -m autograders selfcheck                 # solutions 100%, blanks 0%, known bugs caught
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command per task)."""
    parser = argparse.ArgumentParser(
        prog="python -m autograders",
        description="Release, grade and check the Module 14 notebooks (nbgrader based).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--notebooks",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of nbgrader source assignments (default: the repo's notebooks/)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "release",
        help="write the student versions of the assignments",
        description="Write OUTDIR/ASSIGNMENT/ASSIGNMENT.ipynb for every assignment "
        "(solutions replaced by a stub, hidden tests removed).",
    )
    p.add_argument("outdir", type=Path, metavar="OUTDIR")
    p.add_argument(
        "--assignment", "-a", action="append", metavar="A", help="only this assignment (repeatable)"
    )
    p.add_argument(
        "--force", action="store_true", help="replace assignment folders already in OUTDIR"
    )

    p = sub.add_parser(
        "open",
        help="release into ./student (if missing) and start JupyterLab there",
        description="The student's front door. Assignments already in the folder are "
        "never overwritten; only missing ones are added. Extra arguments go to "
        "jupyter lab (e.g. --no-browser).",
    )
    p.add_argument(
        "--dir", type=Path, default=Path("student"), help="student folder (default: student)"
    )

    p = sub.add_parser(
        "grade",
        help="grade a folder of submissions",
        description="Grade SUBMISSIONS/STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb; write "
        "OUT/gradebook.db, OUT/grades.csv (nbgrader export format) and "
        "OUT/feedback/STUDENT/ASSIGNMENT/ASSIGNMENT.html. A submission that cannot be "
        "graded gets 0 and is listed at the end; the exit code is still 0 unless "
        "--strict.",
    )
    p.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR")
    p.add_argument(
        "--jobs", "-j", type=int, default=1, metavar="K", help="worker processes (default 1)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("graded"),
        metavar="DIR",
        help="output folder (default: ./graded)",
    )
    p.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="gradebook URL instead of OUT/gradebook.db (e.g. sqlite:///gradebook.db)",
    )
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code without the sandbox (trusted work only)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 if any submission could not be graded"
    )

    p = sub.add_parser(
        "selfcheck",
        help="check the graders against solutions, blanks and known submissions",
        description="In a temporary course: every solution scores full marks, every blank "
        "0, each known submission (autograders/submissions/ASSIGNMENT/*.toml) loses "
        "exactly its expected points, and grading hostile ones changes nobody else's "
        "grade or files. Exit 1 on any mismatch.",
    )
    p.add_argument(
        "--jobs", "-j", type=int, default=1, metavar="K", help="worker processes (default 1)"
    )
    p.add_argument("--assignment", "-a", action="append", metavar="A", help="only this assignment")
    p.add_argument(
        "--submissions",
        type=Path,
        default=None,
        metavar="DIR",
        help="known submissions folder (default: autograders/submissions)",
    )
    p.add_argument("--no-sandbox", action="store_true", help="grade without the sandbox")
    return parser


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _release(args: argparse.Namespace, notebooks: Path) -> int:
    from autograders.release import release

    written = release(args.outdir, args.assignment, notebooks=notebooks, force=args.force)
    for name in written:
        print(f"released {name} -> {args.outdir / name / (name + '.ipynb')}")
    return 0


def _open(args: argparse.Namespace, extra: Sequence[str], notebooks: Path) -> int:
    from autograders.release import release
    from autograders.student_lab import run_student_lab

    added = release(args.dir, notebooks=notebooks, only_missing=True)
    for name in added:
        print(f"added {name} to {args.dir}")
    jupyter = shutil.which(
        "jupyter",
        path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    if jupyter is None:
        _err("jupyter is not installed; pip install -e '.[course]' first")
        return 2
    # The student's JupyterLab: nbgrader's instructor tools off for this launch only.
    return run_student_lab(jupyter, args.dir, extra)


def _grade(args: argparse.Namespace, notebooks: Path) -> int:
    from autograders.grading import format_table, grade_all

    if args.jobs < 1:
        _err(f"--jobs must be at least 1, got {args.jobs}")
        return 2
    report = grade_all(
        args.submissions,
        args.out,
        notebooks=notebooks,
        jobs=args.jobs,
        sandbox=not args.no_sandbox,
        progress=not args.no_progress,
        db_url=args.db,
    )
    print(format_table(report))
    print(
        f"\ngradebook: {args.db or args.out / 'gradebook.db'}\ngrades:    {args.out / 'grades.csv'}"
        f"\nfeedback:  {args.out / 'feedback'}"
    )
    for path in report.skipped:
        print(f"skipped (not STUDENT/ASSIGNMENT/NOTEBOOK.ipynb): {path}", file=sys.stderr)
    if report.failures:
        print(
            f"\n!!! {len(report.failures)} submission(s) could NOT be graded (recorded as 0):",
            file=sys.stderr,
        )
        for failure in report.failures:
            s = failure.submission
            print(
                f"!!!   {s.student}/{s.assignment}/{s.path.name}: {failure.reason}", file=sys.stderr
            )
        return 1 if args.strict else 0
    return 0


def _selfcheck(args: argparse.Namespace, notebooks: Path) -> int:
    from autograders.selfcheck import SUBMISSIONS, selfcheck

    if args.jobs < 1:
        _err(f"--jobs must be at least 1, got {args.jobs}")
        return 2
    ok = selfcheck(
        notebooks=notebooks,
        submissions=args.submissions or SUBMISSIONS,
        assignments=args.assignment,
        jobs=args.jobs,
        sandbox=not args.no_sandbox,
    )
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    from autograders.release import NOTEBOOKS, ReleaseError
    from autograders.submissions import SubmissionFormatError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "open":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    notebooks = (args.notebooks or NOTEBOOKS).resolve()
    try:
        if args.command == "release":
            return _release(args, notebooks)
        if args.command == "open":
            return _open(args, extra, notebooks)
        if args.command == "grade":
            return _grade(args, notebooks)
        return _selfcheck(args, notebooks)
    except (ReleaseError, SubmissionFormatError, FileNotFoundError) as exc:
        _err(str(exc))
        return 2
