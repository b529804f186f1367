"""Tracing the learner's task functions wherever they run: which process, from when to when.

The grader replaces a task function (say ``build_word``) in the learner's module with a
:class:`TracedTask`. Each call reports ``S <task_id> <function>`` before it works and
``E <task_id>`` when it is done, over a connection of its own (one per process and thread) to the
grading process's trace channel (:mod:`graders.sandbox.trace_channel`), and waits for the channel's
one-byte acknowledgement after each. The grading process stamps every line on arrival with its own
clock and files it under the pid the kernel reports for the connection: nothing the traced process
says about time or identity is believed. The rendezvous is the channel's too: it holds the
acknowledgement of a start until enough processes are working at once (or until its wait ran out
once), so even tiny tasks reveal whether two processes can run them at the same time.

The replacement must reach every worker, whatever the start method:
- fork: workers inherit the patched module;
- spawn and forkserver: workers re-import the learner's module, so the sandbox's main module
  re-installs the tracing when it is imported as ``__mp_main__`` in each worker (see
  :mod:`graders.sandbox.child`), reading the spec from the environment variable below.
"""
from __future__ import annotations

import importlib
import itertools
import os
import socket
import threading
import types

from graders.sandbox.trace_format import ACK_TIMEOUT_S, SPEC_ENV, TraceSpec

# (module, function) -> the learner's own function, in every process where tracing was installed.
_ORIGINALS: dict[tuple[str, str], object] = {}
# Taken before any learner module is imported, so patching os later changes nothing here.
_getpid = os.getpid
_socket_class = socket.socket
# This thread's connection to the grader's trace channel, with the pid that opened it: a forked
# child inherits the object but must open a connection of its own.
_local = threading.local()
_task_ids = itertools.count(1)


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
        connection = _connection(self.spec)
        task_id = next(_task_ids)
        _exchange(connection, f"S {task_id} {self.function}\n")
        try:
            return original(*args, **kwargs)
        finally:
            _exchange(connection, f"E {task_id}\n")


# The name, in the learner module's globals, of the table the re-pointed functions call through.
_TABLE = "__graders_traced__"


def install(spec: TraceSpec) -> None:
    """Replace the spec's functions in its module (importing it) with traced stand-ins.

    The module attribute becomes a :class:`TracedTask`; and the function object itself is
    re-pointed at the traced stand-in (its code replaced by a call through the module's table), so
    a reference the learner's module took before the grader installed the tracing (``_fast =
    build_word``, a ``functools.partial``, a default argument) is traced too.
    """
    module = importlib.import_module(spec.module)
    for name in spec.functions:
        current = getattr(module, name, None)
        if current is None or isinstance(current, TracedTask):
            continue
        traced = TracedTask(spec, name)
        _ORIGINALS[(spec.module, name)] = _repoint(module, name, current, traced)
        setattr(module, name, traced)


def _repoint(module, name: str, function, traced: TracedTask):
    """A copy of ``function`` that runs its own code; ``function`` itself then calls ``traced``.

    The re-pointed function is also published in the module under an alias that pickle finds it
    by, so a reference taken before the tracing can still be sent to a worker process.
    """
    if (
        not isinstance(function, types.FunctionType)
        or function.__closure__
        or function.__globals__ is not vars(module)
        or not name.isidentifier()
    ):
        return function
    copy = types.FunctionType(
        function.__code__, function.__globals__, function.__name__, function.__defaults__, function.__closure__
    )
    copy.__kwdefaults__ = function.__kwdefaults__
    copy.__qualname__ = function.__qualname__
    namespace: dict = {}
    exec(f"def {name}(*args, **kwargs):\n    return {_TABLE}[{name!r}](*args, **kwargs)\n", namespace)  # noqa: S102
    function.__globals__.setdefault(_TABLE, {})[name] = traced
    try:
        function.__code__ = namespace[name].__code__
    except (ValueError, TypeError):
        return function
    alias = f"__graders_repointed_{name}"
    function.__qualname__ = alias
    setattr(module, alias, function)
    return copy


def install_from_environment() -> None:
    text = os.environ.get(SPEC_ENV)
    if text:
        try:
            install(TraceSpec.from_json(text))
        except Exception:  # noqa: BLE001 - a broken learner module is reported by the call itself
            pass


def spec_from_environment() -> TraceSpec | None:
    text = os.environ.get(SPEC_ENV)
    try:
        return TraceSpec.from_json(text) if text else None
    except (ValueError, KeyError, TypeError):
        return None


def task_started() -> bool:
    """Whether the grading process has stamped the start of any traced call in this run.

    For grader-owned helpers inside the sandbox (e.g. a mocked server that holds a reply back until
    processing has begun). False where there is no channel.
    """
    spec = spec_from_environment()
    if spec is None or spec.channel is None:
        return False
    return _exchange(_connection(spec), "Q\n") == b"1"


def _original(module_name: str, function: str):
    found = _ORIGINALS.get((module_name, function))
    if found is not None:
        return found
    candidate = getattr(importlib.import_module(module_name), function)
    if isinstance(candidate, TracedTask):
        raise RuntimeError(f"tracing lost the original {module_name}.{function}")
    return candidate


def _connection(spec: TraceSpec):
    """This thread's connection to the channel (opened on first use), or None without one."""
    if spec.channel is None:
        return None
    pid = _getpid()
    mine = getattr(_local, "channel", None)
    if mine is not None and mine[0] == pid:
        return mine[1]
    connection = _socket_class(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(ACK_TIMEOUT_S)
        connection.connect(spec.channel)
    except OSError:
        connection.close()
        connection = None
    _local.channel = (pid, connection)
    return connection


def _exchange(connection, line: str) -> bytes:
    """Send one line and wait for the channel's answer; b"" when the channel is gone."""
    if connection is None:
        return b""
    try:
        connection.sendall(line.encode("ascii"))
        return connection.recv(1)
    except OSError:
        # The grader stopped listening (the run is over) or never answered: later lines on this
        # connection could not be matched with their answers, so it is not used again.
        connection.close()
        return b""


# The module-level functions of this module that learner code must not replace: the sandbox
# compares each with its original after every call.
PROTECTED_NAMES = (
    "install",
    "_repoint",
    "install_from_environment",
    "spec_from_environment",
    "task_started",
    "_original",
    "_connection",
    "_exchange",
    "_getpid",
    "_socket_class",
)

