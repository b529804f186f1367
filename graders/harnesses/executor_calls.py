"""Sandbox-side entry points for part 1 of exercise 05 (concurrent.futures executors).

Each is called inside the sandbox with the learner's module first (see graders.sandbox.calls) and returns
plain data (dataclasses of plain fields). The task functions given to the learner's ``collect`` are
the grader's own, defined here at module level, so a process pool can send them to its workers by
name.

One cause, one charge: ``download_all`` and ``summarise_all`` are run with the grader's own
``collect`` (:func:`reference_collect`) in place of the learner's, so a mistake in ``collect`` is
charged by the ``collect`` checks only, never again by the checks on downloading or summarising.

Every entry point reports what went wrong the way the sandbox does for a plain call: a missing
function as MISSING_FUNCTION with the module's public functions as its error, an exception through
graders.sandbox.child.classify, a lazy iterator as LAZY_RETURN. A hang is stopped by the sandbox's own
deadline, as for any call.
"""
from __future__ import annotations

import functools
import os
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from graders.sandbox import learner
from graders.sandbox.calls import Outcome
from graders.given.ex05 import describe_failure
from graders.instruments.loopback_http import ArchiveServer, Route
from graders.instruments.netguard import NetGuard

EXECUTORS = {"threads": ThreadPoolExecutor, "processes": ProcessPoolExecutor}
DEFAULT_DELAY_S = 0.02


# Reporting the learner's call the way the sandbox does -------------------------------------------


# The executors the learner's code creates ------------------------------------------------------------


@dataclass
class ExecutorRecord:
    kind: str  # the class's name: ThreadPoolExecutor, ProcessPoolExecutor, Pool, ThreadPool...
    workers: int | None  # the size it was given (or its default), as the executor itself holds it
    shut_down: bool = False  # shut down (or closed) by the time the learner's function returned


class ExecutorWatch:
    """Records every executor (and multiprocessing pool) created while it is active.

    The classes' ``__init__`` are wrapped, so an executor is seen however the learner imported its
    class. Executors the grader created before entering are not counted.
    """

    def __init__(self) -> None:
        import multiprocessing.pool

        self.classes = (ThreadPoolExecutor, ProcessPoolExecutor, multiprocessing.pool.Pool)
        self.created: list = []
        self._originals: dict = {}
        self._lock = threading.Lock()

    def __enter__(self) -> "ExecutorWatch":
        for cls in self.classes:
            original = vars(cls)["__init__"]
            self._originals[cls] = original

            def init(instance, *args, _original=original, **kwargs):
                _original(instance, *args, **kwargs)
                with self._lock:
                    if not any(instance is seen for seen in self.created):
                        self.created.append(instance)

            cls.__init__ = init
        return self

    def __exit__(self, *exc_info) -> None:
        for cls, original in self._originals.items():
            cls.__init__ = original

    def records(self) -> list[ExecutorRecord]:
        return [_record(executor) for executor in self.created]


def _record(executor) -> ExecutorRecord:
    if isinstance(executor, ThreadPoolExecutor):
        return ExecutorRecord(type(executor).__name__, executor._max_workers, bool(executor._shutdown))
    if isinstance(executor, ProcessPoolExecutor):
        return ExecutorRecord(type(executor).__name__, executor._max_workers, bool(executor._shutdown_thread))
    state = getattr(executor, "_state", "RUN")
    return ExecutorRecord(type(executor).__name__, getattr(executor, "_processes", None), state != "RUN")


# collect ----------------------------------------------------------------------------------------------


class TaskFailed(ValueError):
    """What the grader's failing tasks raise; the message names the input."""


_running = {"now": 0, "peak": 0}
_running_lock = threading.Lock()


def cube_or_fail(item: int, failing: tuple = (), delays: dict | None = None) -> int:
    """item ** 3 after ``delays[item]`` seconds (default 0.02), or TaskFailed at once when item is in ``failing``.

    Counts the tasks running at once in this process (meaningful on a thread pool).
    """
    if item in failing:
        raise TaskFailed(f"task for {item} failed on purpose")
    with _running_lock:
        _running["now"] += 1
        _running["peak"] = max(_running["peak"], _running["now"])
    try:
        time.sleep((delays or {}).get(item, DEFAULT_DELAY_S))
    finally:
        with _running_lock:
            _running["now"] -= 1
    return item**3


@dataclass
class CollectRun:
    outcome: Outcome
    executor: str
    peak_running: int = 0  # most tasks running at once (thread pool only; 0 on a process pool)


def collect_on(
    module, executor: str, items: list, failing: tuple = (), workers: int = 2, delays: dict | None = None
) -> CollectRun:
    """``module.collect(executor, cube_or_fail, items)`` on a pool of the given kind, which the grader owns.

    Failing tasks raise at once and the others take ``delays[item]`` seconds, so a collect that stops
    at the first exception has results still to come, and (the delays being unsorted) the tasks
    complete in another order than they were submitted.
    """
    absent = learner.missing_function(module, "collect")
    if absent is not None:
        return CollectRun(absent, executor)
    items = list(items)
    task = functools.partial(cube_or_fail, failing=tuple(failing), delays=dict(delays or {}))
    with _running_lock:
        _running.update(now=0, peak=0)
    with EXECUTORS[executor](workers) as pool:
        outcome = learner.call(lambda: module.collect(pool, task, list(items)), learner.folder_of(module))
    peak = _running["peak"] if executor == "threads" else 0
    return CollectRun(outcome, executor, peak)


def reference_collect(executor, function, items):
    """The grader's own collect: every task submitted first, each result or failure under its item."""
    futures = {executor.submit(function, item): item for item in items}
    results, failures = {}, {}
    for future in as_completed(futures):
        item = futures[future]
        try:
            results[item] = future.result()
        except Exception as error:  # noqa: BLE001 - a task's failure is data here
            failures[item] = describe_failure(error)
    return results, failures


class _GradersCollect:
    """Puts :func:`reference_collect` in the learner's module as ``collect`` for the duration."""

    def __init__(self, module) -> None:
        self.module = module

    def __enter__(self) -> None:
        self.had, self.original = hasattr(self.module, "collect"), getattr(self.module, "collect", None)
        self.module.collect = reference_collect

    def __exit__(self, *exc_info) -> None:
        if self.had:
            self.module.collect = self.original
        else:
            del self.module.collect


# download_all and summarise_all ----------------------------------------------------------------------


@dataclass
class DownloadRun:
    outcome: Outcome
    urls: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # path the learner returned -> its content
    folder: str = ""
    peak_in_flight: int = 0
    network: list[str] = field(default_factory=list)
    executors: list[ExecutorRecord] = field(default_factory=list)


def download_all(
    module, archives: list[tuple[str, bytes, float]], missing: list[tuple[int, str]], workers: int
) -> DownloadRun:
    """``module.download_all(urls, folder, workers)`` with ``archives`` (path, data, latency) served on loopback.

    ``missing`` are (position, path): paths the server answers with 404, inserted at those positions
    of the URL list. The learner's download_all runs with the grader's collect.
    """
    absent = learner.missing_function(module, "download_all")
    if absent is not None:
        return DownloadRun(absent)
    routes = {path: Route(data, latency=latency) for path, data, latency in archives}
    folder = tempfile.mkdtemp(prefix="downloads-", dir=os.getcwd())
    with ArchiveServer(routes) as server, NetGuard() as guard:
        urls = [server.url(path) for path, _, _ in archives]
        for position, path in sorted(missing):
            urls.insert(min(len(urls), position), server.url(path))
        with _GradersCollect(module), ExecutorWatch() as watch:
            outcome = learner.call(lambda: module.download_all(list(urls), folder, workers), learner.folder_of(module))
            executors = watch.records()
    files = {}
    if outcome.ok and isinstance(outcome.value, tuple) and len(outcome.value) == 2 and isinstance(outcome.value[0], dict):
        for path in outcome.value[0].values():
            try:
                with open(path, "rb") as handle:
                    files[path] = handle.read()
            except (OSError, TypeError, ValueError):
                pass
    return DownloadRun(outcome, urls, files, folder, server.peak_in_flight, guard.attempts, executors)


@dataclass
class SummariseRun:
    outcome: Outcome
    paths: list[str] = field(default_factory=list)
    executors: list[ExecutorRecord] = field(default_factory=list)


def summarise_all(module, archives: list[tuple[str, bytes]], workers: int) -> SummariseRun:
    """``module.summarise_all(paths, workers)`` on ``archives`` (file name, data) written to a fresh folder.

    The learner's summarise_all runs with the grader's collect.
    """
    absent = learner.missing_function(module, "summarise_all")
    if absent is not None:
        return SummariseRun(absent)
    folder = tempfile.mkdtemp(prefix="archives-", dir=os.getcwd())
    paths = []
    for name, data in archives:
        path = os.path.join(folder, name)
        with open(path, "wb") as handle:
            handle.write(data)
        paths.append(path)
    with _GradersCollect(module), ExecutorWatch() as watch:
        outcome = learner.call(lambda: module.summarise_all(list(paths), workers), learner.folder_of(module))
        executors = watch.records()
    return SummariseRun(outcome, paths, executors)
