"""Run student code in a bubblewrap sandbox with resource limits, and talk to it.

No Docker: ``/usr/bin/bwrap`` gives the student process

* **no network**: new network namespace (only a down loopback), plus new pid,
  ipc, uts and cgroup namespaces; ``--die-with-parent``, ``--new-session``;
* **a minimal file system**: read-only binds of ``/usr`` (with the usual
  ``/bin``, ``/lib``, ``/lib64`` symlinks), the Python runtime (the
  interpreter's ``sys.base_prefix`` and the venv's ``sys.prefix``), and a
  private *library* dir holding this package's runner, the wire protocol and a
  SANITISED ``course_lib``; size-capped tmpfs ``/tmp`` and home; a fresh
  ``/proc`` and ``/dev``. Not bound: the repository, the gradebook, other
  submissions, the source notebooks;
* **limits** (applied by :mod:`autograders.sandbox_runner` before any student
  code runs, then, when the grader runs as root, it drops to a uid used by no other
  process; a grader that is not root keeps its own, unprivileged uid):
  ``RLIMIT_CPU``, ``RLIMIT_AS``, ``RLIMIT_NPROC`` (counted per uid by the kernel
  and ignored for root, hence the private uid), ``RLIMIT_FSIZE``; stdin is
  ``/dev/null`` so ``input()`` gets ``EOFError`` at once.

The parent adds a wall-clock timeout on every wait and keeps at most
``Limits.output_bytes`` of what the student prints (the rest is counted and
dropped).

The sanitised ``course_lib``: a copy in which every module the anti-cheat policy
counts as the reference (:func:`autograders.policy.is_reference`: the patterns and
everything built on them) is replaced by a stub raising ``ImportError`` and
``course_lib.checks`` is absent, so student code can neither lean on the
reference nor reach the grading functions. Build it once per batch with
:class:`Runtime`.

``sandbox=False`` (:class:`Sandbox` with ``isolated=False``) runs the same
runner in a plain child process with no bwrap, no limits and no uid change
(for measuring the sandbox's overhead; never for grading strangers' code).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograders import rpc
from autograders.cgroup import Cgroup, CgroupError
from autograders.cgroup import available as cgroup_available
from autograders.policy import is_reference

__all__ = [
    "BWRAP",
    "Limits",
    "Runtime",
    "Sandbox",
    "SandboxFailure",
    "SandboxStartError",
]

BWRAP = "/usr/bin/bwrap"
"""The bubblewrap binary."""

REFERENCE_STUB = (
    '"""Not available while grading."""\n'
    "raise ImportError(\n"
    '    "the reference implementation is not available while grading: '
    'your code must stand on its own"\n'
    ")\n"
)

_REPO = Path(__file__).resolve().parent.parent
_LIB_MOUNT = "/sandbox/lib"
_HOME = "/home/student"


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandbox.

    Attributes:
        cell_timeout: wall-clock seconds the student code may run for one test
            cell (summed over all its requests) or one answer cell.
        memory_mb: address-space limit (``RLIMIT_AS``), in MiB.
        processes: most processes/threads at once (``RLIMIT_NPROC``).
        output_bytes: most bytes of printed output kept; the rest is dropped.
        file_mb: largest file the code may write (``RLIMIT_FSIZE``) and size of
            each tmpfs, in MiB.
        cpu_seconds: CPU-time limit for the whole sandbox (``RLIMIT_CPU``);
            ``None`` means ``cell_timeout * 4 + 10``.
        grader_seconds: wall-clock limit for one whole test cell, the trusted
            checks included; ``None`` means ``cell_timeout * 4 + 30``.
        submission_seconds: ONE wall-clock budget for the whole submission:
            every sandbox start, replay, test cell and restart; once spent, the
            sandbox is killed and the remaining exercises score 0.
        cpus: CPU quota of the whole sandbox (all its processes), in CPUs, put on
            its cgroup; ``None``: no quota.
    """

    cell_timeout: float = 30.0
    memory_mb: int = 1024
    processes: int = 64
    output_bytes: int = 1_000_000
    file_mb: int = 64
    cpu_seconds: int | None = None
    grader_seconds: float | None = None
    submission_seconds: float = 300.0
    cpus: float | None = 1.0

    def __post_init__(self) -> None:
        for name in (
            "cell_timeout",
            "memory_mb",
            "processes",
            "output_bytes",
            "file_mb",
            "submission_seconds",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive number, got {value!r}")
        if self.grader_seconds is not None and (
            isinstance(self.grader_seconds, bool)
            or not isinstance(self.grader_seconds, int | float)
            or self.grader_seconds <= 0
        ):
            raise ValueError(
                f"Limits.grader_seconds must be a positive number or None, "
                f"got {self.grader_seconds!r}"
            )
        if self.cpus is not None and (
            isinstance(self.cpus, bool) or not isinstance(self.cpus, int | float) or self.cpus <= 0
        ):
            raise ValueError(f"Limits.cpus must be a positive number or None, got {self.cpus!r}")
        if self.cpu_seconds is not None and (
            isinstance(self.cpu_seconds, bool)
            or not isinstance(self.cpu_seconds, int)
            or self.cpu_seconds <= 0
        ):
            raise ValueError(
                f"Limits.cpu_seconds must be a positive int or None, got {self.cpu_seconds!r}"
            )

    @property
    def grader_limit(self) -> float:
        """The wall-clock limit applied to one whole test cell."""
        if self.grader_seconds is not None:
            return self.grader_seconds
        return self.cell_timeout * 4 + 30

    @property
    def cpu_limit(self) -> int:
        """The CPU-seconds limit actually applied."""
        if self.cpu_seconds is not None:
            return self.cpu_seconds
        return int(self.cell_timeout * 4 + 10)


class SandboxStartError(RuntimeError):
    """The sandbox could not be started (bwrap missing or refused): a grader problem."""


class SandboxFailure(BaseException):
    """The sandbox stopped serving: timeout, limit hit, crash or garbled protocol.

    A ``BaseException`` so that test code's ``except Exception`` cannot swallow it.

    Attributes:
        kind: ``"timeout"``, ``"limit"`` or ``"error"`` (a TestResult status).
        reason: plain words completing "your code ...", e.g.
            "ran for more than 30 s".
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class Runtime:
    """The read-only library dir bound into every sandbox of a batch.

    Holds ``autograders/{__init__,rpc,sandbox_runner}.py`` and a sanitised copy
    of ``course_lib``. Use as a context manager, or call :meth:`close`; the temp
    dir is removed on close.
    """

    def __init__(self, course_lib: Path | None = None) -> None:
        source = course_lib or (_REPO / "course_lib")
        if not (source / "__init__.py").is_file():
            raise ValueError(f"course_lib not found at {source}")
        self._tmp = tempfile.TemporaryDirectory(prefix="grading-runtime-")
        self.path = Path(self._tmp.name)
        self.path.chmod(0o755)
        pkg = self.path / "autograders"
        pkg.mkdir()
        (pkg / "__init__.py").write_text('"""Sandbox side of the grader."""\n')
        here = Path(__file__).resolve().parent
        for name in ("rpc.py", "sandbox_runner.py"):
            shutil.copyfile(here / name, pkg / name)
        target = self.path / "course_lib"
        shutil.copytree(
            source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "checks")
        )
        for entry in sorted(target.iterdir()):
            module = entry.stem if entry.suffix == ".py" else entry.name
            if module.startswith("__") or not (entry.suffix == ".py" or entry.is_dir()):
                continue
            if is_reference(f"course_lib.{module}"):
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                (target / f"{module}.py").write_text(REFERENCE_STUB)
        for path in [self.path, *self.path.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)

    def close(self) -> None:
        """Remove the library dir."""
        self._tmp.cleanup()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _runtime_dirs() -> list[str]:
    """Directories the interpreter needs: base prefix, venv prefix, stdlib/site-packages."""
    dirs = {sys.base_prefix, sys.prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        dirs.add(sysconfig.get_paths()[key])
    real = sorted({os.path.realpath(d) for d in dirs if os.path.isdir(d)})
    # keep only the outermost directories
    return [d for d in real if not any(d != o and d.startswith(o + "/") for o in real)]


def bwrap_command(runtime: Runtime, limits: Limits, settings: str) -> list[str]:
    """The bwrap command line that starts the runner (see the module docstring)."""
    cmd = [
        BWRAP,
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
        "--unshare-cgroup-try", "--die-with-parent", "--new-session",
        "--ro-bind", "/usr", "/usr",
    ]  # fmt: skip
    for name in ("bin", "lib", "lib64", "sbin"):
        link = Path("/") / name
        if link.is_symlink():
            cmd += ["--symlink", os.readlink(link), str(link)]
        elif link.is_dir():
            cmd += ["--ro-bind", str(link), str(link)]
    made: set[str] = {"/usr"}
    binds = [*_runtime_dirs(), _LIB_MOUNT]
    for target in binds:
        for parent in _ancestors(target):
            if parent not in made:
                cmd += ["--perms", "0755", "--dir", parent]
                made.add(parent)
    for directory in _runtime_dirs():
        cmd += ["--ro-bind", directory, directory]
    size = str(limits.file_mb * 1024 * 1024)
    cmd += [
        "--ro-bind", str(runtime.path), _LIB_MOUNT,
        "--proc", "/proc", "--dev", "/dev",
        "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
        "--perms", "0755", "--dir", "/home",
        "--perms", "1777", "--size", size, "--tmpfs", _HOME,
        "--setenv", "HOME", _HOME,
        "--chdir", "/",
        os.path.realpath(sys.executable), "-I", "-B",
        f"{_LIB_MOUNT}/autograders/sandbox_runner.py", settings,
    ]  # fmt: skip
    return cmd


_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "NBGRADER_EXECUTION": "autograde",
    "MPLBACKEND": "Agg",
}


_LIVE: set[int] = set()  # pids of this process's sandbox processes not yet waited for
_SUBREAPER = False


def _become_subreaper() -> None:
    """Make this process adopt its orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``).

    bwrap's ``--unshare-pid`` leaves a second bwrap (the namespace's init) under the first;
    when a sandbox is killed, that inner bwrap is orphaned. Adopted by an init that does not
    reap (a container's PID 1), it stays ``<defunct>`` forever. As the subreaper, this
    process adopts it instead and :func:`reap_orphans` collects it.
    """
    global _SUBREAPER
    if _SUBREAPER or not sys.platform.startswith("linux"):
        return
    _SUBREAPER = True
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _child_pids(pid: int) -> list[int]:
    """The children of ``pid`` (from ``/proc``; ``[]`` when it cannot be read)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as fh:
                found += [int(p) for p in fh.read().split()]
    return found


def _collect(pids: list[int], seconds: float = 2.0) -> None:
    """Wait (bounded) for orphaned ``pids`` to be adopted by this process, and reap them."""
    deadline = time.monotonic() + seconds
    pending = list(pids)
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not ours (yet, or at all): gone means someone reaped it
                done = pid if not os.path.exists(f"/proc/{pid}") else 0
            if done:
                pending.remove(pid)
        if pending:
            time.sleep(0.01)


def reap_orphans() -> int:
    """Collect this process's defunct children that no live sandbox owns; return how many."""
    reaped = 0
    me = str(os.getpid())
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) in _LIVE:
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[0] == "Z" and fields[1] == me and "(bwrap)" in stat:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(int(entry), os.WNOHANG)
                reaped += 1
    return reaped


class Sandbox:
    """One sandboxed runner process, its channel and its resource budget.

    Args:
        runtime: the library dir (sanitised course_lib and the runner).
        limits: resource limits.
        isolated: ``False`` runs the runner in a plain child process (no bwrap,
            no rlimits, no uid change, no cgroup) for overhead benchmarks.
        deadline: the submission's wall-clock budget, as a ``time.monotonic()``
            instant shared by every sandbox of that submission (restarts
            included); default ``limits.submission_seconds`` from now.

    The process starts in the constructor, which pings it before returning.
    :meth:`request` is the ONE way to talk to it: a bounded exchange (see there).

    Attributes:
        budget: seconds of student time left for the current cell; the engine
            resets it before each cell.
        isolation: how the whole sandbox is bounded, for the engine's log:
            ``"cgroup"`` or ``"rlimit-nproc-1"`` (no cgroup: no forks, no threads)
            or ``"none"`` (``isolated=False``).

    Raises:
        SandboxStartError: bwrap is missing or the runner did not answer the ping.
    """

    def __init__(
        self,
        runtime: Runtime,
        limits: Limits,
        *,
        isolated: bool = True,
        deadline: float | None = None,
    ) -> None:
        self.limits = limits
        self.isolated = isolated
        self.budget = limits.cell_timeout
        self.deadline = (
            deadline if deadline is not None else time.monotonic() + limits.submission_seconds
        )
        self.cgroup: Cgroup | None = None
        self.isolation = "none"
        self.peak_memory = 0
        self.dead = False
        self._next_id = secrets.randbits(48)
        self._last_callback = -1
        processes = limits.processes
        if isolated:
            if cgroup_available():
                try:
                    self.cgroup = Cgroup(
                        memory_bytes=limits.memory_mb * 1024 * 1024,
                        pids=limits.processes + 8,  # + bwrap, its init and the runner
                        cpus=limits.cpus,
                    )
                except CgroupError as exc:
                    raise SandboxStartError(str(exc)) from None
                self.isolation = "cgroup"
            else:
                processes = 1
                self.isolation = "rlimit-nproc-1"
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        # root drops to a private uid inside the sandbox; a grader that is not root (an
        # instructor's own account on a JupyterHub) is unprivileged already and keeps its uid
        uid = 100_000 + secrets.randbelow(900_000) if isolated and os.geteuid() == 0 else None
        settings: dict[str, Any] = {"req_fd": req_r, "resp_fd": resp_w, "uid": uid}
        if isolated:
            settings["limits"] = {
                "cpu_seconds": limits.cpu_limit,
                "memory_bytes": limits.memory_mb * 1024 * 1024,
                "processes": processes,
                "file_bytes": limits.file_mb * 1024 * 1024,
            }
            settings["workdir"] = _HOME
        text = json.dumps(settings)
        self._home: str | None = None
        if isolated:
            if not os.access(BWRAP, os.X_OK):
                self._release_cgroup()
                raise SandboxStartError(
                    f"bubblewrap ({BWRAP}) is not installed: install it (apt-get install "
                    "bubblewrap), or grade with sandbox=False only for trusted code"
                )
            cmd = bwrap_command(runtime, limits, text)
            if self.cgroup is not None:
                cmd = self.cgroup.enter_command(cmd)
            env = dict(_ENV, HOME=_HOME)
            cwd = "/"
        else:
            runner = runtime.path / "autograders" / "sandbox_runner.py"
            cmd = [sys.executable, "-I", "-B", str(runner), text]
            self._home = tempfile.mkdtemp(prefix="grading-home-")
            env = dict(_ENV, HOME=self._home)
            cwd = self._home
        _become_subreaper()
        self.process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(req_r, resp_w),
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        _LIVE.add(self.process.pid)
        os.close(req_r)
        os.close(resp_w)
        os.set_blocking(self._req_w, False)
        self._buffer = bytearray()
        self._output = bytearray()
        self.output_dropped = 0
        self._output_lock = threading.Lock()
        self._drain = threading.Thread(target=self._drain_output, daemon=True)
        self._drain.start()
        self._handshake()

    def _handshake(self) -> None:
        """Ping the runner before any student code runs: a failure here is the grader's."""
        try:
            reply = self.request({"op": "ping"})
        except SandboxFailure as failure:
            self.kill()
            raise SandboxStartError(
                "the sandbox did not start "
                f"({failure.reason.replace('ended its own process', 'exited')}); "
                f"its output: {self.take_output().strip()[:2000]!r}"
            ) from None
        if reply.get("return") != "pong":
            self.kill()
            raise SandboxStartError(f"the sandbox answered the start-up ping with {reply!r}")

    # -- output -------------------------------------------------------------
    def _drain_output(self) -> None:
        stream: Any = self.process.stdout
        assert stream is not None
        while True:
            chunk = stream.read1(65536)
            if not chunk:
                return
            with self._output_lock:
                room = self.limits.output_bytes - len(self._output)
                if room > 0:
                    self._output += chunk[:room]
                self.output_dropped += max(0, len(chunk) - max(room, 0))

    def take_output(self) -> str:
        """Return and clear what the student printed since the last call."""
        with self._output_lock:
            text = self._output.decode("utf-8", "replace")
            self._output.clear()
            dropped, self.output_dropped = self.output_dropped, 0
        if dropped:
            text += f"\n[... {dropped} more bytes of output were dropped]\n"
        return text

    # -- the bounded exchange -------------------------------------------------
    def request(self, message: dict[str, Any], on_callback: Any = None) -> dict[str, Any]:
        """Send one request and return its reply: the one bounded exchange with the sandbox.

        * Bounded: writing the request and reading every frame wait at most the
          cell's student time left (:attr:`budget`) and never past the
          submission's :attr:`deadline`; on expiry the sandbox is killed.
        * Checked: the request carries a fresh id (random start, then +1); the
          reply must name it (``"re"``). A nested ``callback`` request from the
          sandbox must carry a fresh, increasing id and is answered with it.
          Anything else (a reply to another id, a reply to nothing, an unknown
          frame) ends the sandbox as a protocol violation.

        Raises:
            SandboxFailure: timeout or budget spent (the process is killed),
                crash, garbled or forged frame.
        """
        if self.dead:
            raise SandboxFailure("error", "had already stopped")
        ident = self._next_id
        self._next_id += 1
        self._send({**message, "id": ident})
        while True:
            frame = self._receive()
            if frame.get("op") == "callback" and on_callback is not None:
                number = frame.get("id")
                if type(number) is not int or number <= self._last_callback:
                    raise self._violation("sent a callback request out of order")
                self._last_callback = number
                answer = on_callback(frame)
                self._send({**answer, "re": number})
                continue
            if frame.get("re") != ident:
                raise self._violation("sent a reply to a request the grader never made")
            if "return" not in frame and "raise" not in frame:
                raise self._violation("sent a garbled reply to the grader")
            return frame

    def _violation(self, reason: str) -> SandboxFailure:
        self.kill()
        return SandboxFailure("error", reason)

    def _wait(self, fd: int, event: int) -> None:
        """Block until ``fd`` is ready for ``event`` (poll flags), within both budgets."""
        start = time.monotonic()
        left = min(self.budget, self.deadline - start)
        poller = select.poll()
        poller.register(fd, event | select.POLLERR | select.POLLHUP)
        ready = poller.poll(max(0, int(left * 1000) + 1)) if left > 0 else []
        self.budget -= time.monotonic() - start
        if not ready:
            self.kill()
            if time.monotonic() >= self.deadline:
                raise SandboxFailure(
                    "timeout",
                    f"used up the submission's time budget of {self.limits.submission_seconds:g} s",
                )
            raise SandboxFailure("timeout", f"ran for more than {self.limits.cell_timeout:g} s")

    def _send(self, message: dict[str, Any]) -> None:
        data = memoryview(rpc.pack_frame(message))
        while data:
            self._wait(self._req_w, select.POLLOUT)
            try:
                written = os.write(self._req_w, data)
            except BlockingIOError:
                continue
            except OSError:  # BrokenPipeError: the runner is gone
                raise self._death() from None
            data = data[written:]

    def _receive(self) -> dict[str, Any]:
        """Read one frame, buffering: usually one poll and one read per message."""
        buffer = self._buffer
        try:
            while True:
                if len(buffer) >= 4:
                    length = int.from_bytes(buffer[:4], "big")
                    if length > rpc.MAX_FRAME:
                        raise rpc.ProtocolError(
                            f"a frame of {length} bytes exceeds the {rpc.MAX_FRAME}-byte limit"
                        )
                    if len(buffer) >= 4 + length:
                        body = bytes(buffer[4 : 4 + length])
                        del buffer[: 4 + length]
                        return rpc.unpack_message(body)
                self._wait(self._resp_r, select.POLLIN)
                chunk = os.read(self._resp_r, 1 << 20)
                if not chunk:
                    raise self._death()
                buffer += chunk
        except rpc.ProtocolError as exc:
            raise self._violation(f"sent a garbled reply to the grader ({exc})") from None

    def _death(self) -> SandboxFailure:
        """Explain why the runner stopped (called once its channel closed)."""
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        oom = self.cgroup is not None and self.cgroup.oom_kills() > 0
        self.kill()
        signo = (
            -code if code is not None and code < 0 else (code - 128 if code and code > 128 else 0)
        )
        if oom and signo in (0, signal.SIGKILL):
            return SandboxFailure(
                "limit", f"used more than {self.limits.memory_mb} MB of memory (all its processes)"
            )
        if signo == signal.SIGXCPU:
            return SandboxFailure("limit", f"used more than {self.limits.cpu_limit} s of CPU time")
        if signo == signal.SIGXFSZ:
            return SandboxFailure("limit", f"wrote a file larger than {self.limits.file_mb} MB")
        if signo:
            name = (
                signal.Signals(signo).name if signo in signal.Signals._value2member_map_ else signo
            )
            return SandboxFailure("error", f"ended its own process (signal {name})")
        return SandboxFailure("error", f"ended its own process (exit status {code})")

    def kill(self) -> None:
        """Kill the sandbox (its cgroup, session and pid namespace) and close the channel."""
        if self.dead:
            return
        self.dead = True
        inner = _child_pids(self.process.pid) if _SUBREAPER else []
        if self.cgroup is not None:
            self.cgroup.kill()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        if self.process.returncode is not None:
            _LIVE.discard(self.process.pid)
        _collect(inner)  # the namespace's inner bwrap, adopted by this process
        reap_orphans()
        for fd in (self._req_w, self._resp_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._drain.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._home:
            shutil.rmtree(self._home, ignore_errors=True)
        self._release_cgroup()

    def _release_cgroup(self) -> None:
        if self.cgroup is not None:
            self.peak_memory = max(self.peak_memory, self.cgroup.peak_memory())
            self.cgroup.remove()
            self.cgroup = None

    def close(self) -> None:
        """Stop the sandbox normally (same as :meth:`kill`: nothing in it is worth keeping)."""
        self.kill()
