"""nbgrader configuration for the course (loaded by the repo root's ``nbgrader_config.py``).

With it, the plain nbgrader commands work from the repo root::

    nbgrader generate_assignment 01-circuit-breaker   # notebooks/01-... -> release/01-...
    nbgrader autograde 01-circuit-breaker             # submitted/STUDENT/01-... -> autograded/
    nbgrader generate_feedback 01-circuit-breaker     # autograded/ -> feedback/ (no hidden tests)
    nbgrader export                                    # gradebook.db -> grades.csv

and ``jupyter lab`` started at the repo root gives Formgrader the same settings.
Every setting here fixes one of nbgrader's sharp edges (see ``autograders/README.md``).
"""

import os
import sys
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # so the feedback preprocessor below can be imported
    sys.path.insert(0, str(ROOT))

from autograders.assignments import TEXT_TWIN_GLOB  # noqa: E402
from autograders.feedback import HideHiddenTests  # noqa: E402

c = get_config()  # noqa: F821  (provided by traitlets' config loader)

# Where things are: the repo root is the course directory, sources live in notebooks/.
c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "notebooks"
c.CourseDirectory.course_id = "module14-fault-tolerance"
# The gradebook is left at nbgrader's default, sqlite:///<root>/gradebook.db (gitignored), so
# that `--course-dir OTHER` also moves the gradebook and never touches the repo's one.

# The notebook's MyST text twin (NAME.md, solutions in) is never copied into a release.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    TEXT_TWIN_GLOB,
]

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {
    "python": 'raise NotImplementedError("Not written yet: replace this line with your code '
    '(see the exercise above).")'
}

# A student who edits a test cell gets the original back (nbgrader does that by default);
# a student who deletes one gets it back too (off by default).
c.OverwriteCells.add_missing_cells = True

# nbgrader issue #917: feedback shows hidden tests by default, in the cell source and in
# the traceback of a failing hidden test. HideHiddenTests removes both.
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]

# A test cell must never run forever.
c.Execute.timeout = 60

# No stderr surprises: a kernel on Python >= 3.11 prints a debugger warning about frozen
# modules; stderr zeroes a test cell, and in the terminal it only confuses.
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

# The notebooks' hidden tests import the graders (`from autograders.graders.breaker import
# grade_window`), which are not installed with course_lib: the kernels nbgrader starts
# inherit this process's environment, so the repo root goes first on their PYTHONPATH.
_paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
if str(ROOT) not in _paths:
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *_paths])

# nbgrader's Gradebook runs the `alembic` program found on PATH; when Python is started as
# .venv/bin/python without activating the venv, the venv's bin folder is not on PATH.
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

# nbgrader's own gradebook code makes SQLAlchemy warn (SAWarning "... not in session") on
# every new submission during `nbgrader autograde`: noise on stderr, nothing wrong.
try:
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning, module=r"nbgrader\.api")
except ImportError:  # pragma: no cover - SQLAlchemy always comes with nbgrader
    pass

# Presenter notes and reveal cells (autograders/presenter.py) never reach a student: they are
# dropped first, before nbgrader records any cell, from the release and from the feedback.
from nbgrader.converters import GenerateAssignment  # noqa: E402

from autograders.presenter import StripPresenterCells  # noqa: E402

c.GenerateAssignment.preprocessors = [
    StripPresenterCells,
    *GenerateAssignment.class_traits()["preprocessors"].default(),
]
c.GenerateFeedback.preprocessors = [StripPresenterCells, *c.GenerateFeedback.preprocessors]
