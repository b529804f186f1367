"""Sandbox-side entry points of the graders of exercises 03 (asyncio) and 04 (pipeline).

Each is called inside the sandbox with the learner's module first (see graders.calls) and returns
plain data for the grader: the learner's outcome and what the run showed.
"""
from __future__ import annotations

import asyncio
import hashlib
import inspect
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from graders import asyncio_harness, tracing, virtual_clock
from graders.calls import MISSING_FUNCTION, Outcome
from graders.http_harness import ServedRun, serve_and_call
from graders.http_mock import Reply


@dataclass
class ClockedRun:
    """A learner coroutine run on a virtual clock."""

    outcome: Outcome
    log: list[tuple[object, float]] = field(default_factory=list)  # (entry, loop time it was appended)
    loop_seconds: float = 0.0
    real_seconds: float = 0.0
    asyncio_run_misuse: str | None = None


class _StampedLog(list):
    """A list that remembers the event-loop time of each append."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item) -> None:
        super().append(item)
        self.times.append(asyncio.get_running_loop().time())


def count_together(module, sleeps: dict[str, float]) -> ClockedRun:
    """Await ``module.count_together(sleeps, log)`` on a virtual clock, from inside the running loop."""
    if not callable(getattr(module, "count_together", None)):
        return ClockedRun(Outcome(MISSING_FUNCTION, error="count_together is missing"))
    folder = os.path.dirname(os.path.abspath(module.__file__))
    log = _StampedLog()

    async def cell():
        result = module.count_together(sleeps, log)
        return await result if inspect.isawaitable(result) else result

    started = time.monotonic()
    with asyncio_harness.RunWatch(folder, modules=[module]) as watch:
        try:
            value, loop_seconds = virtual_clock.run(cell)
            outcome = Outcome("ok", value=value)
        except BaseException as exc:  # noqa: BLE001 - reported to the learner
            from graders.sandbox import classify

            outcome, loop_seconds = classify(exc, folder), 0.0
    return ClockedRun(outcome, list(zip(log, log.times)), loop_seconds, time.monotonic() - started, watch.misuse)


def download_images(module, replies: dict[str, Reply], limit: int, style: str = "script") -> ServedRun:
    """``download_all(urls, folder, limit)`` into a fresh folder; the run lists the files left there."""
    folder = Path(tempfile.mkdtemp(prefix="downloads-", dir=os.getcwd()))
    served = serve_and_call(module, "download_all", replies, (list(replies), str(folder), limit), style=style)
    served.files = {
        path.name: (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in sorted(folder.iterdir())
        if path.is_file()
    }
    return served


def archive_replies(archives: list[tuple[str, bytes, float]], held: str | None = None) -> dict[str, Reply]:
    """Each archive served after its latency; ``held`` (a URL) only until a traced task has started."""
    return {
        url: Reply(data, latency=latency, ready=_processing_started if url == held else None)
        for url, data, latency in archives
    }


def run_pipeline(module, archives: list[tuple[str, bytes, float]], processes: int, held: str | None = None) -> ServedRun:
    """``run_pipeline(urls, processes)`` with each archive served after its own latency.

    The ``held`` archive is held back, up to its latency, until processing of another archive has
    begun: pipelines that process archives as they arrive are never kept waiting for it, while
    one that waits for every download before processing waits out the whole latency first.
    """
    replies = archive_replies(archives, held)
    return serve_and_call(module, "run_pipeline", replies, (list(replies), processes))


def _processing_started() -> bool:
    spec = os.environ.get(tracing.SPEC_ENV)
    return bool(spec) and bool(tracing.read_events(tracing.TraceSpec.from_json(spec).directory))
