"""Running learner code inside the sandbox with mocked HTTP, no real network, and its async habits watched.

:func:`serve_and_call` is the sandbox side of every graded run of exercises 03 and 04: it serves
the given replies (graders.instruments.http_mock), keeps the real network out of reach (graders.instruments.netguard),
watches for blocking calls on the event loop (graders.instruments.blocking) and for ``asyncio.run`` inside a
running loop (graders.harnesses.asyncio_calls), calls the learner's function as a script or as a notebook
cell would, and returns everything the grader needs as one picklable :class:`ServedRun`. The
learner's exception, if any, is caught and classified like the sandbox's own, so a grader keeps
the measurements of a failed run too; an exception group (``asyncio.TaskGroup``) is unwrapped into
the exceptions it holds, so a grader judges what went wrong inside it.

With ``clock="virtual"`` the call runs on event loops with a virtual clock (graders.instruments.virtual_clock):
the mock's latencies take no real time and the exchanges' times are exact loop times.
"""
from __future__ import annotations

import asyncio
import builtins
import hashlib
import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from graders.harnesses import asyncio_calls
from graders.instruments import virtual_clock
from graders.instruments.blocking import BlockingCall, BlockingMonitor
from graders.sandbox import learner
from graders.sandbox.calls import Outcome
from graders.instruments.http_mock import Exchange, MockServer, Reply
from graders.instruments.netguard import NetGuard

STYLES = {"script": asyncio_calls.call_as_script, "notebook": asyncio_calls.call_in_notebook}


@dataclass
class RaisedError:
    """One exception the learner's call ended with (or one held in the exception group it raised)."""

    type: str
    message: str
    where: str = ""  # "file.py, line N" of the innermost frame in the learner's code
    http_error: bool = False  # an httpx.HTTPError: a failing URL's own error
    timeout: bool = False  # asyncio's or the builtin TimeoutError

    def describe(self) -> str:
        where = f" ({self.where})" if self.where else ""
        return f"{self.type}: {self.message}{where}".replace(": (", " (")


@dataclass
class ServedRun:
    outcome: Outcome  # the learner's call: its value, or what went wrong
    exchanges: list[Exchange] = field(default_factory=list)
    peak_in_flight: int = 0
    blocking: list[BlockingCall] = field(default_factory=list)
    network: list[str] = field(default_factory=list)  # attempts to reach the real network
    asyncio_run_misuse: str | None = None  # where asyncio.run was called inside a running loop
    raised: str = ""  # the full text of the exception the learner's code raised
    seconds: float = 0.0  # measured inside the sandbox, around the learner's call only
    files: dict[str, tuple[int, str]] = field(default_factory=dict)  # name -> (size, sha256), if asked for
    clients: int = 0  # client objects that sent requests
    # What the call raised, the exceptions inside an exception group one by one; [] if it returned.
    errors: list[RaisedError] = field(default_factory=list)
    group: bool = False  # the call raised an exception group (e.g. from asyncio.TaskGroup)

    @property
    def blocking_requests(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.blocking]


def serve_and_call(
    module, function: str, replies: dict[str, Reply], args=(), kwargs=None, style="script", clock="real"
) -> ServedRun:
    """Call ``module.function(*args, **kwargs)`` while ``replies`` are served."""
    folder = learner.folder_of(module)
    absent = learner.missing_function(module, function)
    if absent is not None:
        return ServedRun(absent)
    with ExitStack() as stack:
        guard = stack.enter_context(NetGuard())
        server = stack.enter_context(MockServer(replies, learner_folder=folder))
        monitor = stack.enter_context(BlockingMonitor(folder, modules=[module]))
        watch = stack.enter_context(asyncio_calls.RunWatch(folder, modules=[module]))
        if clock == "virtual":
            stack.enter_context(virtual_clock.virtual_loops())
        started = time.monotonic()
        raised, errors, group = "", [], False
        try:
            outcome = Outcome("ok", value=STYLES[style](getattr(module, function), *args, **(kwargs or {})))
        except BaseException as exc:  # noqa: BLE001 - whatever the learner's code raised is reported
            outcome = learner.classify(exc, folder)
            raised = f"{type(exc).__name__}: {exc}"
            errors, group = raised_errors(exc, folder), _is_group(exc)
        seconds = time.monotonic() - started
    return ServedRun(
        outcome=outcome,
        exchanges=server.exchanges,
        peak_in_flight=server.peak_in_flight,
        blocking=monitor.calls,
        network=guard.attempts,
        asyncio_run_misuse=watch.misuse,
        raised=raised,
        seconds=seconds,
        clients=server.clients,
        errors=errors,
        group=group,
    )


def download_into_folder(module, replies: dict[str, Reply], limit: int, style: str = "script", clock: str = "real") -> ServedRun:
    """Sandbox entry of exercise 03: ``download_all(urls, folder, limit)`` into a fresh folder.

    The run also lists the files left in the folder (name -> size and SHA-256).
    """
    folder = Path(tempfile.mkdtemp(prefix="downloads-", dir=os.getcwd()))
    served = serve_and_call(module, "download_all", replies, (list(replies), str(folder), limit), style=style, clock=clock)
    served.files = {
        path.name: (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in sorted(folder.iterdir())
        if path.is_file()
    }
    return served


def _is_group(exc: BaseException) -> bool:
    group = getattr(builtins, "BaseExceptionGroup", None)  # Python 3.11+
    return group is not None and isinstance(exc, group)


def raised_errors(exc: BaseException, folder: str) -> list[RaisedError]:
    """``exc`` as :class:`RaisedError` items: the exceptions an exception group holds, nested ones too."""
    if _is_group(exc):
        return [error for inner in exc.exceptions for error in raised_errors(inner, folder)]
    text = str(exc).strip().splitlines()
    return [
        RaisedError(
            type=type(exc).__name__,
            message=text[0] if text else "",
            where=learner.where(exc, folder),
            http_error=isinstance(exc, httpx.HTTPError),
            timeout=isinstance(exc, (TimeoutError, asyncio.TimeoutError)),
        )
    ]



