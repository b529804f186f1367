"""Calling a learner's async code the two ways it is used: from a script, and from a notebook cell.

- As a script: the learner's function is called with no event loop running, and a coroutine it
  returns is run with ``asyncio.run`` (what ``if __name__ == "__main__":`` would do).
- As a notebook cell: the call is made from inside a running event loop, with other work of the
  "kernel" going on beside it, and a coroutine is awaited (top-level ``await`` in a cell). nbgrader
  runs notebooks in a Jupyter kernel, where a loop is always running and ``asyncio.run`` fails.

While learner code runs, ``asyncio.run`` is watched: a call made while a loop is already running in
that thread is recorded with its place in the learner's code, so the grader can say exactly what
went wrong even if the learner's code caught the ``RuntimeError``. The refused coroutine is closed,
so no "coroutine was never awaited" warning reaches a later notebook cell's output.

:func:`count_together_clocked` is the sandbox entry of exercise 03's warm-up: the learner's
``count_together`` awaited on a virtual clock, with the grader's own ``count``.
"""
from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass, field

from graders.instruments import virtual_clock
from graders.instruments.frames import learner_location, loop_running_here
from graders.sandbox import learner
from graders.sandbox.calls import Outcome
from graders.given import ex03

# RuntimeError texts of running an event loop inside a running one, in every supported Python.
NESTED_LOOP_ERRORS = (
    "cannot be called from a running event loop",
    "this event loop is already running",
    "cannot run the event loop while another loop is running",
)
_real_run = asyncio.run


class RunWatch:
    """While active, records ``asyncio.run`` calls made inside a running event loop (see :attr:`misuse`)."""

    def __init__(self, learner_folder: str | None, modules=()) -> None:
        self.learner_folder = learner_folder
        self.modules = list(modules)
        self.misuse: str | None = None  # where the first such call was made ("" if not in learner code)
        self._saved: list[tuple[object, str, object]] = []

    def __enter__(self) -> "RunWatch":
        watch = self

        def run(main, **kwargs):
            if loop_running_here():
                if watch.misuse is None:
                    watch.misuse = learner_location(watch.learner_folder)
                if inspect.iscoroutine(main):
                    main.close()
            return _real_run(main, **kwargs)

        targets = [(asyncio, "run"), (asyncio.runners, "run")]
        targets += [(m, name) for m in self.modules for name, value in vars(m).items() if value is _real_run]
        for owner, name in targets:
            self._saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, run)
        return self

    def __exit__(self, *exc_info) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()


def call_as_script(function, *args, **kwargs):
    """``function(*args, **kwargs)`` with no loop running; a coroutine it returns is run to completion."""
    result = function(*args, **kwargs)
    if inspect.isawaitable(result):
        result = _real_run(_awaited(result))
    return result


def call_in_notebook(function, *args, **kwargs):
    """``function(*args, **kwargs)`` from inside a running loop, as a notebook cell would call it."""

    async def cell():
        # The kernel has work of its own on the loop; a cell shares the loop with it.
        kernel = asyncio.ensure_future(_kernel_idle())
        try:
            result = function(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        finally:
            kernel.cancel()

    return _real_run(cell())


def is_nested_loop_error(text: str) -> bool:
    return any(marker in text.lower() for marker in NESTED_LOOP_ERRORS)


async def _awaited(awaitable):
    return await awaitable


async def _kernel_idle() -> None:
    while True:
        await asyncio.sleep(0.01)


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


def count_together_clocked(module, sleeps: dict[str, float]) -> ClockedRun:
    """Await ``module.count_together(sleeps, log)`` on a virtual clock, from inside the running loop.

    The module's ``count`` is the grader's own copy (graders.given.ex03) for the call.
    """
    absent = learner.missing_function(module, "count_together")
    if absent is not None:
        return ClockedRun(absent)
    folder = learner.folder_of(module)
    module.count = ex03.count
    log = _StampedLog()

    async def cell():
        result = module.count_together(sleeps, log)
        return await result if inspect.isawaitable(result) else result

    started = time.monotonic()
    with RunWatch(folder, modules=[module]) as watch:
        clocked = learner.call(lambda: virtual_clock.run(cell), folder)
    outcome, loop_seconds = clocked, 0.0
    if clocked.ok:
        value, loop_seconds = clocked.value
        outcome = Outcome(clocked.status, value=value)
    return ClockedRun(outcome, list(zip(log, log.times)), loop_seconds, time.monotonic() - started, watch.misuse)


