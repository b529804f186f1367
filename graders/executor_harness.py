"""Sandbox-side entry points for part 1 of exercise 05 (concurrent.futures executors).

Each is called inside the sandbox with the learner's module first (see graders.calls) and returns
plain data. The task functions given to the learner's ``collect`` are the grader's own, defined
here at module level, so a process pool can send them to its workers by name.
"""
from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

from graders.calls import MISSING_FUNCTION, Outcome
from graders.loopback_http import ArchiveServer, Route
from graders.netguard import NetGuard

SLOW_S = 0.4
EXECUTORS = {"threads": ThreadPoolExecutor, "processes": ProcessPoolExecutor}


class TaskFailed(ValueError):
    """What the grader's failing tasks raise; the message names the input."""


def cube_or_fail(item: int, failing: tuple = (), delays: dict | None = None) -> int:
    """item ** 3 after ``delays[item]`` seconds (default 0.02), or TaskFailed at once when item is in ``failing``."""
    if item in failing:
        raise TaskFailed(f"task for {item} failed on purpose")
    time.sleep((delays or {}).get(item, 0.02))
    return item**3


@dataclass
class CollectRun:
    outcome: Outcome
    executor: str


def collect_on(module, executor: str, items: list, failing: tuple = (), workers: int = 2) -> CollectRun:
    """``module.collect(executor, cube_or_fail, items)`` on a pool of the given kind, which the grader owns.

    Failing tasks raise at once and the others take a little while, so a collect that stops at the
    first exception has results still to come; the first item's task is the slowest, so the tasks
    complete in another order than they were submitted.
    """
    import functools

    if not callable(getattr(module, "collect", None)):
        return CollectRun(Outcome(MISSING_FUNCTION, error="collect"), executor)
    items = list(items)
    delays = {items[0]: SLOW_S} if items else {}
    task = functools.partial(cube_or_fail, failing=tuple(failing), delays=delays)
    with EXECUTORS[executor](workers) as pool:
        outcome = _call(module, lambda: module.collect(pool, task, list(items)))
    return CollectRun(outcome, executor)


@dataclass
class DownloadRun:
    outcome: Outcome
    urls: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # path the learner returned -> its content
    peak_in_flight: int = 0
    network: list[str] = field(default_factory=list)


def download_all(module, archives: list[tuple[str, bytes, float]], missing: list[str], workers: int) -> DownloadRun:
    """``module.download_all(urls, folder, workers)`` with ``archives`` (path, data, latency) served on loopback.

    ``missing`` are paths the server answers with 404, placed among the others.
    """
    if not callable(getattr(module, "download_all", None)):
        return DownloadRun(Outcome(MISSING_FUNCTION, error="download_all"))
    routes = {path: Route(data, latency=latency) for path, data, latency in archives}
    folder = tempfile.mkdtemp(prefix="downloads-", dir=os.getcwd())
    with ArchiveServer(routes) as server, NetGuard() as guard:
        urls = [server.url(path) for path, _, _ in archives]
        for offset, path in enumerate(missing):
            urls.insert(min(len(urls), 1 + 2 * offset), server.url(path))
        outcome = _call(module, lambda: module.download_all(urls, folder, workers))
    files = {}
    if outcome.ok and isinstance(outcome.value, tuple) and len(outcome.value) == 2 and isinstance(outcome.value[0], dict):
        for path in outcome.value[0].values():
            try:
                with open(path, "rb") as handle:
                    files[path] = handle.read()
            except (OSError, TypeError):
                pass
    return DownloadRun(outcome, urls, files, server.peak_in_flight, guard.attempts)


@dataclass
class SummariseRun:
    outcome: Outcome
    paths: list[str] = field(default_factory=list)


def summarise_all(module, archives: list[tuple[str, bytes]], workers: int) -> SummariseRun:
    """``module.summarise_all(paths, workers)`` on ``archives`` (file name, data) written to a fresh folder."""
    if not callable(getattr(module, "summarise_all", None)):
        return SummariseRun(Outcome(MISSING_FUNCTION, error="summarise_all"))
    folder = tempfile.mkdtemp(prefix="archives-", dir=os.getcwd())
    paths = []
    for name, data in archives:
        path = os.path.join(folder, name)
        with open(path, "wb") as handle:
            handle.write(data)
        paths.append(path)
    return SummariseRun(_call(module, lambda: module.summarise_all(list(paths), workers)), paths)


def _call(module, thunk) -> Outcome:
    try:
        return Outcome("ok", value=thunk())
    except BaseException as exc:  # noqa: BLE001 - whatever the learner's code raised is reported
        from graders.sandbox import classify

        return classify(exc, os.path.dirname(os.path.abspath(module.__file__)))
