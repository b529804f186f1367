"""What the grading process asks a sandbox to run, and what comes back.

Shared by both sides of the sandbox, so it imports nothing heavy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A function name that contains ":" names a grader-owned helper ("package.module:function"), which is
# called with the learner's module as its first argument; any other name is looked up in that module.
HELPER_SEPARATOR = ":"


@dataclass
class Call:
    function: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""

    def describe(self) -> str:
        return self.label or f"{self.function}(...)"


@dataclass
class Request:
    target_dir: str
    module: str
    calls: list[Call]
    sys_path: list[str]
    start_method: str | None = None
    trace_spec_json: str | None = None
    keep_args: bool = False
    confinement: Any = None  # graders.sandbox.confine.Confinement, applied by the sandbox to itself first


@dataclass
class Outcome:
    """One call's result. ``status`` is "ok" or the name of what went wrong."""

    status: str
    value: Any = None
    error: str = ""
    where: str = ""
    args_after: tuple | None = None
    leftovers: list[str] = field(default_factory=list)
    seconds: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# The statuses an outcome can have, beyond "ok".
MISSING_MODULE = "missing_module"
IMPORT_ERROR = "import_error"
MISSING_FUNCTION = "missing_function"
NOT_IMPLEMENTED = "not_implemented"
UNPICKLABLE = "unpicklable"
WORKER_ERROR = "worker_error"
BROKEN_POOL = "broken_pool"
ERROR = "error"
BAD_RETURN = "bad_return"
# A map, filter, generator...: an iterator whose values were never computed.
LAZY_RETURN = "lazy_return"
TIMEOUT = "timeout"
CRASHED = "crashed"
NOT_RUN = "not_run"
TAMPERED = "tampered"
WROTE_OUTSIDE = "wrote_outside"

# The hint for a check that failed because of how the learner's call ended, whatever the check is
# about: a crash or a missing function is answered with what to do about it, not with advice on the
# check's topic (one cause, one hint).
STATUS_HINTS = {
    MISSING_MODULE: "Keep the exercise's files and their names: the grader imports each module by the name the exercise gives.",
    IMPORT_ERROR: "The module fails before any function runs: run `python <module>.py` to see the error, and keep work at import time to definitions.",
    MISSING_FUNCTION: "Keep each function's name and parameters as the exercise gives them; the grader calls them by name.",
    NOT_IMPLEMENTED: "This function still raises NotImplementedError: replace the TODO with your code.",
    UNPICKLABLE: "Worker processes receive the task function by name: define it at module level (no lambda, no function inside a function) and pass only picklable arguments.",
    WORKER_ERROR: "The error happened inside a worker process: call the task function yourself on one input to see it.",
    BROKEN_POOL: "A worker process died while working (a crash, os._exit, or too much memory): run the task function on one input outside the pool.",
    ERROR: "Your function raised an exception: call it yourself on a small input and read the traceback.",
    BAD_RETURN: "Return plain data (numbers, strings, lists, dicts, numpy arrays, DataFrames), not objects the grader cannot rebuild.",
    LAZY_RETURN: "map(), filter() and generators are lazy: wrap the result in list(...) before returning it.",
    TIMEOUT: "Look for an endless loop, a pool or executor that is never closed, or workers waiting on each other.",
    CRASHED: "The process running your code died: look for os._exit, sys.exit, a fork bomb or a huge allocation.",
    NOT_RUN: "An earlier call in the same check failed: fix that one first.",
    TAMPERED: "Do not replace time, os, multiprocessing or the grader's helpers: graded code is measured as it is.",
    WROTE_OUTSIDE: "Write only in the working folder, the temporary folder or your home: the submission folder and the grader are read-only to graded code.",
}
