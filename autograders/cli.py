"""``python -m autograders``: release, open, grade, selfcheck; new and sync for authors.

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
  python -m autograders grade download.zip        # an LMS download: STUDENT_ASSIGNMENT.ipynb files
  python -m autograders selfcheck                 # solutions 100%, blanks 0%, known bugs caught
  python -m autograders new 08-bulkhead           # the skeleton of a new assignment
  python -m autograders sync                      # each notebook and its .md text in step
  python -m autograders present 01-circuit-breaker  # instructor version, as a live slideshow
  python -m autograders slides --check            # every cell has slide metadata
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
        help="grade a folder (or zip) of submissions; only what is new or changed",
        description="Grade SUBMISSIONS: nbgrader's layout STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb "
        "(timestamp.txt read), or an LMS download, a folder or .zip of "
        "STUDENT_ASSIGNMENT.ipynb files (-Copy1 style suffixes dropped). Writes the gradebook "
        "as nbgrader autograde would (Formgrader works from it), autograded/STUDENT/ASSIGNMENT/ "
        "next to it, OUT/feedback/STUDENT/ASSIGNMENT/ASSIGNMENT.html, and the sheets "
        "OUT/grades.csv (nbgrader export format), grades-by-student.csv, grades-by-exercise.csv, "
        "canvas.csv and submissions.csv. Only submissions that are new or changed since the "
        "last run are graded (--force regrades); a manual grade is never overwritten. A "
        "submission that cannot be graded gets a row and a page saying why; the exit code is "
        "still 0 unless --strict.",
    )
    p.add_argument("submissions", type=Path, metavar="SUBMISSIONS")
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
        help="gradebook URL instead of OUT/gradebook.db (e.g. sqlite:///gradebook.db); the "
        "autograded notebooks go to autograded/ next to a SQLite gradebook file",
    )
    p.add_argument(
        "--student", "-s", action="append", metavar="S", help="only this student (repeatable)"
    )
    p.add_argument(
        "--assignment", "-a", action="append", metavar="A", help="only this assignment (repeatable)"
    )
    p.add_argument(
        "--force", action="store_true", help="grade again what did not change since the last run"
    )
    p.add_argument(
        "--course",
        type=Path,
        default=None,
        metavar="FILE",
        help="course settings TOML: [duedates] and late_penalty (see autograders/README.md)",
    )
    p.add_argument(
        "--roster",
        type=Path,
        default=None,
        metavar="CSV",
        help="students' names and emails (nbgrader db student import format: id,first_name,...)",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="print how every file was matched (always on stderr for files that were not)",
    )
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code without the sandbox (trusted work only)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 if any submission could not be graded or any file was not matched",
    )
    p.add_argument(
        "--cluster",
        default=None,
        metavar="ADDRESS",
        help="grade on a Dask cluster (e.g. tcp://10.0.0.1:8786) instead of local processes; "
        "each worker needs this course installed and bwrap (see deploy/README.md)",
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
    _add_author_commands(sub)
    from autograders import present

    present.add_commands(sub)  # present, slides
    return parser


def _add_author_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands for writing assignments: ``new`` and ``sync``."""
    p = sub.add_parser(
        "new",
        help="create the skeleton of a new assignment",
        description="Create notebooks/NAME/ (the notebook as MyST text NAME.md and NAME.ipynb: "
        "a title, one exercise with an answer cell and its test cell, a recap) and "
        "autograders/submissions/NAME/ with one known-buggy submission. NAME is two digits "
        "and lower-case words joined by dashes, e.g. 08-bulkhead. See CONTRIBUTING.md.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--submissions",
        type=Path,
        default=None,
        metavar="DIR",
        help="known submissions folder (default: autograders/submissions)",
    )

    p = sub.add_parser(
        "sync",
        help="bring each notebook and its MyST text (NAME.md) into agreement",
        description="Each source notebook NAME.ipynb has a MyST Markdown twin NAME.md next to "
        "it. sync rewrites whichever is behind: by default the file modified last wins "
        "and a missing one is created; --to text or --to ipynb says which to rewrite. "
        "Outputs are never written into the notebook.",
    )
    p.add_argument(
        "targets",
        nargs="*",
        metavar="NAME_OR_FILE",
        help="assignments (e.g. 01-circuit-breaker) or .ipynb/.md files (default: every one)",
    )
    p.add_argument(
        "--to",
        choices=("auto", "text", "ipynb"),
        default="auto",
        help="which file to rewrite (default auto: from the file modified last)",
    )
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a pair disagrees")


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
    from autograders.assignments import assignment_names
    from autograders.cluster import ClusterError
    from autograders.collect import LayoutError
    from autograders.grading import GradeError, format_table, grade_all
    from autograders.roster import CourseError, load_course, load_roster

    if args.jobs < 1:
        _err(f"--jobs must be at least 1, got {args.jobs}")
        return 2
    if args.cluster is not None and args.jobs != 1:
        _err("--cluster and --jobs do not mix: the cluster's workers set the parallelism")
        return 2
    try:
        course = load_course(args.course, assignment_names(notebooks))
        roster = load_roster(args.roster) if args.roster else None
        report = grade_all(
            args.submissions,
            args.out,
            notebooks=notebooks,
            jobs=args.jobs,
            sandbox=not args.no_sandbox,
            progress=not args.no_progress,
            db_url=args.db,
            students=args.student,
            assignments=args.assignment,
            force=args.force,
            course=course,
            roster=roster,
            log=lambda line: print(line, file=sys.stderr),
            cluster=args.cluster,
        )
    except (LayoutError, CourseError, GradeError, ClusterError) as exc:
        _err(str(exc))
        return 2
    if args.report:
        print("how each file was matched:")
        for line in report.matched:
            print(f"  {line}")
        print()
    print(format_table(report))
    print(f"\ngradebook: {args.db or args.out / 'gradebook.db'}")
    for name, path in report.sheets.items():
        print(f"{name + ':':<24}{path}")
    print(f"{'feedback:':<24}{args.out / 'feedback'}")
    if report.unchanged:
        print(
            f"{len(report.unchanged)} submission(s) unchanged since they were last graded: "
            "not graded again (--force to regrade)"
        )
    for notice in report.notices:
        print(f"NOTICE: {notice}", file=sys.stderr)
    for line in report.skipped:
        print(f"not matched: {line}", file=sys.stderr)
    if report.failures:
        print(
            f"\n!!! {len(report.failures)} submission(s) could NOT be graded (recorded as 0, "
            "marked ungradable in submissions.csv):",
            file=sys.stderr,
        )
        for failure in report.failures:
            s = failure.submission
            print(
                f"!!!   {s.student}/{s.assignment}/{s.path.name}: {failure.reason}", file=sys.stderr
            )
    if args.strict and (report.failures or report.skipped):
        return 1
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


def _new(args: argparse.Namespace, notebooks: Path) -> int:
    from autograders.assignments import SUBMISSIONS
    from autograders.scaffold import new_assignment

    made = new_assignment(
        args.name, notebooks=notebooks, submissions=args.submissions or SUBMISSIONS
    )
    for path in made.files:
        print(f"created {path}")
    print(f"next: write notebooks/{made.name}/{made.name}.md, then follow CONTRIBUTING.md")
    return 0


def _sync_targets(targets: Sequence[str], notebooks: Path) -> list[Path]:
    from autograders.assignments import discover
    from autograders.notebook_text import SyncError

    known = {a.name: a.notebook for a in discover(notebooks)}
    if not targets:
        return list(known.values())
    found = []
    for target in targets:
        path = Path(target)
        if target in known:
            found.append(known[target])
        elif path.suffix in (".ipynb", ".md") and (
            path.exists() or path.with_suffix(".ipynb" if path.suffix == ".md" else ".md").exists()
        ):
            found.append(path.with_suffix(".ipynb"))
        else:
            raise SyncError(
                f"{target!r} is neither an assignment ({', '.join(known) or 'none'}) "
                "nor an existing .ipynb/.md file"
            )
    return found


def _sync(args: argparse.Namespace, notebooks: Path) -> int:
    from autograders.notebook_text import sync

    out_of_step = 0
    for notebook in _sync_targets(args.targets, notebooks):
        result = sync(notebook, to=args.to, check=args.check)
        name = notebook.stem
        if result.wrote is not None:
            print(f"{name}: wrote {result.wrote} ({len(result.problems)} difference(s))")
        elif result.problems:
            out_of_step += 1
            print(f"{name}: OUT OF STEP")
            for problem in result.problems:
                print(f"  {problem}")
        else:
            print(f"{name}: in step")
        if result.outputs:
            out_of_step += args.check
            print(
                f"{name}: {notebook.name} has outputs in cells "
                f"{', '.join(map(str, result.outputs))}: clear them (python -m autograders "
                f"sync --to ipynb {name} writes the notebook from its text, without outputs)"
            )
    if out_of_step:
        print(f"{out_of_step} pair(s) out of step: run python -m autograders sync", file=sys.stderr)
    return 1 if out_of_step else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    from autograders.gradebook import quiet_jsonschema

    quiet_jsonschema()  # before anything imports nbformat: 1-8 s saved per run
    from autograders.notebook_text import SyncError
    from autograders.release import NOTEBOOKS, ReleaseError
    from autograders.scaffold import ScaffoldError
    from autograders.submissions import SubmissionFormatError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("open", "present"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    notebooks = (args.notebooks or NOTEBOOKS).resolve()
    try:
        if args.command == "release":
            return _release(args, notebooks)
        if args.command == "open":
            return _open(args, extra, notebooks)
        if args.command == "grade":
            return _grade(args, notebooks)
        if args.command == "new":
            return _new(args, notebooks)
        if args.command == "sync":
            return _sync(args, notebooks)
        if args.command in ("present", "slides"):
            from autograders import present

            return present.run(args, extra, notebooks)
        return _selfcheck(args, notebooks)
    except (ReleaseError, SubmissionFormatError, FileNotFoundError) as exc:
        _err(str(exc))
        return 2
    except (ScaffoldError, SyncError) as exc:
        _err(str(exc))
        return 2
