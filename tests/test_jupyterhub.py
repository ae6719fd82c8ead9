"""A class on a real JupyterHub: release -> fetch -> submit -> collect -> grade -> feedback.

``deploy/jupyterhub/jupyterhub_config.py`` runs on 127.0.0.1 with one instructor and two
students, real Unix users made for the test (LocalProcessSpawner runs each server as its
user; the dummy authenticator, on loopback only). Everything goes through the hub's REST
API and the users' own servers (nbgrader's server extensions, each running as its user):

1. the instructor generates and releases 01 (Formgrader's API);
2. both students fetch it (the assignment list's API); the first writes the solution into
   it (the contents API), the second leaves it blank; both submit;
3. the instructor collects (Formgrader), grades with ``python -m autograders grade`` run as
   the instructor, and releases the feedback; the scores are 15 and 0;
4. each student fetches their feedback, which shows their own score.

Also: a student's server has no Formgrader (the student JupyterLab), the instructor's has.
Needs root (to make Unix users and spawn as them) and configurable-http-proxy; CI has both.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import require_program
from servers import free_port, watchdog

from autograders.submissions import solution_notebook

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
A = "01-circuit-breaker"
COURSE_ID = "module14-fault-tolerance"
INSTRUCTOR = "m14teach"
STUDENTS = ("m14alice", "m14bob")
USERS = (INSTRUCTOR, *STUDENTS)


@contextlib.contextmanager
def _traversable(*paths: Path) -> Iterator[None]:
    """Let other users reach ``paths`` (o+x on each closed ancestor), restored afterwards.

    The users' servers run this Python and this repository; where either lives under a
    folder only root may enter (``/root/.pyenv`` ...), each such folder gets the traverse
    bit (not read) for the length of the test.
    """
    changed: dict[Path, int] = {}
    for path in paths:
        for folder in [*reversed(path.resolve().parents), path.resolve()]:
            mode = folder.stat().st_mode
            if folder.is_dir() and not mode & 0o001 and folder not in changed:
                changed[folder] = mode
                folder.chmod(mode | 0o001)
    try:
        yield
    finally:
        for folder, mode in changed.items():
            folder.chmod(mode & 0o7777)


def _delete_users() -> None:
    for name in USERS:
        subprocess.run(["userdel", "-r", "-f", name], capture_output=True)


@dataclass
class Hub:
    url: str
    token: str
    home: Path
    course: Path
    user_tokens: dict[str, str]

    def request(
        self, method: str, path: str, *, token: str | None = None, data: Any = None,
        form: dict[str, str] | None = None, timeout: float = 300,
    ) -> Any:  # fmt: skip
        """A request to the hub (``/hub/api/...``) or a user's server (``/user/NAME/...``)."""
        body = None
        headers = {"Authorization": f"token {token or self.token}"}
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif data is not None:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            exc.msg = (
                f"{exc.msg} from {method} {path}: {exc.read().decode(errors='replace')[:2000]}"
            )
            raise
        return json.loads(text) if text.strip() else None

    def as_user(self, name: str, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, f"/user/{name}{path}", token=self.user_tokens[name], **kwargs)


@contextlib.contextmanager
def running_hub() -> Iterator[Hub]:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the JupyterHub test needs root (to make Unix users); CI runs as root")
        pytest.skip("needs root: it makes Unix users and spawns their servers as them")
    require_program(
        "configurable-http-proxy", install_hint="npm install -g configurable-http-proxy"
    )
    require_program("runuser", install_hint="apt-get install util-linux")
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    _delete_users()
    base = Path(tempfile.mkdtemp(prefix="m14-hub-"))
    base.chmod(0o755)
    python = Path(os.path.realpath(sys.executable))
    with contextlib.ExitStack() as stack:
        stack.enter_context(_traversable(python.parent, Path(sys.prefix), ROOT))
        yield from _hub_in(base)


def _hub_in(base: Path) -> Iterator[Hub]:
    try:
        home = base / "home"
        home.mkdir()
        home.chmod(0o755)
        for name in USERS:
            subprocess.run(
                ["useradd", "--create-home", "--home-dir", str(home / name), "-s", "/bin/sh",
                 name],
                check=True, capture_output=True,
            )  # fmt: skip
        course, exchange, state = base / "course", base / "exchange", base / "hub"
        subprocess.run(
            [sys.executable, str(ROOT / "deploy" / "jupyterhub" / "setup_course.py"),
             "--course", str(course), "--exchange", str(exchange), "--owner", INSTRUCTOR],
            check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        port = free_port()
        token = secrets.token_hex(16)
        env = {
            **os.environ,
            "M14_INSTRUCTORS": INSTRUCTOR,
            "M14_STUDENTS": ",".join(STUDENTS),
            "M14_COURSE_ROOT": str(course),
            "M14_EXCHANGE": str(exchange),
            "M14_STATE": str(state),
            "M14_HUB_PORT": str(port),
            "M14_HUB_INTERNAL_PORT": str(free_port()),
            "M14_PROXY_API_PORT": str(free_port()),
            "M14_AUTHENTICATOR": "dummy",
            "M14_API_TOKEN": token,
        }
        jupyterhub = str(Path(sys.executable).parent / "jupyterhub")
        log = open(base / "hub.log", "wb")  # noqa: SIM115 (closed below)
        hub = subprocess.Popen(
            [jupyterhub, "-f", str(ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py")],
            cwd=state.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with watchdog(hub.pid):  # no hub outlives the run, even if pytest dies
            try:
                url = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 120
                while True:
                    try:
                        urllib.request.urlopen(url + "/hub/api/", timeout=5).read()
                        break
                    except (urllib.error.URLError, ConnectionError, TimeoutError):
                        if hub.poll() is not None or time.monotonic() > deadline:
                            raise RuntimeError(
                                "JupyterHub did not start:\n" + (base / "hub.log").read_text()
                            ) from None
                        time.sleep(0.5)
                yield Hub(url, token, home, course, {})
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(hub.pid, 15)
                try:
                    hub.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(hub.pid, 9)
                    hub.wait()
                log.close()
                artifacts = ROOT / "test-artifacts" / "jupyterhub"
                artifacts.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(base / "hub.log", artifacts / "hub.log")  # for a failed run
    finally:
        _delete_users()
        shutil.rmtree(base, ignore_errors=True)


def _start_server(hub: Hub, name: str) -> None:
    hub.user_tokens[name] = hub.request(
        "POST", f"/hub/api/users/{name}/tokens", data={"note": "test"}
    )["token"]
    hub.request("POST", f"/hub/api/users/{name}/server")
    deadline = time.monotonic() + 180
    while True:
        model = hub.request("GET", f"/hub/api/users/{name}")
        server = model.get("servers", {}).get("")
        if server and server.get("ready"):
            return
        assert time.monotonic() < deadline, f"{name}'s server did not start: {model}"
        time.sleep(1)


def _ok(outcome: Any, what: str) -> None:
    assert isinstance(outcome, dict) and outcome.get("success"), f"{what}: {outcome}"


def test_a_class_releases_submits_collects_grades_and_returns_feedback() -> None:
    with running_hub() as hub:
        for name in USERS:
            _start_server(hub, name)

        # a student's server is the student JupyterLab: no Formgrader
        with pytest.raises(urllib.error.HTTPError) as refused:
            hub.as_user(STUDENTS[0], "GET", "/formgrader/api/assignments")
        assert refused.value.code == 404

        # 1. the instructor releases 01
        _ok(hub.as_user(INSTRUCTOR, "POST", f"/formgrader/api/assignment/{A}/assign"), "generate")
        _ok(hub.as_user(INSTRUCTOR, "POST", f"/formgrader/api/assignment/{A}/release"), "release")

        # 2. both students fetch it; one solves it, one leaves it blank; both submit
        ids = {"course_id": COURSE_ID, "assignment_id": A}
        source = nbformat.read(ROOT / "notebooks" / A / f"{A}.ipynb", as_version=4)
        for student in STUDENTS:
            listed = hub.as_user(student, "POST", "/assignments/fetch", form=ids)
            assert any(a["assignment_id"] == A for a in listed["value"]), listed
            path = f"/api/contents/{A}/{A}.ipynb"
            blank = nbformat.from_dict(hub.as_user(student, "GET", path)["content"])
            if student == STUDENTS[0]:
                solved = solution_notebook(source, blank)
                hub.as_user(student, "PUT", path, data={"type": "notebook", "content": solved})
            listed = hub.as_user(student, "POST", "/assignments/submit", form=ids)
            assert "value" in listed, listed

        # 3. the instructor collects, grades as themself, releases the feedback
        _ok(hub.as_user(INSTRUCTOR, "POST", f"/formgrader/api/assignment/{A}/collect"), "collect")
        submitted = hub.course / "submitted"
        assert sorted(p.name for p in submitted.iterdir()) == sorted(STUDENTS)
        graded = subprocess.run(
            ["runuser", "-u", INSTRUCTOR, "--", sys.executable, "-m", "autograders", "grade",
             str(submitted), "--out", str(hub.course), "--no-progress", "--jobs", "2"],
            cwd=ROOT, capture_output=True, text=True, timeout=900,
            env={**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(hub.home / INSTRUCTOR)},
        )  # fmt: skip
        assert graded.returncode == 0, graded.stdout + graded.stderr
        scores = {
            line.split()[0]: line.split()[2]
            for line in graded.stdout.splitlines()
            if line.startswith(STUDENTS)
        }
        assert scores == {STUDENTS[0]: "15", STUDENTS[1]: "0"}, graded.stdout
        _ok(
            hub.as_user(INSTRUCTOR, "POST", f"/formgrader/api/assignment/{A}/release_feedback"),
            "release_feedback",
        )

        # 4. each student fetches their own feedback
        for student, score in scores.items():
            hub.as_user(student, "POST", "/assignments/fetch_feedback", form=ids)
            pages = list((hub.home / student / A / "feedback").glob(f"*/{A}.html"))
            assert len(pages) == 1, f"{student} got {len(pages)} feedback pages"
            text = pages[0].read_text()
            assert (
                student in text
                and f"{score} / 15" in text.replace("&nbsp;", " ")
                or (score in text)
            ), f"{student}'s feedback does not show their score"
