"""Sandbox-side entry points of exercise 06 (threads): downloads served on loopback, and deposits raced on purpose.

Each is called inside the sandbox with the learner's module first (see graders.sandbox.calls) and returns
plain data. What the learner's function returned or raised is reported through graders.sandbox.learner,
as for any call.

- :func:`fetch_served` serves the pages from a real HTTP server on 127.0.0.1
  (graders.instruments.loopback_http) rather than from respx: respx answers only in the process that
  installed it, and a learner who picks processes for the downloads must be judged on what those
  processes did (the traced calls show where each download ran), not on a refused connection under
  spawn. The server counts the requests in flight.
- :func:`deposit_rounds` calls the learner's ``run_deposits`` on fresh accounts of the grader's own
  class (graders.given.ex06.Account, whose slow store pauses between reading the balance and handing
  it over) with a tiny thread switch interval, so that two unlocked read-modify-writes interleave
  every time, not once in a million runs. Around each call it notes the threads the call started,
  those still running when it returned (and waits for them, so the balance can be read once they are
  done), and the exceptions that ended a thread unhandled (``threading.excepthook``).
- :func:`thread_starmap` is the grader's reference thread pool for the numpy speed check.
"""
from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from graders.given.ex06 import Account
from graders.instruments.loopback_http import ArchiveServer, Route
from graders.instruments.netguard import NetGuard
from graders.sandbox import learner
from graders.sandbox.calls import Outcome

# A thread asks for the GIL back after this long: a switch at nearly every chance, so an unlocked
# read-modify-write is interleaved with another thread's whenever two of them run at once.
SWITCH_INTERVAL_S = 1e-6
# How long, in all, the harness waits for threads a call left running before it reads the balance.
JOIN_WAIT_S = 2.0


# Downloads ------------------------------------------------------------------------------------------


@dataclass
class FetchRun:
    outcome: Outcome  # the learner's fetch_all call
    urls: list[str] = field(default_factory=list)
    peak_in_flight: int = 0  # most requests the server was answering at once
    requests: int = 0
    network: list[str] = field(default_factory=list)  # attempts to reach the real network


def fetch_served(module, pages: list[tuple[str, bytes]], latency: float, workers: int) -> FetchRun:
    """``module.fetch_all(urls, workers)`` with ``pages`` (path, body) served on loopback after ``latency`` s each."""
    absent = learner.missing_function(module, "fetch_all")
    if absent is not None:
        return FetchRun(absent)
    routes = {path: Route(body, latency=latency) for path, body in pages}
    with ArchiveServer(routes) as server, NetGuard() as guard:
        urls = [server.url(path) for path, _ in pages]
        outcome = learner.call(lambda: module.fetch_all(list(urls), workers), learner.folder_of(module))
        requests = len(server.requests)
        peak = server.peak_in_flight
    return FetchRun(outcome, urls, peak, requests, guard.attempts)


# The reference thread pool ----------------------------------------------------------------------------


def thread_starmap(module, task: str, arg_tuples: list[tuple], workers: int) -> list:
    """The grader's own thread pool: ``task(*args)`` for every tuple, on ``workers`` threads, in order."""
    function = getattr(module, task)
    with ThreadPoolExecutor(workers) as executor:
        return list(executor.map(lambda args: function(*args), arg_tuples))


# Deposits ------------------------------------------------------------------------------------------


@dataclass
class DepositRound:
    outcome: Outcome  # the learner's run_deposits call (its value is dropped: it returns None)
    amounts: list[int] = field(default_factory=list)
    start_balance: int = 0
    # The balance when the call returned (or raised), and once every thread it started had ended.
    balance_at_return: object = None
    balance_final: object = None
    threads_started: int = 0  # threading.Thread.start calls made while the call ran
    threads_left: list[str] = field(default_factory=list)  # still running when it returned
    threads_unfinished: list[str] = field(default_factory=list)  # still running after JOIN_WAIT_S more
    # Exceptions that ended one of its threads unhandled ("Type: message"): printed, never raised.
    escaped: list[str] = field(default_factory=list)


@dataclass
class DepositRuns:
    rounds: list[DepositRound] = field(default_factory=list)
    switch_interval: float = SWITCH_INTERVAL_S


class _ThreadWatch:
    """While active: counts Thread.start calls and records exceptions that end a thread unhandled."""

    def __init__(self) -> None:
        self.started = 0
        self.escaped: list[str] = []
        self._lock = threading.Lock()

    def __enter__(self) -> "_ThreadWatch":
        watch = self
        self._start = threading.Thread.start
        self._hook = threading.excepthook

        def start(thread, *args, **kwargs):
            with watch._lock:
                watch.started += 1
            return watch._start(thread, *args, **kwargs)

        def hook(arguments):
            with watch._lock:
                watch.escaped.append(learner.one_line(arguments.exc_value) if arguments.exc_value is not None else str(arguments.exc_type))

        threading.Thread.start = start
        threading.excepthook = hook
        return self

    def __exit__(self, *exc_info) -> None:
        threading.Thread.start = self._start
        threading.excepthook = self._hook


def deposit_rounds(module, rounds: list[list[int]], workers: int, start_balance: int = 0) -> DepositRuns:
    """``module.run_deposits(account, amounts, workers)`` once per list of amounts, each on a fresh account."""
    absent = learner.missing_function(module, "run_deposits")
    if absent is not None:
        return DepositRuns([DepositRound(absent)])
    folder = learner.folder_of(module)
    results = []
    interval = sys.getswitchinterval()
    for amounts in rounds:
        account = Account(start_balance)
        before = set(threading.enumerate())
        with _ThreadWatch() as watch:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
            try:
                outcome = learner.call(lambda: module.run_deposits(account, list(amounts), workers), folder)
            finally:
                sys.setswitchinterval(interval)
            at_return = _plain(account._balance)
            left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
            deadline = time.monotonic() + JOIN_WAIT_S
            for thread in left:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
            unfinished = [t.name for t in left if t.is_alive()]
            escaped = list(watch.escaped)
        # run_deposits returns None; whatever else it returned is not the grader's to decode.
        outcome.value = None
        results.append(
            DepositRound(
                outcome,
                list(amounts),
                start_balance,
                at_return,
                _plain(account._balance),
                watch.started,
                [t.name for t in left],
                unfinished,
                escaped,
            )
        )
    return DepositRuns(results)


def _plain(balance):
    """A balance as data: a number stays one; anything else the learner stored is described."""
    if type(balance) in (int, float):
        return balance
    try:
        shown = repr(balance)[:80]
    except Exception:  # noqa: BLE001 - a learner's __repr__ may raise anything
        shown = "?"
    return f"a {type(balance).__name__}: {shown}"
