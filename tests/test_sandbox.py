"""The bubblewrap sandbox: what student code can and cannot do, and the limits.

Every test runs a few lines of "student" code in a real sandbox
(``autograders.sandbox.Sandbox``) through the proxy session and checks the
outcome. Limits are set small so that each test is quick and safe on a shared
machine (bounded fork loops, small memory caps). No timed assertions.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_program

from autograders import sandbox as sandbox_module
from autograders.remote import Session
from autograders.sandbox import Limits, Runtime, Sandbox, SandboxFailure, SandboxStartError


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    with Runtime() as made:
        yield made


def _session(runtime: Runtime, **limits: object) -> Session:
    return Session(Sandbox(runtime, Limits(**limits)))  # type: ignore[arg-type]


def _run(runtime: Runtime, code: str, **limits: object) -> tuple[Session, BaseException | None]:
    session = _session(runtime, **limits)
    try:
        return session, session.exec_cell("cell", code)
    except SandboxFailure as failure:
        return session, failure


def test_the_sandbox_runs_code_and_serves_values(runtime: Runtime) -> None:
    session, error = _run(runtime, "x = [1, 2.5, 'three', (4,), {'k': None}]")
    assert error is None
    assert session.lookup("x") == [1, 2.5, "three", (4,), {"k": None}]
    session.sandbox.kill()


def test_student_code_runs_unprivileged_without_capabilities(runtime: Runtime) -> None:
    code = (
        "import os\n"
        "uid = os.getuid()\n"
        "caps = open('/proc/self/status').read().split('CapEff:')[1].split()[0]\n"
    )
    session, error = _run(runtime, code)
    assert error is None
    assert session.lookup("uid") != 0
    assert int(session.lookup("caps"), 16) == 0
    session.sandbox.kill()


def test_no_network_even_to_loopback(runtime: Runtime) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        code = (
            "import socket\n"
            "s = socket.socket()\n"
            "s.settimeout(5)\n"
            f"s.connect(('127.0.0.1', {port}))\n"
        )
        session, error = _run(runtime, code)
        assert isinstance(error, OSError), f"connecting to the host's loopback gave {error!r}"
        server.settimeout(0.1)
        with pytest.raises(TimeoutError):
            server.accept()
        session.sandbox.kill()
    finally:
        server.close()


def test_cannot_read_files_outside(runtime: Runtime, tmp_path: Path, repo_root: Path) -> None:
    secret = tmp_path / "gradebook.db"
    secret.write_text("hidden tests and grades")
    for path in (secret, repo_root / "pyproject.toml", Path("/etc/hostname")):
        session, error = _run(runtime, f"data = open({str(path)!r}).read()")
        assert isinstance(error, FileNotFoundError), f"reading {path} gave {error!r}"
        session.sandbox.kill()


def test_cannot_write_outside(runtime: Runtime, tmp_path: Path) -> None:
    target = tmp_path / "planted.txt"
    session, error = _run(runtime, f"open({str(target)!r}, 'w').write('x')")
    assert isinstance(error, OSError)
    assert not target.exists()
    venv_file = Path(os.path.realpath(__import__("sys").prefix)) / "planted.txt"
    session2, error2 = _run(runtime, f"open({str(venv_file)!r}, 'w').write('x')")
    assert isinstance(error2, OSError), "the Python runtime must be read-only"
    assert not venv_file.exists()
    session.sandbox.kill()
    session2.sandbox.kill()


def test_private_tmp_and_home_are_writable(runtime: Runtime) -> None:
    code = (
        "import os\n"
        "open('/tmp/scratch', 'w').write('ok')\n"
        "open('notes.txt', 'w').write('ok')\n"
        "where = os.getcwd()\n"
    )
    session, error = _run(runtime, code)
    assert error is None
    assert session.lookup("where") == "/home/student"
    session.sandbox.kill()


def test_reference_and_checks_are_not_importable(runtime: Runtime) -> None:
    session, error = _run(runtime, "import course_lib.breaker")
    assert isinstance(error, ImportError)
    assert "reference implementation is not available while grading" in str(error)
    session.sandbox.kill()
    session, error = _run(runtime, "from course_lib.checks import breaker")
    assert isinstance(error, ImportError)
    session.sandbox.kill()
    session, error = _run(runtime, "from course_lib.errors import CircuitOpenError")
    assert error is None
    session.sandbox.kill()


def test_input_gets_eof_at_once(runtime: Runtime) -> None:
    code = "try:\n    input('your name? ')\n    got = 'a line'\nexcept EOFError:\n    got = 'EOF'\n"
    session, error = _run(runtime, code, cell_timeout=20)
    assert error is None
    assert session.lookup("got") == "EOF"
    session.sandbox.kill()


def test_wall_clock_timeout_stops_the_sandbox(runtime: Runtime) -> None:
    session, error = _run(runtime, "import time\ntime.sleep(600)", cell_timeout=1)
    assert isinstance(error, SandboxFailure)
    assert error.kind == "timeout"
    assert error.reason == "ran for more than 1 s"
    assert session.sandbox.dead


def test_cpu_limit(runtime: Runtime) -> None:
    session, error = _run(runtime, "while True:\n    pass", cpu_seconds=1, cell_timeout=60)
    assert isinstance(error, SandboxFailure)
    assert (error.kind, error.reason) == ("limit", "used more than 1 s of CPU time")


def test_memory_limit(runtime: Runtime) -> None:
    session, error = _run(runtime, "hog = bytearray(2 * 1024 ** 3)", memory_mb=256)
    assert isinstance(error, SandboxFailure)
    assert (error.kind, error.reason) == ("limit", "used more than 256 MB of memory")
    assert session.sandbox.dead


def test_process_limit_bounds_a_fork_bomb(runtime: Runtime) -> None:
    code = (
        "import os, time\n"
        "started = 0\n"
        "refused = 0\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        refused += 1\n"
        "        continue\n"
        "    if pid == 0:\n"
        "        time.sleep(3)\n"
        "        os._exit(0)\n"
        "    started += 1\n"
    )
    session, error = _run(runtime, code, processes=16, cell_timeout=20)
    assert error is None
    assert session.lookup("started") < 16
    assert session.lookup("refused") > 0
    session.sandbox.kill()


def test_file_size_limit(runtime: Runtime) -> None:
    code = "open('/tmp/big', 'wb').write(b'x' * (3 * 1024 * 1024))"
    session, error = _run(runtime, code, file_mb=1)
    assert isinstance(error, OSError), f"writing a 3 MB file with a 1 MB limit gave {error!r}"
    session.sandbox.kill()


def test_output_is_capped(runtime: Runtime) -> None:
    code = (
        "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 100_000)\nsys.stdout.flush()"
    )
    session, error = _run(runtime, code, output_bytes=1000)
    assert error is None
    session.request({"op": "ping"})  # the output was written before the reply
    session.sandbox.kill()  # joins the output reader
    text = session.sandbox.take_output()
    assert text.startswith("x" * 1000)
    assert "[... 9999000 more bytes of output were dropped]" in text


def test_ending_its_own_process_is_reported(runtime: Runtime) -> None:
    session, error = _run(runtime, "import os\nos.kill(os.getpid(), 9)")
    assert isinstance(error, SandboxFailure)
    assert (error.kind, error.reason) == ("error", "ended its own process (signal SIGKILL)")
    session, error = _run(runtime, "import os\nos._exit(0)")
    assert isinstance(error, SandboxFailure)
    assert error.reason == "ended its own process (exit status 0)"


def test_kill_leaves_no_process_behind(runtime: Runtime) -> None:
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    time.sleep(600)\n"
        "    os._exit(0)\n"
        "uid = os.getuid()\n"
    )
    session, error = _run(runtime, code)
    assert error is None
    uid = session.lookup("uid")
    session.sandbox.kill()
    waiter = threading.Event()
    for _ in range(100):  # the kernel tears the pid namespace down asynchronously
        if uid not in _process_owners():
            break
        waiter.wait(0.1)
    assert uid not in _process_owners(), "a process of the killed sandbox survived"


def _process_owners() -> set[int]:
    owners = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        owners.add(int(text.split("Uid:")[1].split()[0]))
    return owners


def test_unsandboxed_mode_speaks_the_same_protocol(runtime: Runtime) -> None:
    session = Session(Sandbox(runtime, Limits(), isolated=False))
    assert session.exec_cell("cell", "def double(x):\n    return 2 * x") is None
    assert session.lookup("double")(21) == 42
    session.sandbox.kill()


def test_a_sandbox_that_cannot_start_is_the_graders_problem(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_module, "bwrap_command", lambda *args: ["/bin/false"])
    with pytest.raises(SandboxStartError, match="the sandbox did not start"):
        Sandbox(runtime, Limits())
    monkeypatch.setattr(sandbox_module, "BWRAP", "/nonexistent/bwrap")
    with pytest.raises(SandboxStartError, match="bubblewrap .* is not installed"):
        Sandbox(runtime, Limits())
