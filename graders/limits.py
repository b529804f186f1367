"""Resource limits for sandboxes: how many processes, how much memory, how much CPU time.

Process count: a pids cgroup where this process may create one (root on a cgroup v1 "pids"
hierarchy, as here), because RLIMIT_NPROC does not bind root; otherwise RLIMIT_NPROC, counted on
top of the processes the user already has. The cgroup also lists every process the sandbox
started, even one that left its session, so all of them can be killed.
"""
from __future__ import annotations

import itertools
import os
import resource
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

MAX_PROCESSES = 64
MAX_MEMORY_BYTES = 8 << 30
_V1_PIDS = Path("/sys/fs/cgroup/pids")
_serial = itertools.count()


@dataclass(frozen=True)
class Limits:
    """What a sandbox applies to itself before it imports learner code (inherited by its children)."""

    cgroup_procs: str | None
    max_processes: int
    max_memory_bytes: int
    max_cpu_seconds: int

    def apply(self) -> None:
        if self.cgroup_procs:
            try:
                Path(self.cgroup_procs).write_text(str(os.getpid()))
            except OSError:
                pass
        else:
            _lower(resource.RLIMIT_NPROC, _processes_of_user() + self.max_processes)
        _lower(resource.RLIMIT_AS, self.max_memory_bytes)
        _lower(resource.RLIMIT_CPU, self.max_cpu_seconds)


class ProcessGroupCap:
    """A pids cgroup for one sandbox run, when the system lets us make one."""

    def __init__(self, max_processes: int = MAX_PROCESSES):
        self.path: Path | None = None
        our = _our_v1_pids_cgroup()
        if our is None:
            return
        path = our / f"graders-{os.getpid()}-{next(_serial)}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_processes))
            self.path = path
        except OSError:
            if path.exists():
                _remove(path)

    def limits(self, cpu_seconds: int) -> Limits:
        procs = str(self.path / "cgroup.procs") if self.path else None
        return Limits(procs, MAX_PROCESSES, MAX_MEMORY_BYTES, cpu_seconds)

    def members(self) -> list[int]:
        if self.path is None:
            return []
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def close(self) -> None:
        """Kill every process still in the cgroup, then remove it."""
        if self.path is None:
            return
        for _ in range(50):
            members = self.members()
            if not members:
                break
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            psutil.wait_procs([_proc(p) for p in members if _proc(p)], timeout=0.2)
        _remove(self.path)
        self.path = None


def _our_v1_pids_cgroup() -> Path | None:
    if not _V1_PIDS.is_dir():
        return None
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, relative = line.split(":", 2)
            if "pids" in controllers.split(","):
                path = _V1_PIDS / relative.lstrip("/")
                return path if os.access(path, os.W_OK) else None
    except OSError:
        pass
    return None


def _remove(path: Path) -> None:
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def _proc(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _processes_of_user() -> int:
    uid = os.getuid()
    return sum(1 for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid)


def _lower(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(kind, (value, hard))
    except (ValueError, OSError):
        pass
