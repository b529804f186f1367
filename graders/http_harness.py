"""Running learner code inside the sandbox with mocked HTTP, no real network, and its async habits watched.

:func:`serve_and_call` is the sandbox side of every graded run of exercises 03 and 04: it serves
the given replies (graders.http_mock), keeps the real network out of reach (graders.netguard),
watches for blocking calls on the event loop (graders.blocking) and for ``asyncio.run`` inside a
running loop (graders.asyncio_harness), calls the learner's function as a script or as a notebook
cell would, and returns everything the grader needs as one picklable :class:`ServedRun`. The
learner's exception, if any, is caught and classified like the sandbox's own, so a grader keeps
the measurements of a failed run too.
"""
from __future__ import annotations

import os
import time
from contextlib import ExitStack
from dataclasses import dataclass, field

from graders import asyncio_harness
from graders.blocking import BlockingCall, BlockingMonitor
from graders.calls import MISSING_FUNCTION, Outcome
from graders.http_mock import Exchange, MockServer, Reply
from graders.netguard import NetGuard

STYLES = {"script": asyncio_harness.call_as_script, "notebook": asyncio_harness.call_in_notebook}


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

    @property
    def blocking_requests(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.blocking]


def serve_and_call(module, function: str, replies: dict[str, Reply], args=(), kwargs=None, style="script") -> ServedRun:
    """Call ``module.function(*args, **kwargs)`` while ``replies`` are served."""
    folder = os.path.dirname(os.path.abspath(module.__file__))
    if not callable(getattr(module, function, None)):
        return ServedRun(Outcome(MISSING_FUNCTION, error=", ".join(_functions_of(module))))
    with ExitStack() as stack:
        guard = stack.enter_context(NetGuard())
        server = stack.enter_context(MockServer(replies, learner_folder=folder))
        monitor = stack.enter_context(BlockingMonitor(folder, modules=[module]))
        watch = stack.enter_context(asyncio_harness.RunWatch(folder, modules=[module]))
        started = time.monotonic()
        raised = ""
        try:
            value = STYLES[style](getattr(module, function), *args, **(kwargs or {}))
            outcome = Outcome("ok", value=value)
        except BaseException as exc:  # noqa: BLE001 - whatever the learner's code raised is reported
            from graders.sandbox import classify

            outcome = classify(exc, folder)
            raised = f"{type(exc).__name__}: {exc}"
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
    )


def _functions_of(module) -> list[str]:
    return sorted(
        name for name, value in vars(module).items()
        if callable(value) and not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    )
