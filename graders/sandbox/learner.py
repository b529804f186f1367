"""Calling the learner's code, inside the sandbox, and saying how each call ended.

One place for it, used by the sandbox's own call loop and by every harness that calls the learner's
functions itself (graders.harnesses): a missing function, an exception, a worker that raised or died,
an unpicklable task and a lazy iterator are reported as the same :class:`~graders.sandbox.calls.Outcome`
whichever code made the call, so the grader's message and hint for them are the same everywhere.
"""
from __future__ import annotations

import collections.abc
import errno
import inspect
import os
import re
import traceback
from typing import Callable

from graders.sandbox.calls import Outcome, Status


def public_functions(module) -> list[str]:
    """The functions ``module`` defines itself, without the private ones: what the learner wrote."""
    name = getattr(module, "__name__", None)
    return sorted(
        attribute
        for attribute, value in vars(module).items()
        if inspect.isfunction(value) and not attribute.startswith("_") and (name is None or value.__module__ == name)
    )


def missing_function(module, name: str) -> Outcome | None:
    """MISSING_FUNCTION when ``module`` has no callable ``name``; None when it has one."""
    if callable(getattr(module, name, None)):
        return None
    return Outcome(Status.MISSING_FUNCTION, missing=name, found=public_functions(module))


def function_of(module, name: str) -> Callable | Outcome:
    """The learner's function ``name``, or the MISSING_FUNCTION outcome that says it is not there."""
    return missing_function(module, name) or getattr(module, name)


def folder_of(module) -> str:
    """The learner's folder: the one holding ``module``'s file."""
    return os.path.dirname(os.path.abspath(module.__file__))


def call(thunk: Callable[[], object], folder: str) -> Outcome:
    """Run ``thunk`` (a call of the learner's code, whose files are in ``folder``) and report its end."""
    try:
        value = thunk()
    except BaseException as exc:  # noqa: BLE001 - whatever the learner's code raised is reported
        return classify(exc, folder)
    return returned(value)


def returned(value) -> Outcome:
    """The outcome of a call that returned ``value``: LAZY_RETURN for an iterator nobody consumed."""
    if isinstance(value, collections.abc.Iterator):
        return Outcome(Status.LAZY_RETURN, returned=type(value).__name__)
    return Outcome(Status.OK, value=value)


def classify(exc: BaseException, folder: str) -> Outcome:
    """The outcome of a call of the learner's code (files in ``folder``) that raised ``exc``."""
    outcome = _classified(exc, folder)
    outcome.raised = type(exc).__name__
    return outcome


def _classified(exc: BaseException, folder: str) -> Outcome:
    chain = _chain(exc)
    refused = next((e for e in chain if isinstance(e, OSError) and e.errno == errno.EROFS), None)
    if refused is not None:
        # The kernel refused a write outside the sandbox's own folders: the grader names the place.
        return Outcome(Status.WROTE_OUTSIDE, place=str(refused.filename or ""), where=where(exc, folder))
    texts = " | ".join(f"{type(e).__name__}: {e}" for e in chain)
    remote = next((e for e in chain if type(e).__name__ in ("RemoteTraceback", "_RemoteTraceback")), None)
    place = where(exc, folder)
    if type(exc).__name__ == "BrokenProcessPool":
        return Outcome(Status.BROKEN_POOL, error=one_line(exc), where=place)
    if ("pickle" in texts.lower() or "Can't get local object" in texts) and remote is None:
        return Outcome(Status.UNPICKLABLE, error=one_line(exc), where=place)
    if remote is not None:
        return Outcome(Status.WORKER_ERROR, error=one_line(exc), where=_where_in_text(str(remote), folder))
    if isinstance(exc, NotImplementedError):
        return Outcome(Status.NOT_IMPLEMENTED, error=one_line(exc), where=place)
    return Outcome(Status.ERROR, error=one_line(exc), where=place)


def one_line(exc: BaseException) -> str:
    """``exc`` as "Type: first line of its message"."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def where(exc: BaseException, folder: str) -> str:
    """The innermost line of the learner's files in ``exc``'s traceback, as "module.py, line N"."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{os.path.basename(exc.filename)}, line {exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _inside(f.filename, folder)]
    if not frames:
        return ""
    last = frames[-1]
    return f"{os.path.basename(last.filename)}, line {last.lineno}"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _where_in_text(text: str, folder: str) -> str:
    found = [(path, line) for path, line in re.findall(r'File "([^"]+)", line (\d+)', text) if _inside(path, folder)]
    if not found:
        return ""
    path, line = found[-1]
    return f"{os.path.basename(path)}, line {line}"


def _inside(path: str, directory: str) -> bool:
    try:
        real = os.path.realpath(directory)
        return os.path.commonpath([os.path.realpath(path), real]) == real
    except ValueError:
        return False
