"""Where a watched call came from: the thread's event loop, and the learner's line in the stack.

Shared by the instruments that watch learner code from inside it (the blocking monitor, the HTTP
mock, the asyncio harness), which each report "file.py, line N" in the learner's own terms.
"""
from __future__ import annotations

import asyncio
import os
import sys
import time

# Taken before any patching, for grader-owned code that must really sleep (the mock server's
# blocking path) without being reported.
real_sleep = time.sleep


def loop_running_here() -> bool:
    """Whether this thread is inside a running event loop (so a blocking call would stall it)."""
    return asyncio._get_running_loop() is not None


def learner_location(folder: str | None) -> str:
    """The innermost frame of the current stack that lies in ``folder``, as "file.py, line N"."""
    if not folder:
        return ""
    folder = os.path.realpath(folder)
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.realpath(frame.f_code.co_filename)
        if os.path.dirname(path) == folder:
            return f"{os.path.basename(path)}, line {frame.f_lineno}"
        frame = frame.f_back
    return ""
