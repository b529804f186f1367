"""The plugin as a learner and an instructor meet it: header, target choice, messages, hints, score."""
from __future__ import annotations

import json

from graders.tests.conftest import PROJECT, submission

ONE_CHECK = ("-k", "test_lower_names")
GRADER = "graders.suite.test_01_functional"


def test_header_shows_target_cores_start_method_and_thresholds(pytester):
    result = pytester.runpytest(str(PROJECT / "solutions" / "01_functional"), "--start-method", "spawn", *ONE_CHECK)
    result.stdout.fnmatch_lines(
        [
            "grading target: *",
            "usable cores: * start method: spawn",
            "speedup required: *x (1 + 0.15 per extra core)*",
        ]
    )
    assert result.ret == 0


def test_folder_given_is_the_target_and_the_option_overrides_it(grade, pristine):
    grading = grade(pristine / "01_functional", args=ONE_CHECK)
    assert grading.outcomes() == {"lower_names": "failed"}
    grading = grade(pristine / "01_functional", args=("--target", str(PROJECT / "solutions"), *ONE_CHECK))
    assert grading.outcomes() == {"lower_names": "passed"}
    assert grading.report.exercises[0].folder == str(PROJECT / "solutions" / "01_functional")


def test_environment_beats_ini_for_a_grader_run_directly(grade, pristine, pytester, monkeypatch):
    pytester.makeini(f"[pytest]\ngrading_target = {pristine}\n")
    assert grade(args=("--pyargs", GRADER, *ONE_CHECK)).outcomes() == {"lower_names": "failed"}
    monkeypatch.setenv("GRADERS_TARGET", str(PROJECT / "solutions"))
    assert grade(args=("--pyargs", GRADER, *ONE_CHECK)).outcomes() == {"lower_names": "passed"}


def test_a_target_folder_may_hold_the_modules_directly(grade, pytester):
    folder = submission(pytester.path, "01_functional")
    flat = folder.rename(pytester.path / "alice")
    grading = grade(args=("--target", str(flat), "--pyargs", GRADER, *ONE_CHECK))
    assert grading.outcomes() == {"lower_names": "passed"}


def test_failure_names_the_call_the_result_and_the_hint_without_a_traceback(grade, pytester):
    folder = submission(pytester.path, "01_functional")
    module = folder / "cities.py"
    module.write_text(module.read_text().replace('city["name"].lower()', 'city["name"].upper()'))
    grading = grade(folder, args=ONE_CHECK)
    message = grading.checks["lower_names"].message
    assert message.startswith("called lower_names(<5 cities: Berlin, Auckland")
    assert "got ['BERLIN'" in message and "expected ['berlin'" in message
    output = grading.result.stdout.str()
    assert "map(function, iterable) is lazy" in output  # the hint from exercises.toml
    assert "Traceback" not in output and "def test_" not in output


def test_a_misnamed_function_is_reported_as_missing(grade, pytester):
    folder = submission(pytester.path, "01_functional")
    module = folder / "cities.py"
    module.write_text(module.read_text().replace("def lower_names(", "def lower_name("))
    message = grade(folder, args=ONE_CHECK).checks["lower_names"].message
    assert "cities.py has no function named lower_names" in message and "lower_name" in message


def test_score_summary_and_json_report_count_points(grade, pytester):
    folder = submission(pytester.path, "01_functional")
    module = folder / "cities.py"
    module.write_text(module.read_text().replace('"visited": True', '"visited": not city.get("visited", False)'))
    grading = grade(folder)
    exercise = grading.report.exercises[0]
    assert (exercise.earned, exercise.total) == (9, 10)
    assert grading.checks["mark_visited"].status == "failed"
    grading.result.stdout.fnmatch_lines(["01_functional (*01_functional): 9/10 points", "  failed * mark_visited * 0/1"])


def test_points_marker_is_declared(pytester):
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.points(n): *"])


def test_unknown_start_method_is_a_usage_error(pytester):
    result = pytester.runpytest("--start-method", "threads")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*start method must be one of fork, spawn, forkserver*"])


def test_grading_report_is_valid_json_with_settings(grade):
    grading = grade(PROJECT / "solutions" / "01_functional", args=("--grading-seed", "7", *ONE_CHECK))
    assert grading.report.settings["seed"] == 7
    assert json.dumps(grading.report.to_dict())
