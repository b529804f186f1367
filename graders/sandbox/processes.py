"""Finding and ending the processes that learner code leaves behind."""
from __future__ import annotations

import ctypes
import os
import signal
import sys

import psutil

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants, so a worker whose parent died is still ours to find and kill."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants(pid: int | None = None) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children()
    except psutil.Error:
        return []


def kill_all(processes: list[psutil.Process], grace: float = 0.0) -> list[int]:
    """Kill the given processes and reap them; returns the pids that were still alive."""
    alive = []
    for proc in processes:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                _reap(proc.pid)
            elif proc.is_running():
                alive.append(proc)
        except psutil.Error:
            continue
    if grace and alive:
        for proc in alive:
            _signal(proc, signal.SIGTERM)
        _, alive_after = psutil.wait_procs(alive, timeout=grace)
    else:
        alive_after = alive
    for proc in alive_after:
        _signal(proc, signal.SIGKILL)
    # wait_procs also reaps those that are our children (adopted orphans included).
    psutil.wait_procs(alive, timeout=2)
    return [p.pid for p in alive]


def _reap(pid: int) -> None:
    # A dead orphan we adopted (as subreaper) stays a zombie until we collect its exit status.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except psutil.Error:
        pass


def describe(proc: psutil.Process) -> str:
    try:
        cmd = " ".join(proc.cmdline())[:80] or proc.name()
    except psutil.Error:
        cmd = "?"
    return f"pid {proc.pid} ({cmd})"
