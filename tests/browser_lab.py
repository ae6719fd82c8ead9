"""A real JupyterLab server and a headless Chromium page driving it, for the browser tests.

Everything here is bounded: the server must answer within ``SERVER_START_TIMEOUT``,
every wait in the page has a timeout, and :func:`running_lab` always stops the server
(terminate, then kill) when the ``with`` block ends, whatever happened inside it (and a
watchdog stops it if the test process dies first).

The browser test files share one student JupyterLab per session (``student_lab`` in
``tests/conftest.py``); each file works in a folder of its own under the server's root
(:meth:`LabServer.in_folder`), and every kernel is shut down after each test
(:meth:`LabServer.shut_down_kernels`).

The server runs with private Jupyter config/runtime/data/settings/workspaces folders
(the venv's lab extensions stay visible: they live under ``sys.prefix``), no token, and
the notebook setting ``windowingMode: none`` so every cell is attached to the DOM and can
be inspected without scrolling.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import nbformat

if str(Path(__file__).resolve().parent) not in sys.path:  # loaded by path (benchmarks/)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import free_port, watchdog  # noqa: E402 (after the path above)

__all__ = [
    "ROOT",
    "ARTIFACTS",
    "LabServer",
    "RunResult",
    "chromium_page",
    "open_notebook",
    "reload_notebook",
    "run_all_cells",
    "run_every_cell",
    "running_lab",
    "save_notebook",
    "serve_solution_and_blank",
    "solution_version",
]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "browser"

SERVER_START_TIMEOUT = 90.0  # s: a cold JupyterLab start on a busy 2-core machine
PAGE_TIMEOUT_MS = 60_000
RUN_ALL_TIMEOUT_MS = 180_000

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


# --- the notebooks a student would open ------------------------------------------------


def solution_version(source: Path, target: Path) -> Path:
    """Write the student version with the solutions filled in.

    nbgrader's own preprocessors on the source notebook: ``ClearHiddenTests`` strips the
    hidden tests, ``ClearOutput`` the outputs; the solutions stay. This is what a student
    who solved every exercise would have in front of them.
    """
    from nbgrader.preprocessors import ClearHiddenTests, ClearOutput

    nb = nbformat.read(source, as_version=nbformat.NO_CONVERT)
    resources: dict[str, Any] = {}
    for preprocessor in (ClearHiddenTests(), ClearOutput()):
        nb, resources = preprocessor.preprocess(nb, resources)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def serve_solution_and_blank(lab: LabServer, names: Sequence[str], released: Path) -> None:
    """Put ``solution/NAME.ipynb`` and ``blank/NAME.ipynb`` of each assignment in ``lab``'s folder.

    Args:
        lab: the server, seen from the test file's folder (:meth:`LabServer.in_folder`).
        names: the assignments.
        released: a folder ``python -m autograders release`` wrote (``released_course`` in
            ``tests/conftest.py``): the blank version is its ``NAME/NAME.ipynb``, nbgrader's
            ``generate_assignment`` with the course config.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from autograders.assignments import discover

    sources = {assignment.name: assignment.notebook for assignment in discover()}
    for name in names:
        solution_version(sources[name], lab.served / "solution" / f"{name}.ipynb")
        blank = lab.served / "blank" / f"{name}.ipynb"
        blank.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(released / name / f"{name}.ipynb", blank)


# --- the server ------------------------------------------------------------------------


@dataclass(frozen=True)
class LabServer:
    """A running ``jupyter lab``: its URL, served folder and log file.

    ``folder`` is where a test file works, relative to ``root_dir`` ("" for the root):
    :func:`open_notebook` opens paths relative to it.
    """

    url: str
    root_dir: Path
    log: Path
    process: subprocess.Popen[bytes]
    folder: str = ""

    @property
    def served(self) -> Path:
        """The folder the test's notebooks go in (``root_dir / folder``)."""
        return self.root_dir / self.folder

    def in_folder(self, folder: str) -> LabServer:
        """The same server, seen from ``folder`` (a new, empty folder under its root)."""
        (self.root_dir / folder).mkdir(parents=True)
        return replace(self, folder=folder)

    def tree_path(self, relative: str) -> str:
        """``relative`` (to ``folder``) as a path under the server's root."""
        return f"{self.folder}/{relative}" if self.folder else relative

    def shut_down_kernels(self) -> None:
        """Shut down every session and kernel the server runs (whoever started them)."""
        for session in _api(self, "GET", "api/sessions"):
            _api(self, "DELETE", f"api/sessions/{session['id']}")
        for kernel in _api(self, "GET", "api/kernels"):
            _api(self, "DELETE", f"api/kernels/{kernel['id']}")

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log (for failure messages)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _api(server: LabServer, method: str, path: str) -> Any:
    """A call to the server's REST API; its JSON.

    The test server has no token, so a call that changes something must pass tornado's
    XSRF check: the same (any hex) token as the ``_xsrf`` cookie and in ``X-XSRFToken``.
    """
    xsrf = secrets.token_hex(16)
    request = urllib.request.Request(
        f"{server.url}{path}",
        method=method,
        headers={"Cookie": f"_xsrf={xsrf}", "X-XSRFToken": xsrf},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        if method == "DELETE" and error.code == 404:  # gone already (a session's kernel)
            return None
        raise
    return json.loads(body) if body else None


def _wait_until_up(server: LabServer, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited with code {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}api/status", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(
        f"jupyter lab did not answer within {SERVER_START_TIMEOUT:.0f}s:\n{server.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def running_lab(workdir: Path, root_dir: Path, *, student: bool = False) -> Iterator[LabServer]:
    """Start ``jupyter lab`` serving ``root_dir``; stop it (and its kernels) on exit.

    Args:
        workdir: where the private Jupyter folders and the server log go.
        root_dir: the folder the server serves (the notebooks under test).
        student: start the student's JupyterLab, as ``python -m autograders open`` does
            (nbgrader's instructor tools off: ``autograders/student_lab.py``).
    """
    jupyter = Path(sys.executable).with_name("jupyter")
    env = dict(os.environ)
    private = {
        "JUPYTER_CONFIG_DIR": workdir / "config",
        "JUPYTER_RUNTIME_DIR": workdir / "runtime",
        "JUPYTER_DATA_DIR": workdir / "data",
        "JUPYTERLAB_SETTINGS_DIR": workdir / "settings",
        "JUPYTERLAB_WORKSPACES_DIR": workdir / "workspaces",
        "IPYTHONDIR": workdir / "ipython",
    }
    for name, path in private.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    # Every cell in the DOM (no virtual scrolling), so the test can read every output.
    tracker = private["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True})
    )
    # No "get notified about Jupyter news?" toast over the notebook.
    notify = private["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
    notify.mkdir(parents=True, exist_ok=True)
    (notify / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_CONFIG_PATH", None)
    if student:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from autograders.student_lab import student_lab_env, write_student_config

        exchange = workdir / "exchange"  # a student working alone: an exchange of their own
        exchange.mkdir(exist_ok=True)
        env = student_lab_env(write_student_config(workdir / "student-config", exchange), env)

    port = free_port()
    command = [
        str(jupyter),
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = workdir / "jupyter-lab.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=root_dir,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: kernels die with it
        )
    server = LabServer(f"http://127.0.0.1:{port}/", root_dir, log, process)
    with watchdog(process.pid):  # no server outlives the run, even if this process dies
        try:
            _wait_until_up(server, time.monotonic() + SERVER_START_TIMEOUT)
            yield server
        finally:
            _stop(process)


# --- the browser -----------------------------------------------------------------------


@contextmanager
def chromium_page(executable: str, user_data_dir: Path) -> Iterator[Any]:
    """A fresh headless Chromium page (Playwright sync API); closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1600},
        )
        try:
            context.set_default_timeout(PAGE_TIMEOUT_MS)
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def open_notebook(page: Any, server: LabServer, relative: str) -> None:
    """Open ``relative`` (under ``server.served``) with a reset workspace; wait for the kernel.

    If JupyterLab asks which kernel to use (it does when the notebook opens before the
    kernel specs have loaded), the preferred one is accepted.
    """
    page.goto(
        f"{server.url}lab/tree/{server.tree_path(relative)}?reset", wait_until="domcontentloaded"
    )
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=PAGE_TIMEOUT_MS)
    _wait_for_kernel_idle(page)


_KERNEL_READY_JS = """() => {
    if (document.querySelector('.jp-Dialog .jp-mod-accept')) return 'dialog';
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    if (!panel) return false;
    const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
    const name = panel.querySelector('.jp-KernelName, .jp-Toolbar-kernelName');
    const started = name !== null && !/no kernel/i.test(name.textContent);
    return indicator !== null && indicator.getAttribute('data-status') === 'idle' && started
        ? 'ready' : false;
}"""


def _wait_for_kernel_idle(page: Any, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    for _ in range(3):
        outcome = page.wait_for_function(_KERNEL_READY_JS, timeout=timeout_ms).json_value()
        if outcome == "ready":
            return
        page.locator(".jp-Dialog .jp-mod-accept").first.click()
    raise AssertionError("JupyterLab kept asking for a kernel instead of starting one")


@dataclass(frozen=True)
class RunResult:
    """What "Run All Cells" left on the page."""

    prompts: list[str]
    errors: list[str]


def _menu(page: Any, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).first.click()


_PROMPTS_JS = """() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')]
    .map(e => e.textContent.trim())"""


def run_all_cells(page: Any, *, expect_all: bool) -> RunResult:
    """Run > Run All Cells, then wait until the kernel has finished every cell it will run.

    Args:
        page: the Playwright page showing the notebook.
        expect_all: every code cell must end with an execution count; otherwise (a
            notebook expected to stop at its first error) wait until nothing is queued.

    Returns:
        The cells' prompts and the text of every error/stderr output.
    """
    _menu(page, "Run", "Run All Cells")
    condition = "p => /^\\[\\d+\\]/.test(p)" if expect_all else "p => !p.includes('*')"
    page.wait_for_function(
        f"""() => {{
            const prompts = ({_PROMPTS_JS})();
            return prompts.length > 0 && prompts.some(p => /\\[\\d+\\]/.test(p))
                && !prompts.some(p => p.includes('*')) && prompts.every({condition});
        }}""",
        timeout=RUN_ALL_TIMEOUT_MS,
    )
    _wait_for_kernel_idle(page, RUN_ALL_TIMEOUT_MS)
    return RunResult(prompts=page.evaluate(_PROMPTS_JS), errors=error_outputs(page))


_FIRST_UNRUN_JS = """() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')]
    .findIndex(e => !/\\[\\d+\\]/.test(e.textContent))"""


def run_every_cell(page: Any, *, max_resumes: int = 60) -> RunResult:
    """Run every code cell even past errors, as a student pressing Shift+Enter through it would.

    Run All stops at the first error (the kernel aborts what was queued after it), which
    would hide every later cell's output. So after each stop, select the first cell that
    has not run and use Run > Run Selected Cell and All Below, until every code cell has an
    execution count.
    """
    run_all_cells(page, expect_all=False)
    for _ in range(max_resumes):
        index = page.evaluate(_FIRST_UNRUN_JS)
        if index < 0:
            break
        cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").nth(index)
        cell.locator(".jp-InputArea-prompt").click()
        _menu(page, "Run", "Run Selected Cell and All Below")
        page.wait_for_function(
            f"""() => {{
                const prompts = ({_PROMPTS_JS})();
                return !prompts.some(p => p.includes('*'))
                    && /\\[\\d+\\]/.test(prompts[{index}]);
            }}""",
            timeout=RUN_ALL_TIMEOUT_MS,
        )
        _wait_for_kernel_idle(page, RUN_ALL_TIMEOUT_MS)
    else:
        raise AssertionError(f"some code cells never ran after {max_resumes} resumes")
    return RunResult(prompts=page.evaluate(_PROMPTS_JS), errors=error_outputs(page))


def save_notebook(page: Any) -> None:
    """File > Save Notebook, then wait until the tab is no longer marked as modified."""
    _menu(page, "File", "Save Notebook")
    page.wait_for_function(
        "() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')",
        timeout=PAGE_TIMEOUT_MS,
    )


def reload_notebook(page: Any) -> None:
    """Reload the page (the notebook must be saved) and wait for its cells and kernel.

    The kernel keeps running across the reload: widget outputs saved in the notebook are
    drawn again from the kernel's live widget models.
    """
    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=PAGE_TIMEOUT_MS)
    _wait_for_kernel_idle(page)


def error_outputs(page: Any) -> list[str]:
    """Text of every output rendered as an error or as stderr in the visible notebook."""
    texts: list[str] = page.evaluate(
        """() => [...document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')]
            .filter(e => {
                const mime = e.getAttribute('data-mime-type') || '';
                return mime.includes('stderr') || mime.includes('error')
                    || e.querySelector('[data-mime-type*="stderr"], [data-mime-type*="error"]');
            })
            .map(e => e.innerText)"""
    )
    return texts


def screenshot(page: Any, name: str, locator: Any | None = None) -> Path:
    """Save a PNG under ``test-artifacts/browser/`` (the page, or one element)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if locator is not None:
        locator.scroll_into_view_if_needed()
        locator.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path))
    return path
