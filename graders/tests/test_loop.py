"""The learner's loop: ``python -m graders progress``, ``hint`` and ``watch``, driven as a learner would.

progress and hint read saved gradings (written here with graders.report.history.save, as pytest
writes them) in a project laid out in a temporary folder, and run in-process through the command
line's own ``main``. watch runs as the learner runs it, a subprocess on a copy of the exercise that
this test then edits, and is stopped both ways: by ``--max-runs`` and by Ctrl-C (SIGINT).
"""
from __future__ import annotations

import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from graders import cli
from graders.grading import catalog
from graders.loop import watch
from graders.report import history
from graders.report.model import CheckResult, ExerciseResult, GradingResults, Status
from graders.tests.submissions import PROJECT

FUNCTIONAL = catalog.exercises()["01_functional"]
# A subprocess that misbehaves is stopped after this long; the tests themselves take far less.
PATIENCE_S = 150


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A learner's project: exercises/01_functional (the stub) and an empty 02_multiprocessing."""
    shutil.copytree(PROJECT / "exercises" / "01_functional", tmp_path / "exercises" / "01_functional",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "exercises" / "02_multiprocessing").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "120")
    return tmp_path


def _save(root: Path, tree: str, statuses: dict[str, Status], causes: dict[str, str] | None = None) -> None:
    checks = [
        CheckResult(name, 2.0 if name == "uses_functional_tools" else 1.0, statuses.get(name, Status.PASSED),
                    f"{name} was wrong on purpose" if statuses.get(name, Status.PASSED) is not Status.PASSED else "",
                    (causes or {}).get(name))
        for name in FUNCTIONAL.hints
    ]
    folder = root / tree / "01_functional"
    folder.mkdir(parents=True, exist_ok=True)
    assert history.save(root, GradingResults([ExerciseResult("01_functional", str(folder), checks)]))


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _flat(text: str) -> str:
    """Text as words, whatever the wrapping: a hint wrapped over lines reads the same."""
    return " ".join(text.split())


def _row(output: str, exercise: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(exercise))


def test_progress_shows_each_exercise_points_and_failing_checks_from_the_last_grading_and_what_to_do_next(project, capsys):
    failing = {"above_average": Status.FAILED, "clean_record": Status.FAILED, "mark_visited": Status.INCONCLUSIVE}
    _save(project, "exercises", failing, {"above_average": "not_strict"})
    _save(project, "solutions", {})

    code, out, _ = _run(capsys, "progress")

    assert code == 0
    functional = _row(out, "01_functional")
    assert "7/10" in functional and "above_average, clean_record, mark_visited?" in functional
    assert "marked ? was inconclusive" in out
    assert "not graded yet" in _row(out, "02_multiprocessing")
    # Every exercise of the catalogue has its row, whether its folder is there or not.
    assert all(any(line.startswith(name) for line in out.splitlines()) for name in catalog.exercises())
    # The first failing check of the first unfinished exercise, with the hint for the cause it observed.
    assert f"Next: 01_functional — above_average: {FUNCTIONAL.causes['not_strict']}" in out


def test_progress_reads_the_tree_it_is_given_and_points_at_the_next_exercise_not_graded(project, capsys):
    _save(project, "exercises", {"above_average": Status.FAILED})
    _save(project, "solutions", {})
    (project / "solutions" / "02_multiprocessing").mkdir()

    code, out, _ = _run(capsys, "progress", "--tree", "solutions")

    assert code == 0
    assert "10/10" in _row(out, "01_functional") and "above_average" not in _row(out, "01_functional")
    assert "Next: 02_multiprocessing — not graded yet" in out


def test_progress_refuses_a_tree_that_is_not_there(project, capsys):
    code, _, err = _run(capsys, "progress", "--tree", "submissions")
    assert code == 2 and "no folder 'submissions'" in err and len(err.strip().splitlines()) == 1


def test_hint_reveals_one_more_level_of_a_checks_hints_at_each_call(project, capsys):
    _save(project, "exercises", {"above_average": Status.FAILED}, {"above_average": "not_strict"})
    own, observed, other = (_flat(h) for h in (FUNCTIONAL.hints["above_average"], FUNCTIONAL.causes["not_strict"], FUNCTIONAL.causes["records_rebuilt"]))

    outputs = [_run(capsys, "hint", "01_functional", "above_average")[1] for _ in range(4)]

    first, second, third, fourth = (_flat(out) for out in outputs)
    assert own in first and observed not in first and "2 more hints" in first
    assert "above_average was wrong on purpose" in second and observed in second and other not in second
    assert other in third and third.index(observed) < third.index(other) and "more hint" not in third
    assert fourth == third


def test_hint_all_shows_every_level_at_once_even_for_a_check_not_graded_yet(project, capsys):
    code, out, _ = _run(capsys, "hint", "01", "test_lower_names", "--all")
    text = _flat(out)
    assert code == 0 and "not graded yet" in text
    assert _flat(FUNCTIONAL.hints["lower_names"]) in text
    assert all(_flat(hint) in text for hint in FUNCTIONAL.causes.values())


def test_hint_without_a_check_lists_every_check_with_its_hint_and_marks_the_failing_ones(project, capsys):
    _save(project, "exercises", {"clean_record": Status.FAILED})

    code, out, _ = _run(capsys, "hint", "01_functional")

    lines = {name: next(line for line in out.splitlines() if f" {name} " in line) for name in FUNCTIONAL.hints}
    assert code == 0
    assert "FAILED" in lines["clean_record"] and FUNCTIONAL.hints["clean_record"][:30] in lines["clean_record"]
    assert all("FAILED" not in line and "passed" in line for name, line in lines.items() if name != "clean_record")


@pytest.mark.parametrize("argv, named, listed", [
    (["hint", "99_nothing"], "unknown exercise '99_nothing'", "01_functional"),
    (["hint", "01_functional", "speedup"], "01_functional has no check 'speedup'", "above_average"),
    (["watch", "99_nothing"], "unknown exercise '99_nothing'", "02_multiprocessing"),
])
def test_a_wrong_exercise_or_check_is_refused_in_one_line_that_lists_the_right_names(project, capsys, argv, named, listed):
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and named in err and listed in err


def test_only_the_exercise_modules_themselves_count_as_changes(tmp_path):
    names = {"cities.py"}
    assert watch.is_module_change(tmp_path, names, tmp_path / "cities.py")
    for noise in ("__pycache__/cities.cpython-311.pyc", ".cities.py.swp", "cities.py~", "4913", ".graders/last/x.json",
                  "graders-abc123/submission/cities.py", "README.md"):
        assert not watch.is_module_change(tmp_path, names, tmp_path / noise), noise


def test_the_polling_watcher_reports_a_saved_module_and_nothing_else(tmp_path):
    (tmp_path / "cities.py").write_text("A = 1\n")
    watcher = watch.PollingWatcher(tmp_path, {"cities.py"})

    def edit():
        (tmp_path / ".cities.py.swp").write_text("swap")
        (tmp_path / "cities.py").write_text("A = 2  # saved\n")

    threading.Timer(0.3, edit).start()
    assert watcher.wait() == {"cities.py"}


class Watching:
    """``python -m graders watch`` in a subprocess, its output read line by line as it comes."""

    def __init__(self, project: Path, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "graders", "watch", "01_functional", "--tree", str(project / "exercises"), *args],
            cwd=project, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, fragment: str) -> str:
        """Read on until a line holds ``fragment``; the line."""
        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if fragment in line:
                return line
        self.stop()
        pytest.fail(f"watch never printed {fragment!r}; it printed:\n{''.join(self.seen)}\n{self.process.stderr.read()}")

    def finish(self) -> tuple[int, str, str]:
        try:
            code = self.process.wait(timeout=PATIENCE_S)
        finally:
            self.stop()
        while (line := self.lines.get(timeout=5)) is not None:
            self.seen.append(line)
        return code, "".join(self.seen), self.process.stderr.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_watch_grades_again_when_a_module_is_saved_and_nothing_else_and_stops_after_max_runs(project, capsys):
    folder = project / "exercises" / "01_functional"
    running = Watching(project, "--max-runs", "2")
    assert "0/10 points" in running.until("01_functional: ")
    running.until("Watching cities.py")
    # Noise first: none of it may start a grading, or the second run would grade the stub again.
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "cities.cpython-311.pyc").write_bytes(b"\0")
    (folder / ".cities.py.swp").write_text("swap")
    (folder / "graders-scratch" / "submission").mkdir(parents=True)
    (folder / "graders-scratch" / "submission" / "cities.py").write_text("raise SystemExit\n")
    time.sleep(1.0)
    shutil.copy(PROJECT / "solutions" / "01_functional" / "cities.py", folder / "cities.py")

    assert "cities.py saved" in running.until("saved")
    assert "10/10 points" in running.until("01_functional: ")
    code, out, err = running.finish()

    assert code == 0, err
    assert out.count("points (graded at") == 2 and "\x1b[" not in out
    assert "Traceback" not in err
    # The grading was kept like any other: progress shows it without grading again.
    assert "10/10" in _row(_run(capsys, "progress")[1], "01_functional")


def test_watch_stops_cleanly_on_ctrl_c_even_while_grading(project):
    running = Watching(project)
    running.until("grading 01_functional")
    running.process.send_signal(signal.SIGINT)

    code, out, err = running.finish()

    assert code == 0 and "Stopped watching." in out
    assert "Traceback" not in err and "points (graded at" not in out
