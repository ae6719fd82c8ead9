"""The student's JupyterLab configuration (``autograders/student_lab.py``), without a browser.

tests/test_browser.py drives the real thing; this checks the configuration it writes, that
JupyterLab and Jupyter Server read it through ``JUPYTER_CONFIG_PATH``, and that the plugin
ids it disables are the ones the installed nbgrader ships (a rename would re-enable them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograders.student_lab import (
    INSTRUCTOR_LAB_PLUGINS,
    INSTRUCTOR_SERVER_EXTENSIONS,
    STUDENT_SERVER_EXTENSIONS,
    student_lab_command,
    student_lab_env,
    write_student_config,
)

ROOT = Path(__file__).resolve().parent.parent


def test_the_config_disables_the_instructor_tools_and_keeps_the_students(tmp_path: Path) -> None:
    write_student_config(tmp_path)
    page = json.loads((tmp_path / "labconfig" / "page_config.json").read_text())
    assert page == {"disabledExtensions": dict.fromkeys(INSTRUCTOR_LAB_PLUGINS, True)}
    server = json.loads((tmp_path / "jupyter_server_config.json").read_text())
    extensions = server["ServerApp"]["jpserver_extensions"]
    assert {name for name, on in extensions.items() if not on} == set(INSTRUCTOR_SERVER_EXTENSIONS)
    assert {name for name, on in extensions.items() if on} == set(STUDENT_SERVER_EXTENSIONS)


def test_the_config_folder_goes_first_on_jupyter_config_path(tmp_path: Path) -> None:
    env = student_lab_env(tmp_path, {"JUPYTER_CONFIG_PATH": "/somewhere", "HOME": "/home/x"})
    assert env["JUPYTER_CONFIG_PATH"].split(":") == [str(tmp_path), "/somewhere"]
    assert env["HOME"] == "/home/x"
    assert student_lab_env(tmp_path, {})["JUPYTER_CONFIG_PATH"] == str(tmp_path)


def test_the_command_opens_the_student_folder_and_passes_extra_arguments() -> None:
    command = student_lab_command("jupyter", Path("student"), ["--no-browser"])
    assert command[:3] == ["jupyter", "lab", "student"]
    assert command[-1] == "--no-browser"


@pytest.mark.slow
def test_jupyterlab_and_jupyter_server_read_it(tmp_path: Path) -> None:
    pytest.importorskip("jupyterlab_server")
    pytest.importorskip("nbgrader")
    env = student_lab_env(write_student_config(tmp_path / "config"))
    code = (
        "import json\n"
        "from jupyterlab_server.config import get_static_page_config\n"
        "from jupyter_server.serverapp import ServerApp\n"
        "app = ServerApp()\n"
        "app.load_config_file()\n"
        "app.find_server_extensions()\n"
        "print(json.dumps({'page': get_static_page_config(), 'ext': app.jpserver_extensions}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    disabled = {k for k, v in seen["page"].get("disabledExtensions", {}).items() if v}
    assert set(INSTRUCTOR_LAB_PLUGINS) <= disabled
    for name in INSTRUCTOR_SERVER_EXTENSIONS:
        assert seen["ext"].get(name) is False, (name, seen["ext"])
    for name in STUDENT_SERVER_EXTENSIONS:
        assert seen["ext"].get(name) is True, (name, seen["ext"])

    # Without it (an instructor's `jupyter lab`), nothing is disabled by this course.
    plain = {k: v for k, v in env.items() if k != "JUPYTER_CONFIG_PATH"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=plain, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    disabled = {k for k, v in seen["page"].get("disabledExtensions", {}).items() if v}
    assert not set(INSTRUCTOR_LAB_PLUGINS) & disabled
    assert seen["ext"].get("nbgrader.server_extensions.formgrader") is not False


def test_the_disabled_plugin_ids_are_nbgraders() -> None:
    labextension = (
        Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader"
    )
    if not labextension.is_dir():
        pytest.skip("nbgrader's JupyterLab extension is not installed here")
    shipped = "".join(p.read_text(errors="replace") for p in labextension.glob("static/*.js"))
    for plugin in INSTRUCTOR_LAB_PLUGINS:
        assert f'"{plugin}"' in shipped, f"nbgrader no longer ships a plugin {plugin}"
    assert '"@jupyter/nbgrader:assignment-list"' in shipped


@pytest.mark.slow
def test_a_student_alone_gets_an_exchange_of_their_own(tmp_path: Path) -> None:
    write_student_config(tmp_path / "kept")
    assert not (tmp_path / "kept" / "nbgrader_config.json").exists()  # the class's exchange stays
    write_student_config(tmp_path / "alone", tmp_path / "exchange")
    config = json.loads((tmp_path / "alone" / "nbgrader_config.json").read_text())
    assert config == {"Exchange": {"root": str(tmp_path / "exchange")}}
    # nbgrader reads it from the config folder first on JUPYTER_CONFIG_PATH
    code = "from autograders.student_lab import configured_exchange\nprint(configured_exchange())\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**student_lab_env(tmp_path / "alone"), "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == str(tmp_path / "exchange")
