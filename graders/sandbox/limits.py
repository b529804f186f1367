"""A pids cgroup per sandbox run, where this process may make one: a hard cap on its tasks, and a list of
every process it started (even one that left its session or namespace), so all of them can be killed.

cgroup v2 is used where its pids controller can be given to a child of our cgroup (root in a container,
or a delegated subtree); else the v1 "pids" hierarchy where we may write (root on a hybrid system, as
here). Where neither can be had (an ordinary user on most desktops), graders.sandbox.confine's per-namespace
thread limit caps the sandbox instead. A grading process that dies leaves its cgroups behind: the
next one removes them, killing whatever they still hold.
"""
from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path

import psutil

# Linux counts threads, not processes, against both the pids cgroup and RLIMIT_NPROC.
MAX_TASKS = 128
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_PREFIX = "graders-"
_serial = itertools.count()


class ProcessGroupCap:
    """A pids cgroup for one sandbox run, when the system lets us make one."""

    def __init__(self, max_tasks: int = MAX_TASKS):
        self.path: Path | None = None
        self.version: int | None = None
        for version, parent in _candidate_parents():
            path = parent / f"{_PREFIX}{os.getpid()}-{next(_serial)}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(max_tasks))
            except OSError:
                _remove(path)
                continue
            self.path, self.version = path, version
            return

    @property
    def procs_file(self) -> str | None:
        return str(self.path / "cgroup.procs") if self.path else None

    def describe(self) -> str | None:
        return f"cgroup v{self.version}" if self.path else None

    def members(self) -> list[int]:
        return _members(self.path) if self.path else []

    def close(self) -> None:
        """Kill every process still in the cgroup, then remove it."""
        if self.path is not None:
            _empty_and_remove(self.path)
            self.path = None


def _candidate_parents() -> list[tuple[int, Path]]:
    found = []
    v2 = _v2_parent()
    if v2 is not None:
        found.append((2, v2))
    v1 = _v1_parent()
    if v1 is not None:
        found.append((1, v1))
    for _, parent in found:
        _sweep_stale(parent)
    return found


def _own_cgroups() -> dict[str, str]:
    """controller list ("" for v2) -> our cgroup's path, from /proc/self/cgroup."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return {}
    return {controllers: relative.lstrip("/") for _, controllers, relative in (l.split(":", 2) for l in lines)}


def _v2_parent() -> Path | None:
    relative = _own_cgroups().get("")
    if relative is None:
        return None
    for mount in (_CGROUP_ROOT, _CGROUP_ROOT / "unified"):
        if (mount / "cgroup.controllers").is_file():
            parent = mount / relative
            break
    else:
        return None
    try:
        if "pids" not in (parent / "cgroup.subtree_control").read_text().split():
            (parent / "cgroup.subtree_control").write_text("+pids")
        return parent if os.access(parent, os.W_OK) else None
    except OSError:
        return None  # the pids controller is not ours to hand out here


def _v1_parent() -> Path | None:
    for controllers, relative in _own_cgroups().items():
        if "pids" in controllers.split(","):
            parent = _CGROUP_ROOT / "pids" / relative
            return parent if parent.is_dir() and os.access(parent, os.W_OK) else None
    return None


def _sweep_stale(parent: Path) -> None:
    """Remove cgroups left by grading processes that died, killing whatever they still hold."""
    try:
        children = [p for p in parent.iterdir() if p.name.startswith(_PREFIX) and p.is_dir()]
    except OSError:
        return
    for child in children:
        owner = child.name[len(_PREFIX):].split("-")[0]
        if owner.isdigit() and not psutil.pid_exists(int(owner)):
            _empty_and_remove(child)


def _members(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def _empty_and_remove(path: Path) -> None:
    kill_file = path / "cgroup.kill"
    for _ in range(50):
        members = _members(path)
        if not members:
            break
        try:
            kill_file.write_text("1")
        except OSError:
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        psutil.wait_procs([p for p in map(_proc, members) if p], timeout=0.2)
    _remove(path)


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
