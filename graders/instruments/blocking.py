"""Spotting blocking calls made from async code, and where in the learner's files they were made.

A call blocks the event loop when it runs in a thread whose event loop is running: nothing else on
that loop moves until it returns. ``time.sleep`` and a built-in ``open()`` for writing are watched
here (the blocking ``httpx.Client`` is watched by graders.instruments.http_mock, which serves its requests).
The same calls made from a worker thread (``asyncio.to_thread``, ``run_in_executor``, aiofiles)
do not block the loop and are not reported as blocking.

An event-loop lag monitor would miss short blocking writes; wrapping the calls themselves does not.
"""
from __future__ import annotations

import builtins
import io
import os
import sys
import threading
import time
from dataclasses import dataclass

from graders.instruments.frames import learner_location, loop_running_here, real_sleep
from graders.instruments.patching import Patches

@dataclass(frozen=True)
class BlockingCall:
    kind: str  # "sleep" or "open"
    detail: str
    where: str  # "file.py, line N" in the learner's code, or ""
    thread: str


class BlockingMonitor(Patches):
    """While active, records ``time.sleep`` and ``open(..., "w")`` calls made on a running event loop.

    The calls still happen (the code behaves as it would without the grader); the grader reads
    :attr:`calls` afterwards. ``modules`` are learner modules whose own names for the watched
    functions (``from time import sleep``) are patched too.
    """

    def __init__(self, learner_folder: str | None, modules=()) -> None:
        self.learner_folder = learner_folder
        self.modules = list(modules)
        self.calls: list[BlockingCall] = []
        super().__init__()

    def __enter__(self) -> "BlockingMonitor":
        monitor = self
        real_open = io.open

        def sleep(seconds):
            if loop_running_here():
                monitor._record("sleep", f"time.sleep({seconds!r})")
            return real_sleep(seconds)

        def watched_open(file, mode="r", *args, **kwargs):
            # Open file descriptors are left alone: multiprocessing writes to its pipes that way.
            named = isinstance(file, (str, bytes, os.PathLike))
            if named and isinstance(mode, str) and any(flag in mode for flag in "wax+") and loop_running_here():
                monitor._record("open", f"open({os.path.basename(os.fsdecode(file))!r}, {mode!r})")
            return real_open(file, mode, *args, **kwargs)

        self._replace(time, "sleep", sleep)
        self._replace(builtins, "open", watched_open)
        self._replace(io, "open", watched_open)
        # Python 3.10's pathlib opens files through an accessor that kept its own io.open.
        accessor = getattr(sys.modules.get("pathlib"), "_NormalAccessor", None)
        if accessor is not None and "open" in vars(accessor):
            self._replace(accessor, "open", staticmethod(watched_open))
        for module in self.modules:
            for name, value in list(vars(module).items()):
                if value is real_sleep:
                    self._replace(module, name, sleep)
        return self

    def _record(self, kind: str, detail: str) -> None:
        self.calls.append(
            BlockingCall(kind, detail, learner_location(self.learner_folder), threading.current_thread().name)
        )
