"""Shared helpers for the project's own tests: run a grader on a folder, read its JSON report."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
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
# What the project's own tests need beyond a learner's install.
TEST_EXTRAS = {"nbformat": "nbgrader", "nbgrader": "nbgrader", "distributed": "distributed"}


def pytest_configure(config: pytest.Config) -> None:
    # Bare `pytest` at the root runs every project test; a run of named test files needs only theirs.
    if config.args_source is not pytest.Config.ArgsSource.TESTPATHS:
        return
    missing = sorted({extra for module, extra in TEST_EXTRAS.items() if not _installed(module)})
    if missing:
        raise pytest.UsageError(
            "these are the project's own tests (graders/tests), which need the "
            f"{' and '.join(missing)} extra{'s' if len(missing) > 1 else ''}: pip install -e \".[nbgrader,distributed]\" "
            "(or run tox). To grade your work, run pytest on an exercise folder: pytest exercises/01_functional"
        )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def committed(path: Path) -> str:
    """``path``'s text as committed (git's HEAD), so a learner's edits in a working copy are not judged;
    the working tree's text outside a git checkout."""
    relative = path.resolve().relative_to(PROJECT)
    try:
        shown = subprocess.run(["git", "-C", str(PROJECT), "show", f"HEAD:{relative.as_posix()}"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        shown = None
    if shown is not None and shown.returncode == 0:
        return shown.stdout
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def pristine(tmp_path_factory) -> Path:
    """The exercises as released: stubs generated from the solutions, the rest as committed.

    The tests judge these, never ``exercises/`` itself, where a learner may be at work.
    """
    from graders.grading.stubs import make_stub, stub_pairs

    root = tmp_path_factory.mktemp("pristine") / "exercises"
    for folder in (PROJECT / "exercises").iterdir():
        if folder.is_dir():
            shutil.copytree(folder, root / folder.name, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    for solution, stub in stub_pairs(PROJECT):
        target = root / stub.relative_to(PROJECT / "exercises")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(make_stub(solution.read_text(encoding="utf-8")), encoding="utf-8")
    for readme in root.glob("*/README.md"):
        readme.write_text(committed(PROJECT / "exercises" / readme.parent.name / "README.md"), encoding="utf-8")
    return root
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
            *map(str, paths), "--grading-report", str(report), "--grading-history", "no", "-p", "no:cacheprovider", *args
        )
        return Grading(result, GradingResults.read(report) if report.exists() else GradingResults())

    return run
