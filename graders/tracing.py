"""Tracing the learner's task functions wherever they run: which process, from when to when.

The grader replaces a task function (say ``build_word``) in the learner's module with a
:class:`TracedTask`. Each call appends a start and an end line to a shared log and, before working,
waits until it sees a task of *another* process in flight (the rendezvous). With the rendezvous even
tiny tasks reveal whether two processes can run them at once; serial code pays the wait once,
because the first task that gives up tells every later one not to wait.

The replacement must reach every worker, whatever the start method:
- fork: workers inherit the patched module;
- spawn and forkserver: workers re-import the learner's module, so the sandbox's main module
  re-installs the tracing when it is imported as ``__mp_main__`` in each worker (see
  :mod:`graders.sandbox`), reading the spec from the environment variable below.

The pids in the log are checked against the pids the kernel reported for connections to the
grader's registry socket (see ``_register``), so a log written by hand does not count.
"""
from __future__ import annotations

import importlib
import json
import os
import time
from dataclasses import asdict, dataclass

SPEC_ENV = "GRADERS_TRACE_SPEC"
_LOG = "events.log"
_OVERLAP_SEEN = "overlap-seen"
_GAVE_UP = "gave-up"
_POLL_S = 0.001

# (module, function) -> the learner's own function, in every process where tracing was installed.
_ORIGINALS: dict[tuple[str, str], object] = {}
# Taken before any learner module is imported, so patching time or os later changes no record.
_clock = time.monotonic
_getpid = os.getpid
_registered_pid: int | None = None


@dataclass(frozen=True)
class TraceSpec:
    module: str
    functions: tuple[str, ...]
    directory: str
    wait_s: float = 2.0
    # An AF_UNIX socket of the grading process: each traced process connects once, and the kernel
    # tells the grader its real pid (SO_PEERCRED), which no learner code can fake.
    registry: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "TraceSpec":
        data = json.loads(text)
        data["functions"] = tuple(data["functions"])
        return cls(**data)


@dataclass(frozen=True)
class TraceEvent:
    function: str
    pid: int
    start: float
    end: float | None


class TracedTask:
    """A picklable stand-in for one learner task function."""

    def __init__(self, spec: TraceSpec, function: str):
        self.spec = spec
        self.function = function
        self.__name__ = function
        self.__qualname__ = function
        self.__module__ = spec.module

    def __repr__(self) -> str:
        return f"<traced {self.spec.module}.{self.function}>"

    def __call__(self, *args, **kwargs):
        original = _original(self.spec.module, self.function)
        pid = _getpid()
        _register(self.spec, pid)
        task_id = f"{pid}-{id(args)}-{_clock()!r}"
        _append(self.spec.directory, f"S {task_id} {self.function} {_clock()!r}\n")
        try:
            _rendezvous(self.spec, pid)
            return original(*args, **kwargs)
        finally:
            _append(self.spec.directory, f"E {task_id} {self.function} {_clock()!r}\n")


def install(spec: TraceSpec) -> None:
    """Replace the spec's functions in its module (importing it) with traced stand-ins."""
    module = importlib.import_module(spec.module)
    for name in spec.functions:
        current = getattr(module, name, None)
        if current is None or isinstance(current, TracedTask):
            continue
        _ORIGINALS[(spec.module, name)] = current
        setattr(module, name, TracedTask(spec, name))


def install_from_environment() -> None:
    text = os.environ.get(SPEC_ENV)
    if text:
        try:
            install(TraceSpec.from_json(text))
        except Exception:  # noqa: BLE001 - a broken learner module is reported by the call itself
            pass


def read_events(directory: str) -> list[TraceEvent]:
    starts: dict[str, tuple[str, int, float]] = {}
    ends: dict[str, float] = {}
    try:
        with open(os.path.join(directory, _LOG), encoding="ascii") as log:
            lines = log.read().splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) != 4:
            continue
        kind, task_id, function, stamp = parts
        if kind == "S":
            starts[task_id] = (function, int(task_id.split("-")[0]), float(stamp))
        elif kind == "E":
            ends[task_id] = float(stamp)
    return [
        TraceEvent(function, pid, start, ends.get(task_id))
        for task_id, (function, pid, start) in starts.items()
    ]


def _original(module_name: str, function: str):
    found = _ORIGINALS.get((module_name, function))
    if found is not None:
        return found
    candidate = getattr(importlib.import_module(module_name), function)
    if isinstance(candidate, TracedTask):
        raise RuntimeError(f"tracing lost the original {module_name}.{function}")
    return candidate


def _register(spec: TraceSpec, pid: int) -> None:
    global _registered_pid
    if spec.registry is None or _registered_pid == pid:
        return
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        try:
            connection.connect(spec.registry)
        except OSError:
            return
    _registered_pid = pid


def _append(directory: str, line: str) -> None:
    fd = os.open(os.path.join(directory, _LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("ascii"))
    finally:
        os.close(fd)


def _rendezvous(spec: TraceSpec, pid: int) -> None:
    seen = os.path.join(spec.directory, _OVERLAP_SEEN)
    gave_up = os.path.join(spec.directory, _GAVE_UP)
    deadline = _clock() + spec.wait_s
    while True:
        if os.path.exists(seen) or os.path.exists(gave_up):
            return
        if any(e.pid != pid and e.end is None for e in read_events(spec.directory)):
            _touch(seen)
            return
        if _clock() >= deadline:
            _touch(gave_up)
            return
        time.sleep(_POLL_S)


def _touch(path: str) -> None:
    with open(path, "a", encoding="ascii"):
        pass
