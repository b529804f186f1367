"""The trace's wire format, shared by both sides: what the sandbox is told to trace, and what the
grading process records of each traced call.

Kept apart from :mod:`graders.sandbox.tracing` (which patches the learner's module inside the sandbox)
so the grading side reads trace events without importing the patcher.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

SPEC_ENV = "GRADERS_TRACE_SPEC"
# What the channel answers to each line a traced call sends.
ACK = b"."
# A traced call waits at most this long for an acknowledgement: the channel holds a start for its
# rendezvous (seconds), so only a grader that stopped listening ever makes it run out.
ACK_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class TraceSpec:
    module: str
    functions: tuple[str, ...]
    # The filesystem path of the grading process's AF_UNIX trace channel; None where none exists
    # (the calls then run untraced, and the grader has no evidence).
    channel: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "TraceSpec":
        data = json.loads(text)
        return cls(str(data["module"]), tuple(data["functions"]), data.get("channel"))


@dataclass(frozen=True)
class TraceEvent:
    """One traced call, as the grading process saw it: its clock and its arrival order."""

    function: str
    pid: int
    start: float
    end: float | None
    # Arrival numbers of the start and end lines: exact order, no ties.
    start_seq: int = 0
    end_seq: int | None = None
