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
"""
from __future__ import annotations

import asyncio
import inspect

from graders.blocking import learner_location, loop_running_here

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
