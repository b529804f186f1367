"""One grading report, many readers: the model round-trips, and every writer gives the summary's score.

The end-to-end tests grade a submission with one wrong function (9 of 10 points) through pytest with
every output option at once, and read each file as its consumer would: Gradescope's results.json as
JSON against the fields its specification names, the CSV with the csv module, the JUnit XML with
ElementTree.
"""
from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ElementTree

import pytest

from graders.grading import feedback
from graders.report import gradescope, table
from graders.report.model import CheckResult, ExerciseResult, FolderStatus, GradingResults, Status
from graders.sandbox import calls as c
from graders.tests.conftest import submission

GRADESCOPE_TOP = {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
GRADESCOPE_TEST = {"name", "score", "max_score", "status", "output", "visibility", "extra_data"}


def _results() -> GradingResults:
    checks = [
        CheckResult("a", 1.0, Status.PASSED),
        CheckResult("b", 2.0, Status.FAILED, "called b(), got 1, expected 2", "not_strict", "Use >."),
        CheckResult("c_speedup", 1.0, Status.INCONCLUSIVE, "the machine was too busy"),
        CheckResult("d_speedup", 1.0, Status.SKIPPED, "only 1 usable core"),
    ]
    return GradingResults([ExerciseResult("01_functional", "/x/01_functional", checks)], {"seed": 3}, 12.4)


def test_the_model_reads_back_what_it_wrote(tmp_path):
    results = _results()
    results.write(tmp_path / "r.json")
    again = GradingResults.read(tmp_path / "r.json")
    assert again == results
    assert again.exercises[0].checks[2].status is Status.INCONCLUSIVE
    assert (again.earned, again.total) == (2.0, 5.0)
    assert again.exercises[0].status is FolderStatus.INCONCLUSIVE


def test_a_report_of_another_schema_is_refused_by_name(tmp_path):
    (tmp_path / "old.json").write_text(json.dumps({"exercises": []}))
    with pytest.raises(ValueError, match="schema"):
        GradingResults.read(tmp_path / "old.json")


def test_gradescope_results_follow_its_fields_and_say_inconclusive():
    data = gradescope.results_json(_results())
    assert set(data) == GRADESCOPE_TOP and data["score"] == 2.0 and data["execution_time"] == 12
    assert all(set(test) == GRADESCOPE_TEST for test in data["tests"])
    by_name = {test["name"]: test for test in data["tests"]}
    assert {t["status"] for t in data["tests"]} <= {"passed", "failed"}
    assert by_name["b"]["output"].endswith("Hint: Use >.") and by_name["b"]["score"] == 0
    assert by_name["c_speedup"]["status"] == "failed" and by_name["c_speedup"]["output"].startswith("inconclusive")
    assert by_name["d_speedup"]["score"] == 1.0
    assert "graded again" in data["output"]


def test_csv_rows_hold_each_checks_points_under_its_name():
    header, rows = table.rows(_results().exercises, extra={"/x/01_functional": {"learner": "ann"}})
    assert header[:6] == ["learner", "exercise", "folder", "earned", "total", "status"]
    assert header[6:] == ["a", "b", "c_speedup", "d_speedup"]
    assert rows == [{"learner": "ann", "exercise": "01_functional", "folder": "/x/01_functional", "earned": "2",
                     "total": "5", "status": "inconclusive", "a": "1", "b": "0", "c_speedup": "0", "d_speedup": "1"}]


def test_every_outcome_status_has_a_sentence_and_a_hint():
    for status in c.Status:
        if status is c.OK:
            continue
        outcome = c.Outcome(status, deadline_s=1.0)
        assert feedback.outcome_problem(outcome, "f(1)", "module"), status
        assert status in c.STATUS_HINTS, status


def test_every_output_of_one_run_gives_the_summarys_score(grade, pytester):
    folder = submission(pytester.path, "01_functional")
    module = folder / "cities.py"
    module.write_text(module.read_text().replace('"visited": True', '"visited": not city.get("visited", False)'))
    out = pytester.path / "out"
    grading = grade(folder, args=(
        "--gradescope", str(out / "results.json"), "--grading-csv", str(out / "grades.csv"),
        "--junitxml", str(out / "junit.xml"),
    ))
    grading.result.stdout.fnmatch_lines(["01_functional (*): 9/10 points"])

    scope = json.loads((out / "results.json").read_text())
    assert scope["score"] == 9 and sum(t["max_score"] for t in scope["tests"]) == 10
    failed = [t for t in scope["tests"] if t["status"] == "failed"]
    assert [t["name"] for t in failed] == ["mark_visited"] and "Hint:" in failed[0]["output"]

    with (out / "grades.csv").open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["earned"], row["total"], row["mark_visited"], row["status"]) == ("9", "10", "0", "graded")

    cases = ElementTree.parse(out / "junit.xml").getroot().iter("testcase")
    properties = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")} for case in cases}
    assert properties["test_mark_visited"]["earned"] == "0" and properties["test_mark_visited"]["points"] == "1"
    assert properties["test_mark_visited"]["hint"] and properties["test_mark_visited"]["status"] == "failed"
    assert sum(float(p["earned"]) for p in properties.values()) == 9


def test_a_run_stopped_by_x_says_its_total_is_not_a_score(grade, pristine):
    grading = grade(pristine / "01_functional", args=("-x",))
    assert len(grading.checks) == 1 and not grading.report.complete
    grading.result.stdout.fnmatch_lines(["*not a score*"])
