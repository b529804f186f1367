"""The exercise catalogue agrees with the trees and graders it describes, so a course author's slip shows here."""
from __future__ import annotations

import pytest

from graders.grading import catalog
from graders.classroom.course import grader_checks
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


def _specification(exercise):
    import importlib

    return getattr(importlib.import_module(exercise.grader), "SPECIFICATION", None)


@pytest.mark.parametrize("name", EXERCISES)
def test_the_specification_table_quotes_its_sources_and_names_every_check(name, pristine):
    from graders.grading.specification import normalised, public_functions

    exercise = catalog.exercises()[name]
    table = _specification(exercise)
    assert table, f"{exercise.grader} has no SPECIFICATION table"
    folder = pristine / name
    checks = {check.name for check in grader_checks(exercise)}
    for requirement in table:
        text = requirement.source_text(folder)
        assert text is not None, f"{requirement.source}: no such file or function in exercises/{name}"
        assert normalised(requirement.quote) in normalised(text), f"not found in {requirement.source}: {requirement.quote!r}"
        assert set(requirement.checks) <= checks, f"{requirement.source}: no such check {set(requirement.checks) - checks}"
        assert requirement.checks, f"{requirement.source}: {requirement.quote!r} is checked by nothing"
    named = {check for requirement in table for check in requirement.checks}
    assert checks <= named, f"checks no requirement names: {sorted(checks - named)}"
    cited = {requirement.source for requirement in table}
    for module in exercise.modules:
        source = (folder / f"{module}.py").read_text(encoding="utf-8")
        uncited = [f for f in public_functions(source) if f"{module}.py:{f}" not in cited]
        assert not uncited, f"{module}.py functions no requirement cites: {uncited}"
