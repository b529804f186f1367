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
    limits: Any = None  # graders.limits.Limits, applied by the sandbox to itself first


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
