"""The student's JupyterLab: nbgrader's instructor tools switched off, for this launch only.

nbgrader 0.9 installs, for everyone who has it, JupyterLab plugins and Jupyter Server
extensions for both roles. A student needs the **assignment list** and the **Validate**
button; the **Create Assignment** sidebar, the **Formgrader** and the **course list** are
the instructor's. ``python -m autograders open`` starts JupyterLab through
:func:`run_student_lab`, which writes a small Jupyter configuration into a temporary folder
and puts that folder first on ``JUPYTER_CONFIG_PATH`` for the server it starts:

* ``labconfig/page_config.json``: ``disabledExtensions`` lists the instructor plugins
  (:data:`INSTRUCTOR_LAB_PLUGINS`); the nbgrader menu then holds only "Assignment List";
* ``jupyter_server_config.json``: ``ServerApp.jpserver_extensions`` turns the instructor
  server extensions off (:data:`INSTRUCTOR_SERVER_EXTENSIONS`), so the Formgrader's pages
  and API are not even served, and keeps the student ones on;
* ``nbgrader_config.json``, only when nbgrader's configured exchange folder does not exist
  (a student working alone, with no class exchange set up): ``Exchange.root`` names a
  folder of the student's own (:func:`local_exchange`), so the Assignments panel lists
  "no assignments" instead of three "exchange directory does not exist" errors. A class
  whose exchange exists keeps it.

Nothing in the user's own Jupyter configuration is touched, and an instructor running
``jupyter lab`` from the repository keeps every nbgrader tool. A folder on
``JUPYTER_CONFIG_PATH`` ranks above the environment's own configuration (where nbgrader
enables its extensions) and below the user's ``~/.jupyter``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "INSTRUCTOR_LAB_PLUGINS",
    "INSTRUCTOR_SERVER_EXTENSIONS",
    "STUDENT_SERVER_EXTENSIONS",
    "configured_exchange",
    "local_exchange",
    "run_student_lab",
    "student_lab_command",
    "student_lab_env",
    "write_student_config",
]

INSTRUCTOR_LAB_PLUGINS: tuple[str, ...] = (
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:course-list",
)
"""nbgrader's JupyterLab plugins a student must not see (their ids in nbgrader 0.9)."""

INSTRUCTOR_SERVER_EXTENSIONS: tuple[str, ...] = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)
"""nbgrader's server extensions switched off for a student."""

STUDENT_SERVER_EXTENSIONS: tuple[str, ...] = (
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.validate_assignment",
)
"""nbgrader's server extensions a student keeps (the assignment list and Validate)."""


def configured_exchange() -> Path:
    """The exchange folder nbgrader would use here (its configuration, read from this folder)."""
    from nbgrader.apps.baseapp import NbGrader
    from nbgrader.exchange.default.exchange import Exchange

    app = NbGrader()
    app.load_config_file()
    return Path(Exchange(config=app.config).root)


def local_exchange() -> Path:
    """A student's own exchange folder, in Jupyter's data folder (made if missing)."""
    from jupyter_core.paths import jupyter_data_dir

    folder = Path(jupyter_data_dir()) / "nbgrader-exchange"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_student_config(config_dir: Path, exchange: Path | None = None) -> Path:
    """Write the student's Jupyter configuration into ``config_dir``; return ``config_dir``.

    Args:
        config_dir: the folder to write into (made if missing).
        exchange: the exchange folder to use instead of nbgrader's configured one, or
            ``None`` to keep the configured one.
    """
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": dict.fromkeys(INSTRUCTOR_LAB_PLUGINS, True)}, indent=2)
        + "\n"
    )
    extensions = dict.fromkeys(INSTRUCTOR_SERVER_EXTENSIONS, False)
    extensions.update(dict.fromkeys(STUDENT_SERVER_EXTENSIONS, True))
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": extensions}}, indent=2) + "\n"
    )
    if exchange is not None:
        (config_dir / "nbgrader_config.json").write_text(
            json.dumps({"Exchange": {"root": str(exchange)}}, indent=2) + "\n"
        )
    return config_dir


def student_lab_env(config_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with ``config_dir`` first on
    ``JUPYTER_CONFIG_PATH``."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        filter(None, [str(config_dir), env.get("JUPYTER_CONFIG_PATH", "")])
    )
    return env


def student_lab_command(jupyter: str, notebook_dir: Path, extra: Sequence[str] = ()) -> list[str]:
    """The ``jupyter lab`` command line for a student's folder (``--allow-root`` as root)."""
    command = [jupyter, "lab", str(notebook_dir)]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        command.append("--allow-root")
    command.extend(extra)
    return command


def run_student_lab(jupyter: str, notebook_dir: Path, extra: Sequence[str] = ()) -> int:
    """Run the student's JupyterLab in the foreground until it exits; return its exit code.

    The configuration lives in a temporary folder removed when JupyterLab exits. Ctrl+C
    goes to JupyterLab (it asks whether to shut down), not to this process.
    """
    with tempfile.TemporaryDirectory(prefix="m14-student-lab-") as tmp:
        exchange = None if configured_exchange().is_dir() else local_exchange()
        config_dir = write_student_config(Path(tmp), exchange)
        sys.stdout.flush()
        process = subprocess.Popen(
            student_lab_command(jupyter, notebook_dir, extra), env=student_lab_env(config_dir)
        )
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:  # JupyterLab got it too, and decides
                continue
