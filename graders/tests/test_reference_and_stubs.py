"""The graders against the two trees everybody uses: reference solutions pass, untouched stubs fail."""
from __future__ import annotations

import pytest

from graders.grading import catalog
from graders.tests.conftest import PROJECT, START_METHODS, committed

EXERCISES = sorted(catalog.exercises())
# Every start method where learner code starts processes; elsewhere the method changes nothing.
RUNS = [
    (name, method)
    for name, exercise in sorted(catalog.exercises().items())
    for method in (START_METHODS if exercise.starts_processes else START_METHODS[:1])
]


@pytest.mark.parametrize(("exercise", "start_method"), RUNS)
def test_reference_solution_passes_every_check(grade, exercise, start_method):
    grading = grade(PROJECT / "solutions" / exercise, args=("--start-method", start_method))
    outcomes = grading.outcomes()
    assert outcomes, grading.result.stdout.str()
    # A speed check may only be inconclusive (the machine too busy to measure), never failed.
    bad = {n: grading.checks[n].message for n, o in outcomes.items() if o not in ("passed", "inconclusive")}
    assert not bad, bad
    assert grading.result.ret == 0
    grading.result.stdout.fnmatch_lines([f"{exercise} (*): * points"])


@pytest.mark.parametrize("exercise", EXERCISES)
def test_untouched_stub_fails_every_check_cleanly(grade, pristine, exercise):
    grading = grade(pristine / exercise)
    assert grading.outcomes() and set(grading.outcomes().values()) == {"failed"}, grading.outcomes()
    for name, check in grading.checks.items():
        assert "not written yet" in check.message, (name, check.message)
    output = grading.result.stdout.str()
    assert "Traceback" not in output
    assert grading.result.ret == 1
    total = sum(c.points for c in grading.checks.values())
    grading.result.stdout.fnmatch_lines([f"{exercise} (*): 0/{total:g} points"])


def test_exercises_are_generated_from_solutions():
    from graders.grading.stubs import make_stub, stub_pairs

    # The committed stubs, so a learner's edits in this working copy are not what is judged.
    stale = [str(stub.relative_to(PROJECT)) for solution, stub in stub_pairs(PROJECT)
             if committed(stub) != make_stub(solution.read_text(encoding="utf-8"))]
    assert not stale, f"stale stubs {stale}: run python -m graders.grading.stubs and commit them"
