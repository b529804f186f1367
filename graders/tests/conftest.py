"""Shared helpers for the project's own tests: run a grader on a folder, read its JSON report."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy  # noqa: F401
import pandas  # noqa: F401
import pytest

# pytester's in-process runs drop modules first imported during a run; numpy and pandas refuse to
# be imported twice in one process, so they are imported here, before any run.

from graders.tests.submissions import PROJECT, submission  # noqa: F401 - shared with the tests
from graders.report.model import CheckResult, GradingResults

START_METHODS = ("fork", "spawn", "forkserver")
# Gallery entries are folders named like exercises: graded by test_gallery.py, not collected here.
collect_ignore = ["gallery"]


def nbgrader_environment(**extra: str) -> dict[str, str]:
    """os.environ for an nbgrader subprocess, with this interpreter's scripts first on PATH.

    nbgrader runs ``alembic`` by name: from a virtualenv that was not activated it is not found.
    """
    scripts = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": os.pathsep.join([scripts, os.environ.get("PATH", "")]), **extra}


@dataclass
class Grading:
    result: pytest.RunResult
    report: GradingResults

    @property
    def checks(self) -> dict[str, CheckResult]:
        return {c.name: c for e in self.report.exercises for c in e.checks}

    def outcomes(self) -> dict[str, str]:
        return {name: check.status.value for name, check in self.checks.items()}


@pytest.fixture
def grade(pytester: pytest.Pytester):
    """Run the graders in-process on the given paths; returns the run and its JSON report."""

    def run(*paths: Path | str, args: tuple[str, ...] = ()) -> Grading:
        report = pytester.path / "grading-report.json"
        result = pytester.runpytest(
            *map(str, paths), "--grading-report", str(report), "-p", "no:cacheprovider", "-p", "no:randomly", *args
        )
        return Grading(result, GradingResults.read(report) if report.exists() else GradingResults())

    return run
