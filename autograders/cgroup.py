"""One resource budget per sandbox: a cgroup (v1) holding every process of one submission.

:class:`Cgroup` makes, for one sandbox, a child cgroup in each of the ``memory``,
``pids``, ``cpu`` and ``freezer`` hierarchies (cgroup v1, mounted under
``/sys/fs/cgroup/<controller>``), under this process's own cgroup there, and sets

* ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes`` when present, so
  swap is no way out): the memory of ALL the sandbox's processes together,
  tmpfs files included;
* ``pids.max``: the processes and threads of the whole sandbox;
* ``cpu.cfs_quota_us``: at most ``cpus`` CPUs' worth of time, whatever the number
  of processes (so a hostile submission cannot starve its neighbours).

The sandbox's first process joins the cgroups before it ``exec``s bubblewrap
(:meth:`Cgroup.enter_command` prefixes the command with a tiny ``sh`` that writes
its own pid into each ``cgroup.procs``), so every later process, ``setsid`` or
not, is born inside. :meth:`Cgroup.kill` freezes the group, SIGKILLs every pid
in it, thaws it and repeats until it is empty; :meth:`Cgroup.remove` then
removes the directories.

:func:`available` says whether this machine lets us do that (root, v1
controllers mounted and writable). When it does not, :mod:`autograders.sandbox`
falls back to per-process limits with ``RLIMIT_NPROC = 1`` for the student's
private uid: no fork, no thread, so one process's ``RLIMIT_AS``/``RLIMIT_CPU``
bound the whole sandbox.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing.util
import os
import secrets
import signal
import time
from pathlib import Path

__all__ = ["CONTROLLERS", "ROOT", "Cgroup", "CgroupError", "available"]

ROOT = Path("/sys/fs/cgroup")
"""Where the cgroup v1 hierarchies are mounted."""

CONTROLLERS = ("memory", "pids", "cpu", "freezer")
"""The v1 hierarchies a sandbox gets a cgroup in."""

_CFS_PERIOD_US = 100_000


class CgroupError(Exception):
    """A cgroup could not be made or configured."""


def _own_path(controller: str, text: str | None = None) -> str:
    """This process's cgroup path in ``controller``'s hierarchy (from /proc/self/cgroup)."""
    lines = (text if text is not None else Path("/proc/self/cgroup").read_text()).splitlines()
    for line in lines:
        _, _, rest = line.partition(":")
        names, _, path = rest.partition(":")
        if controller in names.split(","):
            return path
    raise CgroupError(f"this process is in no {controller} cgroup (is cgroup v1 mounted?)")


def _base(controller: str) -> Path:
    return ROOT / controller / _own_path(controller).lstrip("/")


_AVAILABLE: bool | None = None
_LIVE: dict[int, Cgroup] = {}
_FINALIZER: list[multiprocessing.util.Finalize] = []


def _remove_live() -> None:
    """At exit: no sandbox cgroup of this process outlives it (nor any process in one)."""
    for group in list(_LIVE.values()):
        group.remove()


atexit.register(_remove_live)


def _sweep() -> None:
    """Remove empty sandbox cgroups left by grader processes that were killed (no cleanup ran)."""
    for controller in CONTROLLERS:
        with contextlib.suppress(OSError, CgroupError):
            for path in _base(controller).glob("m14-sandbox-*"):
                owner = path.name.split("-")[2]
                if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                    with contextlib.suppress(OSError):  # not empty, or gone already
                        path.rmdir()


def available() -> bool:
    """Whether per-sandbox cgroups can be made here (checked once per process).

    The first call also removes empty sandbox cgroups whose grader process is gone.
    """
    global _AVAILABLE
    if _AVAILABLE is None:
        _sweep()
        try:
            probe = Cgroup(memory_bytes=64 * 1024 * 1024, pids=8, cpus=None)
        except (CgroupError, OSError):
            _AVAILABLE = False
        else:
            probe.remove()
            _AVAILABLE = True
    return _AVAILABLE


class Cgroup:
    """A set of v1 cgroups (one per :data:`CONTROLLERS`) for one sandbox.

    Args:
        memory_bytes: the memory limit of the whole group.
        pids: the most tasks (processes and threads) in the group at once.
        cpus: CPU quota in CPUs (``1.0`` = one core's time); ``None``: no quota.

    Raises:
        CgroupError: a hierarchy is missing or not writable; nothing is left behind.
    """

    def __init__(self, memory_bytes: int, pids: int, cpus: float | None) -> None:
        name = f"m14-sandbox-{os.getpid()}-{secrets.token_hex(4)}"
        self.paths: dict[str, Path] = {}
        try:
            for controller in CONTROLLERS:
                path = _base(controller) / name
                path.mkdir()
                self.paths[controller] = path
            memory = self.paths["memory"]
            self._write(memory / "memory.limit_in_bytes", memory_bytes)
            memsw = memory / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                self._write(memsw, memory_bytes)
            self._write(self.paths["pids"] / "pids.max", pids)
            if cpus is not None:
                cpu = self.paths["cpu"]
                self._write(cpu / "cpu.cfs_period_us", _CFS_PERIOD_US)
                self._write(cpu / "cpu.cfs_quota_us", max(1000, int(cpus * _CFS_PERIOD_US)))
        except (OSError, CgroupError) as exc:
            self.remove()
            raise CgroupError(f"cannot make the sandbox's cgroup: {exc}") from None
        self.memory_bytes = memory_bytes
        if not _FINALIZER:  # worker processes of a pool run Finalize, not atexit
            _FINALIZER.append(multiprocessing.util.Finalize(None, _remove_live, exitpriority=20))
        _LIVE[id(self)] = self

    @staticmethod
    def _write(path: Path, value: int | str) -> None:
        path.write_text(f"{value}\n")

    def enter_command(self, command: list[str]) -> list[str]:
        """``command``, prefixed so that its process joins this group before it starts."""
        procs = [str(path / "cgroup.procs") for path in self.paths.values()]
        script = (
            'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
        )
        return ["/bin/sh", "-c", script, "sh", *procs, "--", *command]

    def pids(self) -> list[int]:
        """The processes in the group now."""
        path = self.paths.get("pids") or self.paths.get("memory")
        if path is None:
            return []
        try:
            return [int(n) for n in (path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def _read_int(self, controller: str, name: str) -> int:
        try:
            return int((self.paths[controller] / name).read_text().split()[0])
        except (OSError, KeyError, ValueError, IndexError):
            return 0

    def peak_memory(self) -> int:
        """The most memory the group used at once, in bytes (``memory.max_usage_in_bytes``)."""
        return self._read_int("memory", "memory.max_usage_in_bytes")

    def oom_kills(self) -> int:
        """How many processes the kernel killed for exceeding the memory limit."""
        try:
            text = (self.paths["memory"] / "memory.oom_control").read_text()
        except (OSError, KeyError):
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL every process in the group (frozen first, so none can fork meanwhile)."""
        freezer = self.paths.get("freezer")
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if not pids or time.monotonic() > deadline:
                break
            if freezer is not None:
                with contextlib.suppress(OSError):
                    self._write(freezer / "freezer.state", "FROZEN")
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if freezer is not None:
                with contextlib.suppress(OSError):
                    self._write(freezer / "freezer.state", "THAWED")
            time.sleep(0.005)

    def remove(self) -> None:
        """Kill what is left and remove the group's directories."""
        if self.pids():
            self.kill()
        for path in self.paths.values():
            for _ in range(200):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while the last processes are reaped
                    time.sleep(0.01)
        self.paths = {}
        _LIVE.pop(id(self), None)
