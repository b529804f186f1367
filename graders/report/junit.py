"""JUnit XML properties for each check, on pytest's own ``--junitxml`` report.

pytest writes an item's ``user_properties`` as ``<property>`` elements of its ``<testcase>``; the
plugin adds these to every check, so a CI system or a class dashboard that reads JUnit finds the
points, the status (inconclusive included, which JUnit itself cannot say) and the hint for the cause
that was observed.
"""
from __future__ import annotations

from graders.report.model import CheckResult


def properties(exercise: str, check: CheckResult) -> list[tuple[str, str]]:
    found = [
        ("exercise", exercise),
        ("status", check.status.value),
        ("points", f"{check.points:g}"),
        ("earned", f"{check.earned:g}"),
    ]
    if check.cause:
        found.append(("cause", check.cause))
    if check.hint:
        found.append(("hint", check.hint))
    return found
