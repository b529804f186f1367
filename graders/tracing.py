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

The evidence is not that log, which any process could write: each traced process also sends its
lines over a connection of its own to a socket of the grading process (see ``_send``), and the
grader files what arrives under the pid the kernel reports for that connection (SO_PEERCRED,
:class:`graders.runner.TraceChannel`). The log only serves the rendezvous, and the grader reads it
only where no such socket can be made.
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
# This process's connection to the grader's trace channel, with the pid that opened it: a forked
# child inherits the object but must open a connection of its own.
_channel: tuple[int, object] | None = None


@dataclass(frozen=True)
class TraceSpec:
    module: str
    functions: tuple[str, ...]
    directory: str
    wait_s: float = 2.0
    # The address of the grading process's AF_UNIX trace channel; None where none could be made.
    channel: str | None = None

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
        task_id = f"{pid}-{id(args)}-{_clock()!r}"
        _record(self.spec, pid, f"S {task_id} {self.function} {_clock()!r}\n")
        try:
            _rendezvous(self.spec, pid)
            return original(*args, **kwargs)
        finally:
            _record(self.spec, pid, f"E {task_id} {self.function} {_clock()!r}\n")


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
    """The shared log, with the pid each line claims: what the rendezvous reads."""
    try:
        with open(os.path.join(directory, _LOG), encoding="ascii") as log:
            return parse_events(log.read().splitlines())
    except FileNotFoundError:
        return []


def parse_events(lines: list[str], pid: int | None = None) -> list[TraceEvent]:
    """Trace lines as events; ``pid``, when known, is the process that sent every one of them."""
    starts: dict[str, tuple[str, int, float]] = {}
    ends: dict[str, float] = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 4:
            continue
        kind, task_id, function, stamp = parts
        try:
            if kind == "S":
                starts[task_id] = (function, pid if pid is not None else int(task_id.split("-")[0]), float(stamp))
            elif kind == "E":
                ends[task_id] = float(stamp)
        except ValueError:
            continue
    return [
        TraceEvent(function, task_pid, start, ends.get(task_id))
        for task_id, (function, task_pid, start) in starts.items()
    ]


def _original(module_name: str, function: str):
    found = _ORIGINALS.get((module_name, function))
    if found is not None:
        return found
    candidate = getattr(importlib.import_module(module_name), function)
    if isinstance(candidate, TracedTask):
        raise RuntimeError(f"tracing lost the original {module_name}.{function}")
    return candidate


def _record(spec: TraceSpec, pid: int, line: str) -> None:
    _send(spec, pid, line)
    _append(spec.directory, line)


def _send(spec: TraceSpec, pid: int, line: str) -> None:
    global _channel
    if spec.channel is None:
        return
    if _channel is None or _channel[0] != pid:
        import socket

        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(spec.channel)
        except OSError:
            connection.close()
            return
        _channel = (pid, connection)
    try:
        _channel[1].sendall(line.encode("ascii"))
    except OSError:
        pass  # the grader stopped listening: the run is over


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
