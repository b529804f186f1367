"""End to end through the real nbgrader: build the course, release it, autograde learners, read the gradebook.

What an instructor does, command for command (see README, "In a classroom with nbgrader"):
``python -m graders course build``, ``nbgrader generate_assignment``, submissions in
``submitted/<student>/<assignment>/``, ``nbgrader autograde``, ``nbgrader export``,
``nbgrader generate_feedback``. The learners (learners.py) hand in the reference solution, the untouched
release, wrong solutions, an endless loop, a pool never closed, a module that does not import, a
cell that hangs the kernel, a cell that kills it, edited and deleted test cells, and serial code with
cells of their own that rebind or patch what the test cells run in the kernel (scored only on what
their code earns: the scores come from outside the kernel). Each is graded
under the start method it names (fork, spawn or forkserver), by a separate ``nbgrader autograde
--student`` run whose exit code is checked.

Every exercise is autograded: 01 and 02 with the whole cast of learners, 03-05 with the reference
solution only, to keep the run to a few minutes. Timeouts are shortened for the test (cell 90 s, graded call 10 s); the defaults are 300 s
and 30 s. A submission with a speed check that stayed inconclusive is graded again once, as the README
tells instructors to (``python -m graders course inconclusive``).

Speed verdicts on a busy machine are the graders' own business (graders/tests); here a speed check of
correct code may lose its points only with the grader's own speed verdict (INCONCLUSIVE or too slow)
shown in the cell, and the test prints each such case.
"""
from __future__ import annotations

import csv
import html
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil
import pytest

from graders.grading import catalog
from graders.classroom.course import build, grader_checks, inconclusive, solution_notebook
from graders.classroom.notebook import CheckInconclusive
from graders.grading.settings import START_METHOD_ENV
from graders.grading.stubs import make_stub
from graders.tests.conftest import nbgrader_environment

from .learners import ALL, LEARNERS, Learner

pytestmark = [pytest.mark.nbgrader, pytest.mark.timeout(1500)]

PROJECT = Path(__file__).resolve().parents[3]
COURSE_ID = "e2e-course"
CELL_TIMEOUT = 90
CALL_TIMEOUT = 10
GRADED = sorted({learner.exercise for learner in LEARNERS})
REGRADES = 1


@dataclass
class Run:
    learner: Learner
    seconds: list[float] = field(default_factory=list)
    returncodes: list[int] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    log: str = ""


@dataclass
class Course:
    root: Path
    runs: dict[tuple[str, str], Run]
    released: list[str]


def nbgrader(root: Path, *args: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=root, env=env or nbgrader_environment(),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
    )


def our_leftovers(root: Path) -> list[str]:
    """Processes still alive that came from an autograde run: our descendants (pytest is a subreaper,
    so orphans are reparented to it) and anything running in the course folder."""
    found = []
    mine = {p.pid for p in psutil.Process().children(recursive=True)}
    for proc in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                continue
            in_course = str(root) in (proc.info["cwd"] or "") or str(root) in " ".join(proc.info["cmdline"] or [])
            if proc.pid in mine or in_course:
                found.append(f"pid {proc.pid}: {' '.join(proc.info['cmdline'] or [])[:120]}")
        except psutil.Error:
            continue
    _reap_adopted()
    return found


def _reap_adopted() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def autograde(root: Path, run: Run, force: bool = False) -> None:
    learner = run.learner
    env = nbgrader_environment(**{START_METHOD_ENV: learner.start_method})
    started = time.monotonic()
    args = ["autograde", learner.exercise, "--student", learner.student] + (["--force"] if force else [])
    result = nbgrader(root, *args, env=env)
    run.seconds.append(time.monotonic() - started)
    run.returncodes.append(result.returncode)
    run.log = result.stdout + result.stderr
    time.sleep(0.5)  # let the kernel's process group finish dying before looking for survivors
    run.leftovers.extend(our_leftovers(root))


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    root = tmp_path_factory.mktemp("course")
    exercises = [n for n in catalog.exercises() if (PROJECT / "solutions" / n).is_dir()]
    build(root, PROJECT, exercises, COURSE_ID, CELL_TIMEOUT, CALL_TIMEOUT)
    for name in exercises:
        result = nbgrader(root, "generate_assignment", name)
        assert result.returncode == 0, result.stdout + result.stderr
    runs = {}
    for learner in LEARNERS:
        source = nbformat.read(root / "source" / learner.exercise / f"{learner.exercise}.ipynb", as_version=4)
        release = nbformat.read(root / "release" / learner.exercise / f"{learner.exercise}.ipynb", as_version=4)
        folder = root / "submitted" / learner.student / learner.exercise
        folder.mkdir(parents=True)
        nbformat.write(learner.notebook(solution_notebook(source), release), folder / f"{learner.exercise}.ipynb")
        runs[(learner.student, learner.exercise)] = Run(learner)
    for run in runs.values():
        autograde(root, run)
    for _ in range(REGRADES):
        again = [(student, a) for a in GRADED for student in inconclusive(root, a)]
        for key in again:
            autograde(root, runs[key], force=True)
    return Course(root, runs, exercises)


def grades(course: Course, learner: Learner) -> dict[str, tuple[float | None, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        submission = gradebook.find_submission_notebook(learner.exercise, learner.exercise, learner.student)
        return {g.name.removeprefix("test_"): (g.auto_score, g.max_score) for g in submission.grades}


def cell_errors(course: Course, learner: Learner) -> dict[str, str]:
    path = course.root / "autograded" / learner.student / learner.exercise / f"{learner.exercise}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    errors = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade"):
            texts = [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.outputs if o.output_type == "error"]
            if texts:
                errors[meta["grade_id"].removeprefix("test_")] = " | ".join(texts)
    return errors


@pytest.mark.parametrize("learner", LEARNERS, ids=lambda l: f"{l.exercise}-{l.student}")
def test_every_submission_autogrades_and_scores_exactly_the_expected_checks(course, learner):
    run = course.runs[(learner.student, learner.exercise)]
    assert run.returncodes and all(code == 0 for code in run.returncodes), run.log[-3000:]
    scores = grades(course, learner)
    checks = {c.name for c in grader_checks(catalog.exercises()[learner.exercise])}
    assert set(scores) == checks
    errors = cell_errors(course, learner)
    must_fail = checks if learner.fails == ALL else set(learner.fails)
    assert must_fail <= checks
    wrong = {}
    for name, (score, points) in scores.items():
        expected = 0.0 if name in must_fail else points
        if score == expected:
            continue
        # A speed check of correct code on a busy machine: 0 only with the grader's speed verdict shown.
        error = errors.get(name, "")
        speed_verdict = f"{CheckInconclusive.__name__}: " in error or f"{name}: too slow: " in error
        if expected and name.endswith("speedup") and speed_verdict and score == 0:
            print(f"machine too busy: {learner.student}/{learner.exercise} {name} scored 0: {error[:200]}")
            continue
        wrong[name] = f"scored {score}/{points}, expected {expected}: {errors.get(name, 'no error shown')}"
    assert not wrong, wrong
    # The cell's own verdict and the gradebook agree: an error output exactly where points were lost.
    for name, (score, points) in scores.items():
        assert (name in errors) == (score == 0), (name, score, errors.get(name))


def test_no_process_survives_autograde(course):
    leftovers = {key: run.leftovers for key, run in course.runs.items() if run.leftovers}
    assert not leftovers, leftovers
    assert not our_leftovers(course.root)


def test_kernel_hang_and_kernel_crash_cost_only_their_own_cell(course):
    for student, text in (("dave", "was stopped after"), ("erin", "the kernel died")):
        path = course.root / "autograded" / student / "02_multiprocessing" / "02_multiprocessing.ipynb"
        notebook = nbformat.read(path, as_version=4)
        restarted = [c for c in notebook.cells if c.cell_type == "code" and any(o.get("ename") == "KernelRestarted" for o in c.outputs)]
        assert len(restarted) == 1 and not restarted[0].metadata.get("nbgrader"), student
        assert text in restarted[0].outputs[-1]["evalue"]


def test_tampering_in_the_kernel_changes_no_score(course):
    """mallory's cells rebound and patched what the test cells run (learners.TAMPERING; each of them forges
    the kernel's test cells, see graders/tests/test_course.py): the cells show the grader's verdicts
    on mallory's serial code, graded outside the kernel, and the score is what that code earns."""
    learner = next(l for l in LEARNERS if l.student == "mallory")
    folder = course.root / "autograded" / learner.student / learner.exercise
    assert (folder / "graders" / "classroom" / "notebook.py").exists()  # the tampering cells did run in the kernel
    errors = cell_errors(course, learner)
    assert set(errors) == set(learner.fails)
    for name in learner.fails:
        assert "not parallel" in errors[name] or "not timed" in errors[name], errors[name]
    scores = grades(course, learner)
    assert sum(s or 0 for s, _ in scores.values()) == sum(p for n, (_, p) in scores.items() if n not in learner.fails)


def test_deleted_and_edited_test_cells_are_graded_from_source(course):
    path = course.root / "autograded" / "alice" / "02_multiprocessing" / "02_multiprocessing.ipynb"
    sources = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(path, as_version=4).cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert 'check("02_multiprocessing", "tiny_speedup")' in sources["test_tiny_speedup"]
    assert 'check("02_multiprocessing", "words_parallel")' in sources["test_words_parallel"]


def test_every_exercise_in_the_catalogue_is_released_without_solutions(course):
    for name in course.released:
        release = course.root / "release" / name
        assert sorted(p.name for p in release.iterdir()) == [f"{name}.ipynb"]
        text = (release / f"{name}.ipynb").read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text
        solutions = [(PROJECT / "solutions" / name / f"{m}.py").read_text(encoding="utf-8") for m in catalog.exercises()[name].modules]
        stub = {line for solution in solutions for line in make_stub(solution).splitlines()}
        for solution in solutions:
            for block in re.findall(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", solution, re.S):
                for line in block.splitlines():
                    if len(line.strip()) > 12 and line not in stub:
                        assert json.dumps(line)[1:-1] not in text, (name, line)


def test_export_gives_every_score_of_the_gradebook(course):
    result = nbgrader(course.root, "export")
    assert result.returncode == 0, result.stderr
    with open(course.root / "grades.csv", newline="") as handle:
        rows = {(r["assignment"], r["student_id"]): float(r["score"]) for r in csv.DictReader(handle)}
    for learner in LEARNERS:
        scores = grades(course, learner)
        assert rows[(learner.exercise, learner.student)] == sum(s or 0 for s, _ in scores.values())


def test_feedback_shows_the_learner_messages_and_no_grader_code(course):
    grader_lines = set()
    for name in GRADED:
        for line in catalog.exercises()[name].grader_path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if len(line) > 20 and ("target" in line or line.startswith("def test_")):
                grader_lines.add(line)
    assert grader_lines
    for name in GRADED:
        result = nbgrader(course.root, "generate_feedback", name)
        assert result.returncode == 0, result.stdout + result.stderr
    for learner in LEARNERS:
        page = course.root / "feedback" / learner.student / learner.exercise / f"{learner.exercise}.html"
        text = page.read_text(encoding="utf-8")
        plain = html.unescape(re.sub(r"<[^>]+>", "", text))
        shown = [line for line in grader_lines if line in plain]
        assert not shown, (learner.student, shown[:3])
        # The learner sees the grader's message, not its frames (graders/classroom/notebook.py, graders/suite).
        assert "graders/" not in plain and "Traceback (most recent call last)" not in plain
        if learner.fails == ALL:
            assert "not written yet" in " ".join(plain.split()) and "Hint:" in plain
        # Each check is named in the index (nbgrader's own page says "Test cell" for each), long lines
        # wrap, and nothing tells the learner to run pytest.
        checks = [c.name for c in grader_checks(catalog.exercises()[learner.exercise])]
        toc = text[text.index('<div id="toc">'):text.index("</ol>")]
        assert "Test cell" not in toc and all(f">Check <code>{name}</code></a>" in toc for name in checks)
        assert "white-space: pre-wrap" in text and "pytest exercises" not in plain


def test_report_the_score_table(course):
    """Prints the table the README quotes (run with -rP to see it)."""
    print(f"\n{'student':<8} {'assignment':<20} {'score':>9} {'autograde s':>12}  handed in")
    for (student, exercise), run in course.runs.items():
        scores = grades(course, run.learner)
        earned = sum(s or 0 for s, _ in scores.values())
        total = sum(p for _, p in scores.values())
        seconds = "+".join(f"{s:.0f}" for s in run.seconds)
        print(f"{student:<8} {exercise:<20} {earned:>4g}/{total:<4g} {seconds:>12}  {run.learner.why} [{run.learner.start_method}]")
    assert course.runs
