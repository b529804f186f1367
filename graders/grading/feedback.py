"""Failure messages in the learner's terms: what was called, what came back, what was expected."""
from __future__ import annotations

import reprlib
from typing import NoReturn

import pytest

from graders.sandbox import calls as c

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = 6
_short.maxdict = 6


def show(value) -> str:
    """A short repr for messages: long lists and strings are elided."""
    return _short.repr(value)


class CheckFailed(pytest.fail.Exception):
    """A check's failure, with the cause that was observed: the plugin picks the hint by it."""

    def __init__(self, message: str, cause: str | None = None):
        super().__init__(message, pytrace=False)
        self.cause = cause


class Inconclusive(pytest.skip.Exception):
    """The check could not be judged (a machine too busy to time): neither earned nor failed.

    Raised as its own class, so the plugin reads the verdict from the exception's type; pytest
    shows it as a skip, and ``--lf`` grades it again with the failures (see graders.grading.plugin).
    """

    def __init__(self, message: str, cause: str | None = None):
        super().__init__(f"inconclusive: {message}")
        self.message = message
        self.cause = cause


def fail(message: str, cause: str | None = None) -> NoReturn:
    """Fail the current check with ``message`` only, no traceback.

    ``cause`` names what was observed (a sandbox outcome status, or a name the exercise's catalogue
    entry gives a hint for under ``causes``): the hint shown is the one for that cause, so a crash is
    never answered with advice about the topic the check is named after.
    """
    raise CheckFailed(message, cause)


def inconclusive(message: str, cause: str | None = None) -> NoReturn:
    """End the current check without a verdict: ``message`` says what could not be measured."""
    raise Inconclusive(message, cause)


def check(condition: bool, message: str, cause: str | None = None) -> None:
    if not condition:
        fail(message, cause)


# Why a call has no usable value, per status, in the learner's terms: (call, module, outcome, where) -> text.
_PROBLEMS = {
    c.MISSING_MODULE: lambda call, module, o, where: f"the file {module}.py was not found (looked for {o.missing})",
    c.IMPORT_ERROR: lambda call, module, o, where: f"{module}.py could not be imported: {o.error}{where}",
    c.MISSING_FUNCTION: lambda call, module, o, where: (
        f"{module}.py has no function named {o.missing or call.split('(')[0]} "
        f"(functions found: {', '.join(o.found) or 'none'}); keep the name given in the exercise"
    ),
    c.NOT_IMPLEMENTED: lambda call, module, o, where: (
        f"{call} is not written yet: it raises NotImplementedError{where}; replace the TODO with your code"
    ),
    c.UNPICKLABLE: lambda call, module, o, where: (
        f"{call} handed the pool something that cannot be sent to a worker process ({o.error}){where}. "
        "Workers receive functions by name: a lambda or a function defined inside another function "
        "cannot be sent; define the task function at module level"
    ),
    c.WORKER_ERROR: lambda call, module, o, where: f"a worker process raised {o.error}{where} while running {call}",
    c.BROKEN_POOL: lambda call, module, o, where: f"a worker process died abruptly while running {call} ({o.error}){where}",
    c.ERROR: lambda call, module, o, where: f"{call} raised {o.error}{where}",
    c.LAZY_RETURN: lambda call, module, o, where: (
        f"{call} returned a {o.returned} object: a lazy iterator, whose values are computed only when "
        "something loops over it; return the values themselves, e.g. list(...) around it"
    ),
    c.BAD_RETURN: lambda call, module, o, where: (
        f"{call} returned a value the grader could not receive ({o.error}); return plain data"
    ),
    c.TIMEOUT: lambda call, module, o, where: (
        f"{call} did not finish within {o.deadline_s:g} s{f' ({o.error})' if o.error else ''} and was stopped, "
        "with every process it started: look for an endless loop, a pool that is never closed, or workers "
        "waiting on each other"
    ),
    c.CRASHED: lambda call, module, o, where: f"the process running {call} died before it returned ({o.error})",
    c.TAMPERED: lambda call, module, o, where: (
        f"{call} replaced objects the grader relies on to measure it ({o.error}); "
        "results obtained that way cannot be graded"
    ),
    c.WROTE_OUTSIDE: lambda call, module, o, where: (
        f"{call} wrote outside the folders graded code may write to: it changed {o.place}{where}; "
        "graded code may write only in its working folder, the temporary folder or its home"
    ),
    c.NOT_RUN: lambda call, module, o, where: f"{call} was not run because an earlier call in the same check failed",
}


def outcome_problem(outcome: c.Outcome, call: str, module: str) -> str | None:
    """One sentence on why ``outcome`` has no usable value, or None when it has one."""
    if outcome.ok:
        return None
    where = f" ({outcome.where})" if outcome.where else ""
    return _PROBLEMS[outcome.status](call, module, outcome, where)


def value_of(outcome: c.Outcome, call: str, module: str):
    """The outcome's value, or fail the check with the reason it has none."""
    problem = outcome_problem(outcome, call, module)
    if problem:
        fail(problem, cause=outcome.status)
    return outcome.value


def mismatch(call: str, got, expected, detail: str = "") -> str:
    extra = f" ({detail})" if detail else ""
    return f"called {call}, got {show(got)}, expected {show(expected)}{extra}"
