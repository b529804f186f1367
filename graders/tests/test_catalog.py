"""The exercise catalogue agrees with the trees and graders it describes, so a course author's slip shows here."""
from __future__ import annotations

import pytest

from graders import catalog
from graders.course import grader_checks
from graders.tests.conftest import PROJECT
from graders.tests.test_gallery import GALLERY

EXERCISES = sorted(catalog.exercises())


@pytest.mark.parametrize("name", EXERCISES)
def test_every_check_has_a_hint_and_every_hint_a_check(name):
    exercise = catalog.exercises()[name]
    checks = {check.name for check in grader_checks(exercise)}
    assert checks, f"{exercise.grader} has no checks"
    assert set(exercise.hints) == checks, {
        "checks without a hint": sorted(checks - set(exercise.hints)),
        "hints for no check": sorted(set(exercise.hints) - checks),
    }


@pytest.mark.parametrize("name", EXERCISES)
def test_both_trees_hold_the_modules_and_the_exercise_its_readme(name):
    exercise = catalog.exercises()[name]
    for tree in ("exercises", "solutions"):
        folder = PROJECT / tree / name
        missing = [m for m in exercise.modules if not (folder / f"{m}.py").is_file()]
        assert not missing, f"{tree}/{name} lacks {missing}"
    assert (PROJECT / "exercises" / name / "README.md").is_file()


@pytest.mark.parametrize("name", EXERCISES)
def test_every_exercise_has_wrong_solutions_in_the_gallery(name):
    assert list((GALLERY / name).glob("*/expect.toml")), f"add wrong solutions to {GALLERY.name}/{name}/"
