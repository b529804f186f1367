"""What the grading process asks a sandbox to run, and what comes back.

Shared by both sides of the sandbox, so it imports nothing heavy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable


@dataclass
class Call:
    """One call the sandbox makes: the learner's function by name, or a grader helper by object.

    A helper (a module-level function of graders.harnesses) is called with the learner's module first,
    then ``args``; it travels to the sandbox by reference, so a rename fails where the grader names it.
    """

    function: str | Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""

    @property
    def is_helper(self) -> bool:
        return callable(self.function)

    def __getstate__(self) -> dict:
        # A helper travels as its module and name and is looked up again on arrival, so the sandbox
        # gets the helper as its module defines it, whatever copy of the module the caller holds.
        state = dict(self.__dict__)
        if callable(self.function):
            state["function"] = ("helper", self.function.__module__, self.function.__qualname__)
        return state

    def __setstate__(self, state: dict) -> None:
        function = state["function"]
        if isinstance(function, tuple) and function[:1] == ("helper",):
            import importlib

            state["function"] = getattr(importlib.import_module(function[1]), function[2])
        self.__dict__.update(state)

    def describe(self) -> str:
        if self.label:
            return self.label
        return f"{getattr(self.function, '__name__', self.function)}(...)"


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


class Status(str, Enum):
    """How a call ended: OK, or what went wrong (each has its hint in STATUS_HINTS)."""

    OK = "ok"
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

    # Read as the plain word in messages and reports, on every Python version.
    __str__ = str.__str__
    __format__ = str.__format__


@dataclass
class Outcome:
    """One call's result: its status, and each thing known about it in a field of its own."""

    status: Status
    value: Any = None
    # The exception, on one line ("ValueError: bad input"), or why the value could not be sent back;
    # for CRASHED how the process ended, for TAMPERED the objects that were replaced.
    error: str = ""
    # The type of the exception the learner's code raised ("ZeroDivisionError"), when it raised one.
    raised: str = ""
    # Where in the learner's files it happened: "module.py, line N".
    where: str = ""
    # MISSING_MODULE: the file looked for; MISSING_FUNCTION: the function's name.
    missing: str = ""
    # MISSING_FUNCTION: the public functions the module does have.
    found: list[str] = field(default_factory=list)
    # LAZY_RETURN: the kind of iterator returned ("map", "generator"...).
    returned: str = ""
    # WROTE_OUTSIDE: the place written to, named for the learner.
    place: str = ""
    # TIMEOUT: the deadline that ran out, in seconds.
    deadline_s: float | None = None
    args_after: tuple | None = None
    leftovers: list[str] = field(default_factory=list)
    seconds: float | None = None

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


OK = Status.OK
MISSING_MODULE = Status.MISSING_MODULE
IMPORT_ERROR = Status.IMPORT_ERROR
MISSING_FUNCTION = Status.MISSING_FUNCTION
NOT_IMPLEMENTED = Status.NOT_IMPLEMENTED
UNPICKLABLE = Status.UNPICKLABLE
WORKER_ERROR = Status.WORKER_ERROR
BROKEN_POOL = Status.BROKEN_POOL
ERROR = Status.ERROR
BAD_RETURN = Status.BAD_RETURN
LAZY_RETURN = Status.LAZY_RETURN
TIMEOUT = Status.TIMEOUT
CRASHED = Status.CRASHED
NOT_RUN = Status.NOT_RUN
TAMPERED = Status.TAMPERED
WROTE_OUTSIDE = Status.WROTE_OUTSIDE

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
