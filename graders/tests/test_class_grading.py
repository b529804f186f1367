"""Grading a whole class on Dask (graders.classroom.class_grading): slots, passes, outputs, nbgrader.

The scheduling of the three passes is tested against a stand-in for the Dask client (futures that end
when polled), so it is exact and fast: side by side in lanes, then each timed pass alone on its slot,
then a regrade of what stayed inconclusive, a lost worker's tasks run elsewhere. Then two runs of the
real command, end to end on a LocalCluster: a small class of exercise 01 (the reference solution,
the untouched stub, a gallery entry), and an nbgrader course's ``submitted/`` tree of two students
whose scores must land in the gradebook, as ``nbgrader export`` reads them.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from graders import cli
from graders.classroom import class_grading as cg
from graders.classroom.class_timing import DEFERRED
from graders.grading import catalog
from graders.report.model import CheckResult, ExerciseResult, GradingResults, Status
from graders.tests.conftest import PROJECT, nbgrader_environment, submission

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

pytest.importorskip("distributed", reason="class grading runs on Dask: pip install '.[distributed]'")

FAST = "01_functional"
GALLERY_ENTRY = PROJECT / "graders" / "tests" / "gallery" / FAST / "loops_instead_of_tools"
TIMED_EXERCISE = catalog.exercises()["02_multiprocessing"]


# ------------------------------------------------------------------------------------------------
# A stand-in for the Dask client
# ------------------------------------------------------------------------------------------------


class FakeFuture:
    """Ends the second time it is polled; records what ran beside it."""

    def __init__(self, client, job, worker, answer):
        self.client, self.job, self.worker, self.answer = client, job, worker, answer
        self.polls = 0
        self.cancelled = False

    def done(self) -> bool:
        self.polls += 1
        if self.polls >= 2 and self in self.client.running:
            self.client.running.remove(self)
        return self.polls >= 2

    def result(self):
        return self.answer(self.job)

    def cancel(self):
        self.cancelled = True
        if self in self.client.running:
            self.client.running.remove(self)


class FakeClient:
    def __init__(self, answer, workers=("tcp://a:1",)):
        self.answer = answer
        self.workers = list(workers)
        self.running: list[FakeFuture] = []
        # (job, worker, jobs running on that worker when it was submitted)
        self.log: list[tuple[cg.GradingJob, str, list[cg.GradingJob]]] = []
        # how many jobs were running anywhere when each job was submitted
        self.anywhere: list[int] = []

    def submit(self, function, job, key, workers, allow_other_workers, pure):
        assert function is cg.grade_on_worker and allow_other_workers is False and pure is False
        (worker,) = workers
        beside = [f.job for f in self.running if f.worker == worker]
        self.log.append((job, worker, beside))
        self.anywhere.append(len(self.running))
        future = FakeFuture(self, job, worker, self.answer)
        self.running.append(future)
        return future

    def scheduler_info(self, n_workers=-1):
        return {"workers": {address: {"nthreads": 2} for address in self.workers}}


def report(checks: list[CheckResult], exercise: str = TIMED_EXERCISE.name) -> dict:
    return {"outcome": "graded", "report": GradingResults([ExerciseResult(exercise, "x", checks)]).to_dict(),
            "problem": "", "seconds": 1.0, "cores": [], "host": "fake"}


def speedup(status: Status, cause: str | None = None) -> CheckResult:
    return CheckResult("tiny_speedup", 2, status, "", cause)


def learners(count: int) -> list[cg.Submission]:
    return [cg.Submission(f"learner{i}", Path(f"/class/learner{i}"), {"tiny_tasks.py": f"# {i}\n"}, seed=i) for i in range(count)]


def grading(client, slots, count, **options) -> cg.ClassGrading:
    return cg.ClassGrading(client, slots, learners(count), cg.ClassOptions(TIMED_EXERCISE, timeout=60, **options))


def test_structural_work_runs_side_by_side_and_each_timed_pass_alone_on_its_slot():
    def answer(job):
        if job.defer_speed:
            return report([CheckResult("tiny_results", 1, Status.PASSED), speedup(Status.INCONCLUSIVE, DEFERRED)])
        return report([speedup(Status.PASSED)])

    client = FakeClient(answer)
    slot = cg.Slot("tcp://a:1", "a", (0, 1), lanes=2)
    grades = grading(client, [slot], 4).run()

    first = [(job, beside) for job, _, beside in client.log if job.defer_speed]
    timed = [(job, beside) for job, _, beside in client.log if not job.defer_speed]
    assert len(first) == 4 and len(timed) == 4
    assert max(len(beside) for _, beside in first) == 1  # two lanes: never more than two at once
    assert any(beside for _, beside in first)  # ... and they did run side by side
    assert all(job.checks == ("tiny_speedup",) and beside == [] for job, beside in timed)
    assert all(job.cores == (0, 1) for job, _, _ in client.log)
    assert [g.outcome for g in grades] == [cg.Outcome.GRADED] * 4
    assert all(g.result.check("tiny_speedup").status is Status.PASSED for g in grades)
    assert all(g.result.check("tiny_results").status is Status.PASSED for g in grades)


def test_a_check_still_inconclusive_is_graded_again_alone_at_the_end():
    busy = {"regrades": 0}

    def answer(job):
        if job.defer_speed:
            return report([speedup(Status.INCONCLUSIVE, DEFERRED)])
        if busy["regrades"] < 2:  # the two timed passes: the host was busy
            busy["regrades"] += 1
            return report([speedup(Status.INCONCLUSIVE, "busy_machine")])
        return report([speedup(Status.FAILED, "too_slow")])

    client = FakeClient(answer, workers=("tcp://a:1", "tcp://b:1"))
    slots = [cg.Slot("tcp://a:1", "a", (0, 1), 2), cg.Slot("tcp://b:1", "b", (0, 1), 2)]
    grades = grading(client, slots, 2).run()

    regrades = client.log[4:]
    assert len(regrades) == 2 and all(job.checks == ("tiny_speedup",) and not job.defer_speed for job, _, _ in regrades)
    assert client.anywhere[4:] == [0, 0]  # nothing else ran anywhere on the cluster
    assert client.anywhere[2:4] == [0, 1]  # while the two timed passes ran at once, on two slots
    assert [g.result.check("tiny_speedup").status for g in grades] == [Status.FAILED, Status.FAILED]
    assert [g.outcome for g in grades] == [cg.Outcome.GRADED, cg.Outcome.GRADED]
    assert [p["pass"] for p in grades[0].passes] == ["side_by_side", "timed", "regrade"]


def test_a_grading_that_overran_its_deadline_scores_zero_and_says_so():
    def answer(job):
        return {"outcome": "timed out", "report": None, "problem": "the grading did not finish within 60 s",
                "seconds": 60.0, "cores": [0, 1], "host": "fake"}

    grades = grading(FakeClient(answer), [cg.Slot("tcp://a:1", "a", (0, 1), 2)], 1, regrade=False).run()

    (grade,) = grades
    assert grade.outcome is cg.Outcome.TIMED_OUT and "did not finish" in grade.problem
    assert grade.result.earned == 0 and {c.status for c in grade.result.checks} == {Status.FAILED}
    assert grade.result.check("tiny_speedup").message == "the grading did not finish within 60 s"


def test_the_tasks_of_a_worker_that_left_run_on_another_slot(monkeypatch):
    client = FakeClient(lambda job: report([speedup(Status.PASSED)]), workers=("tcp://b:1",))
    gone, kept = cg.Slot("tcp://a:1", "a", (0, 1), 2), cg.Slot("tcp://b:1", "b", (2, 3), 2)
    run = grading(client, [gone, kept], 4)
    run._last_check -= 10  # look the workers up at the first turn
    original = FakeFuture.done
    monkeypatch.setattr(FakeFuture, "done", lambda self: False if self.worker == gone.address else original(self))

    grades = run.run()

    assert run.slots == [kept]
    assert [g.outcome for g in grades] == [cg.Outcome.GRADED] * 4
    assert sorted(job.seed for job, worker, _ in client.log if worker == kept.address) == [0, 1, 2, 3]


# ------------------------------------------------------------------------------------------------
# Slots
# ------------------------------------------------------------------------------------------------


class FactsClient(FakeClient):
    def __init__(self, hosts: dict[str, tuple[str, list[int]]]):
        super().__init__(None, workers=tuple(hosts))
        self.hosts = hosts

    def run(self, function):
        assert function is cg.host_facts
        return {address: {"host": host, "name": host, "cpus": cpus} for address, (host, cpus) in self.hosts.items()}


def test_each_worker_of_a_host_gets_an_equal_disjoint_share_of_its_cores():
    client = FactsClient({
        "tcp://h1:1": ("h1", list(range(8))), "tcp://h1:2": ("h1", list(range(8))), "tcp://h1:3": ("h1", list(range(8))),
        "tcp://h2:1": ("h2", [0, 1, 2, 3]),
    })
    slots, warnings = cg.plan_slots(client)

    on_h1 = [s.cores for s in slots if s.host == "h1"]
    assert on_h1 == [(0, 1), (2, 3), (4, 5)] and [s.cores for s in slots if s.host == "h2"] == [(0, 1, 2, 3)]
    assert any("2 of its 8 CPUs left unused" in w for w in warnings)
    assert any("different sizes" in w for w in warnings)
    assert {s.lanes for s in slots} == {2}


def test_a_one_core_slot_is_refused_only_for_an_exercise_with_speed_checks():
    client = FactsClient({"tcp://h:1": ("h", [0, 1]), "tcp://h:2": ("h", [0, 1])})
    with pytest.raises(ValueError, match="cannot time a speedup"):
        cg.plan_slots(client, timed=True)
    slots, _ = cg.plan_slots(client, timed=False)
    assert [s.cores for s in slots] == [(0,), (1,)]
    assert cg.speed_checks(TIMED_EXERCISE) == {"words_speedup", "images_speedup", "tiny_speedup"}
    assert cg.speed_checks(catalog.exercises()[FAST]) == set()


def test_hyperthread_siblings_stay_in_one_slot(tmp_path):
    for cpu, siblings in {0: "0,2", 1: "1,3", 2: "0,2", 3: "1,3"}.items():
        folder = tmp_path / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / "thread_siblings_list").write_text(siblings + "\n")
    ordered = cg.ordered_cpus({0, 1, 2, 3}, sysfs=tmp_path)
    assert ordered == [0, 2, 1, 3]
    assert cg.split_cores(ordered, 2) == [(0, 2), (1, 3)]
    assert cg.parse_cpu_list("0-2,7") == {0, 1, 2, 7}


# ------------------------------------------------------------------------------------------------
# Submissions, progress
# ------------------------------------------------------------------------------------------------


def test_learner_folders_are_read_as_target_takes_them_or_from_a_notebook(tmp_path):
    exercise = catalog.exercises()[FAST]
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "cities.py").write_text("FLAT = 1\n")
    (tmp_path / "flat" / "conftest.py").write_text("raise SystemExit\n")
    (tmp_path / "nested" / FAST).mkdir(parents=True)
    (tmp_path / "nested" / FAST / "cities.py").write_text("NESTED = 1\n")
    (tmp_path / "notebook" / FAST).mkdir(parents=True)
    cell = nbformat.v4.new_code_cell("%%writefile cities.py\nFROM_NOTEBOOK = 1")
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), tmp_path / "notebook" / FAST / f"{FAST}.ipynb")
    (tmp_path / "empty").mkdir()
    (tmp_path / ".ipynb_checkpoints").mkdir()

    found = {s.learner: s for s in cg.find_submissions(tmp_path, exercise, seed=5)}

    assert sorted(found) == ["empty", "flat", "nested", "notebook"]
    assert found["flat"].files == {"cities.py": "FLAT = 1\n"}
    assert found["nested"].files == {"cities.py": "NESTED = 1\n"}
    assert found["notebook"].files == {"cities.py": "FROM_NOTEBOOK = 1\n"}
    assert found["empty"].files == {} and "no module" in found["empty"].note
    assert {s.seed for s in found.values()} == {5}


def test_the_progress_line_estimates_the_time_left_from_the_schedule():
    now = [0.0]
    lines = []

    class Log:
        def write(self, text):
            lines.append(text)

        def flush(self):
            pass

    progress = cg.Progress(Log(), clock=lambda: now[0])
    progress.start(4, lanes=2, slots=1)
    assert "time left: after the first submission" in lines[-1]
    now[0] = 60.0
    progress.passed(cg.Pass.SIDE_BY_SIDE, 60.0, timed_next=True)
    progress.passed(cg.Pass.TIMED, 30.0)
    progress.graded()
    # 3 first passes of 60 s on 2 lanes (90 s), then 3 timed passes of 30 s expected on 1 slot (90 s)
    assert "1/4 graded" in progress.line() and "~3 min left" in progress.line()
    assert len(lines) == 2  # a log gets a line at most every 10 s: the start, the first pass at 60 s
    now[0] = 200.0
    for _ in range(3):
        progress.graded()
    assert lines[-1].startswith("[" + "#" * cg.Progress.WIDTH + "] 4/4 graded")


def test_the_first_pass_stops_each_speed_check_before_timing_it(tmp_path):
    """graders.classroom.class_timing, loaded into a real grading of the reference solution of 02."""
    files = {p.name: p.read_text() for p in (PROJECT / "solutions" / TIMED_EXERCISE.name).glob("*.py")}
    job = cg.GradingJob(TIMED_EXERCISE.name, files, checks=("tiny_parallel", "tiny_speedup"), defer_speed=True,
                        cores=tuple(sorted(os.sched_getaffinity(0))), timeout=120, seed=3)
    answer = cg.run_grading(job)

    result = cg.exercise_result(answer, TIMED_EXERCISE.name)
    assert answer["outcome"] == "graded", answer["problem"]
    assert result.check("tiny_parallel").status is Status.PASSED
    deferred = result.check("tiny_speedup")
    if len(os.sched_getaffinity(0)) >= 2:
        assert deferred.status is Status.INCONCLUSIVE and deferred.cause == DEFERRED
    else:  # one core: the grader skips speed checks before any timing, deferred or not
        assert deferred.status is Status.SKIPPED
    assert not result.speed  # nothing was timed


# ------------------------------------------------------------------------------------------------
# End to end
# ------------------------------------------------------------------------------------------------


def run_command(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "graders", "class", "grade", *args, "--dashboard-address", ":0"],
        capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL, env=nbgrader_environment(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def read_csv(path: Path) -> dict[str, dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["learner"]: row for row in csv.DictReader(handle)}


def test_a_small_class_is_graded_end_to_end_on_a_local_cluster(tmp_path):
    exercise = catalog.exercises()[FAST]
    classroom = tmp_path / "class"
    submission(classroom / "reference", FAST)
    submission(classroom / "loops", FAST, overlay=GALLERY_ENTRY)
    shutil.copytree(PROJECT / "exercises" / FAST, classroom / "stub" / FAST)
    slots = min(2, len(os.sched_getaffinity(0)))

    result = run_command(str(classroom), "--exercise", FAST, "--out", str(tmp_path / "out"), "--slots", str(slots), "--seed", "11")

    assert "Dask dashboard: http" in result.stdout and "3 graded" in result.stdout
    assert "3/3 graded" in result.stderr  # the progress bar
    rows = read_csv(tmp_path / "out" / "grades.csv")
    checks = [c.name for c in cg.failed_result(exercise, None, (), "").checks]
    assert sorted(rows) == ["loops", "reference", "stub"]
    assert {row["status"] for row in rows.values()} == {"graded"}
    assert rows["reference"]["earned"] == rows["reference"]["total"] == "10"
    assert rows["stub"]["earned"] == "0"
    expect = tomllib.loads((GALLERY_ENTRY / "expect.toml").read_text())
    for name in expect["checks"]:
        assert (rows["loops"][name] == "0") == (name in expect.get("fail", {})), name
    for learner, row in rows.items():
        assert sum(float(row[name]) for name in checks) == float(row["earned"])
        gradescope = json.loads((tmp_path / "out" / "learners" / learner / "results.json").read_text())
        assert gradescope["score"] == float(row["earned"]) and len(gradescope["tests"]) == len(checks)
        assert GradingResults.read(tmp_path / "out" / "learners" / learner / "grading-report.json").exercises
    run = json.loads((tmp_path / "out" / "class-run.json").read_text())
    cores = [tuple(slot["cores"]) for slot in run["slots"]]
    assert len(cores) == slots and len({c for share in cores for c in share}) == sum(map(len, cores))
    for learner, row in rows.items():
        (only,) = run["learners"][learner]["passes"]  # 01 has no speed check: one pass
        assert tuple(only["cores"]) in cores
        settings = GradingResults.read(tmp_path / "out" / "learners" / learner / "grading-report.json").settings
        assert settings["usable_cores"] == len(only["cores"]) and settings["seed"] == 11


@pytest.fixture
def course(tmp_path) -> Path:
    """An nbgrader course of 01 with two students' hand-ins, without nbgrader's slow commands.

    What ``nbgrader generate_assignment`` does to the gradebook (the assignment, its notebook, cells and
    checksums) is done with nbgrader's own preprocessors; the released notebook is the source notebook
    with each module cell's solution replaced by its stub, as ClearSolutions is configured to do.
    """
    nbgrader_api = pytest.importorskip("nbgrader.api", reason="the nbgrader course needs nbgrader: pip install '.[nbgrader]'")
    from nbgrader.preprocessors import ComputeChecksums, SaveCells

    from graders.classroom.course import build, solution_notebook
    from graders.grading.stubs import make_stub

    root = tmp_path / "course"
    build(root, PROJECT, [FAST], "class-course", 60, 10)
    source = nbformat.read(root / "source" / FAST / f"{FAST}.ipynb", as_version=4)
    release = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in release.cells:
        if cell.metadata["nbgrader"]["solution"]:
            magic, _, module = cell.source.partition("\n")
            cell.source = f"{magic}\n{make_stub(module)}"
    url = f"sqlite:///{root / 'gradebook.db'}"
    with nbgrader_api.Gradebook(url, course_id="class-course") as gradebook:
        gradebook.update_or_create_assignment(FAST)
    resources = {"nbgrader": {"notebook": FAST, "assignment": FAST, "db_url": url}}
    SaveCells().preprocess(*ComputeChecksums().preprocess(release, resources))
    for student, handed_in in (("alice", solution_notebook(source)), ("bob", release)):
        folder = root / "submitted" / student / FAST
        folder.mkdir(parents=True)
        nbformat.write(handed_in, folder / f"{FAST}.ipynb")
    return root


def test_an_nbgrader_course_is_graded_into_its_gradebook(course, tmp_path):
    from nbgrader.api import Gradebook

    result = run_command(str(course / "submitted"), "--exercise", FAST, "--out", str(tmp_path / "out"), "--slots", "1")

    assert "gradebook: 2 of 2 submissions" in result.stdout
    rows = read_csv(tmp_path / "out" / "grades.csv")
    assert rows["alice"]["earned"] == "10" and rows["bob"]["earned"] == "0"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="class-course") as gradebook:
        for student, row in rows.items():
            notebook = gradebook.find_submission_notebook(FAST, FAST, student)
            scores = {g.name.removeprefix("test_"): g.auto_score for g in notebook.grades}
            assert scores == {name: float(row[name]) for name in scores}, student
            assert not any(g.needs_manual_grade for g in notebook.grades)
    autograded = nbformat.read(course / "autograded" / "bob" / FAST / f"{FAST}.ipynb", as_version=4)
    errors = [o for c in autograded.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and all(o.ename == "CheckFailed" for o in errors)
    assert "not written yet" in " ".join(errors[0].evalue.split())

    export = subprocess.run([sys.executable, "-m", "nbgrader", "export"], cwd=course, env=nbgrader_environment(),
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert export.returncode == 0, export.stderr
    exported = read_csv_by(course / "grades.csv", "student_id")
    assert float(exported["alice"]["score"]) == 10 and float(exported["bob"]["score"]) == 0


def read_csv_by(path: Path, key: str) -> dict[str, dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row[key]: row for row in csv.DictReader(handle)}


def test_bad_input_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "class").mkdir()
    assert cli.main(["class", "grade", str(tmp_path / "class"), "--exercise", FAST, "--out", str(tmp_path / "out")]) == 2
    assert "holds no learner folder" in capsys.readouterr().err
    assert cli.main(["class", "grade", str(tmp_path / "class"), "--exercise", "99", "--out", str(tmp_path / "out")]) == 2
    assert "unknown exercise" in capsys.readouterr().err
    assert cli.main(["class", "grade", str(tmp_path / "class"), "--exercise", FAST, "--out", str(tmp_path / "out"),
                     "--scheduler", "tcp://127.0.0.1:1", "--slots", "2"]) == 2
    assert "the workers are the slots" in capsys.readouterr().err
