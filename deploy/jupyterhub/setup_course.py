"""Make the instructor's nbgrader course folder and the exchange for a class on JupyterHub.

Run once, as root, from the repository::

    .venv/bin/python deploy/jupyterhub/setup_course.py \
        --course /srv/module14/course --exchange /srv/nbgrader/exchange --owner instructor

It copies every assignment's source notebook (``notebooks/NAME/NAME.ipynb``; not the
``.md`` text twins) into ``COURSE/source/NAME/``, writes ``COURSE/nbgrader_config.py``
(the course's own settings from ``autograders/nbgrader_config.py``, with this folder as
the course root), gives the folder to the instructor, and makes the exchange folder
writable by everyone (nbgrader's requirement: students write their submissions there).
Running it again refreshes the sources and keeps everything else (submissions, grades).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from autograders.assignments import discover  # noqa: E402

CONFIG = '''\
"""nbgrader configuration of this course folder (written by deploy/jupyterhub/setup_course.py)."""

c = get_config()  # noqa: F821
load_subconfig("{repo}/autograders/nbgrader_config.py")  # noqa: F821  (the course's settings)
c.CourseDirectory.root = "{course}"
c.CourseDirectory.source_directory = "source"
c.Exchange.root = "{exchange}"
'''


def setup_course(course: Path, exchange: Path, owner: str | None) -> None:
    """Write the course folder and the exchange (see the module docstring)."""
    course.mkdir(parents=True, exist_ok=True)
    for assignment in discover():
        target = course / "source" / assignment.name
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(assignment.notebook, target / assignment.notebook.name)
    (course / "nbgrader_config.py").write_text(
        CONFIG.format(repo=REPO, course=course, exchange=exchange)
    )
    if owner:
        for path in [course, *course.rglob("*")]:
            shutil.chown(path, owner)
    exchange.mkdir(parents=True, exist_ok=True)
    exchange.chmod(0o777)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=Path("/srv/module14/course"))
    parser.add_argument("--exchange", type=Path, default=Path("/srv/nbgrader/exchange"))
    parser.add_argument("--owner", default=None, help="the instructor's Unix user name")
    args = parser.parse_args(argv)
    setup_course(args.course.resolve(), args.exchange.resolve(), args.owner)
    print(f"course folder: {args.course}\nexchange:      {args.exchange}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
