"""The pytest workflow as a learner drives it: ids pasted back, a module's path, -x, --lf, -n, bare pytest.

Each test does what a learner was seen doing and checks that pytest then grades, or refuses with a
sentence that says why and what to do instead, never a traceback.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from graders.tests.conftest import PROJECT

SOLUTIONS = PROJECT / "solutions" / "01_functional"


def test_a_checks_id_pasted_back_grades_that_check_alone(grade):
    grading = grade(f"{SOLUTIONS}::test_cities_above")
    assert grading.outcomes() == {"cities_above": "passed"}
    grading.result.stdout.fnmatch_lines(["*not a score*", "*1 passed, 8 deselected*"])


def test_the_failure_line_shows_the_learners_message_not_an_exception_path(grade, pristine, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    grading = grade(f"{pristine / '01_functional'}::test_cities_above")
    summary = [line for line in grading.result.outlines if line.startswith("FAILED")]
    assert summary and " - cities_above(" in summary[0] and "graders." not in summary[0], summary


def test_a_modules_path_grades_its_exercise_and_says_so(grade):
    grading = grade(SOLUTIONS / "cities.py", args=("-k", "test_lower_names"))
    assert grading.outcomes() == {"lower_names": "passed"}
    grading.result.stdout.fnmatch_lines(["cities.py is a module of 01_functional: its grader grades the whole folder*"])


def test_an_inconclusive_check_is_graded_again_by_last_failed(pytester):
    pytester.syspathinsert()
    pytester.makepyfile(staged=
        "import pytest\n"
        "from graders.grading.feedback import inconclusive\n"
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_runtest_call(item):\n"
        "    if item.name == 'test_lower_names':\n"
        "        inconclusive('the machine was too busy (staged by the test)')\n"
    )
    cache = ("-o", f"cache_dir={pytester.path / 'cache'}")
    first = pytester.runpytest(str(SOLUTIONS), "-p", "staged", *cache)
    first.stdout.fnmatch_lines(["  inconclusive lower_names*"])
    again = pytester.runpytest(str(SOLUTIONS), "--lf", *cache)
    again.stdout.fnmatch_lines(["*run-last-failure*", "  passed       lower_names*"])
    again.assert_outcomes(passed=1, deselected=8)


def test_xdist_is_refused_with_the_reason(pytester):
    pytest.importorskip("xdist", reason="pytest-xdist is not installed here: nothing to refuse")
    result = pytester.runpytest(str(SOLUTIONS), "-n", "2")
    result.stderr.fnmatch_lines(["*-n 2 (pytest-xdist) would grade checks side by side*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_the_projects_own_tests_without_their_extras_say_which_to_install(tmp_path):
    """A learner's install lacks nbgrader: bare pytest at the root names the extra instead of a traceback."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import importlib.abc, sys\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('nbformat', 'nbgrader'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=PROJECT, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "need the nbgrader extra" in result.stderr and "Traceback" not in result.stderr + result.stdout
