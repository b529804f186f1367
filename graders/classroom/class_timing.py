"""A pytest plugin for the class grader's first pass: every check runs, but no speed is timed yet.

``python -m graders class grade`` grades a submission in two passes (graders.classroom.class_grading).
The first pass runs the whole grader with ``-p graders.classroom.class_timing``, several submissions
side by side on a slot's cores: results, structure, leftovers, and every speed check up to the point
where it would start its timed rounds. A speed check that fails before timing ("not timed": wrong
results, no parallelism in the traced run, a crash) is decided there, since nothing in it depends on
the machine's load. A speed check that gets as far as timing ends instead as inconclusive with the
cause ``DEFERRED``, and the class grader times exactly those checks in a second pass, one
submission at a time on cores nobody else uses. So a shared machine's load never reaches a timing,
and no core is held idle for code that would never be timed (an endless loop waits out its call
timeout in the first pass, beside other work).

The plugin replaces ``graders.grading.speed.measure`` (the timed rounds) for the grading process it
is loaded in; nothing else changes.
"""
from __future__ import annotations

import pytest

DEFERRED = "timed_on_own_cores"
MESSAGE = (
    "not timed yet: the class grader times this speed check later, on cores of its own, "
    "once the checks that do not depend on the machine's load are done"
)


def _deferred_measure(*args, **kwargs):
    from graders.grading.feedback import inconclusive

    inconclusive(MESSAGE, cause=DEFERRED)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from graders.grading import speed

    speed.measure = _deferred_measure
