"""The nbgrader course generator (graders.classroom.course) and the test-cell helper (graders.classroom.notebook), without autograde.

The full classroom path (generate_assignment, autograde, export, feedback) is the end-to-end test in
graders/tests/e2e_nbgrader (``tox -e nbgrader``); here: what the generator writes, one real
``nbgrader generate_assignment`` (a few seconds), ``check`` on real grader runs of exercise 01, the
autograde steps that score from outside the kernel (with real kernels running a learner's tampering
cells), and the feedback page (rendered in headless Chromium when it is installed).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from graders.grading import catalog
from graders import cli
from graders.classroom import course, nbgrader_config, notebook
from graders.grading.stubs import make_stub, strip_markers
from graders.report.model import CheckResult, GradingResults
from graders.tests.conftest import PROJECT, committed, nbgrader_environment
from graders.tests.e2e_nbgrader.learners import TAMPERING

EXERCISES = sorted(n for n in catalog.exercises() if (PROJECT / "solutions" / n).is_dir())
FAST = "01_functional"


def cells_by_kind(nb) -> dict[str, list]:
    kinds: dict[str, list] = {"solution": [], "test": [], "locked": []}
    for cell in nb.cells:
        meta = cell.metadata["nbgrader"]
        kinds["test" if meta["grade"] else "solution" if meta["solution"] else "locked"].append(cell)
    return kinds


def grader_report(folder: Path, exercise: catalog.Exercise, tmp_path: Path) -> GradingResults:
    report = tmp_path / f"{exercise.name}.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", str(exercise.grader_path), "--target", str(folder), "--grading-report", str(report),
         "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path, capture_output=True, timeout=600,
    )
    return GradingResults.read(report)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("course")
    course.build(root, PROJECT, course_id="unit", cell_timeout=120, call_timeout=20)
    return root


def read_source(root: Path, name: str):
    return nbformat.read(root / "source" / name / f"{name}.ipynb", as_version=4)


def test_build_writes_config_and_one_notebook_per_exercise_and_no_python_file(built):
    assert sorted(p.name for p in (built / "source").iterdir()) == EXERCISES
    for name in EXERCISES:
        assert sorted(p.name for p in (built / "source" / name).iterdir()) == [f"{name}.ipynb"]
    assert not [p for p in built.rglob("*.py") if p.name != "nbgrader_config.py"]
    config = (built / "nbgrader_config.py").read_text()
    assert "c.CourseDirectory.course_id = 'unit'" in config
    assert "c.Execute.timeout = 120" in config and "c.Execute.raise_on_iopub_timeout = False" in config
    assert f'os.environ["{notebook.CALL_TIMEOUT_ENV}"] = "20"' in config


@pytest.mark.parametrize("name", EXERCISES)
def test_cells_carry_nbgrader_schema_3_metadata(built, name):
    nb = read_source(built, name)
    nbformat.validate(nb)
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells]
    assert len(ids) == len(set(ids))
    for cell in nb.cells:
        meta = cell.metadata["nbgrader"]
        assert meta["schema_version"] == 3
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", cell.id)
        if meta["grade"]:
            assert (cell.cell_type, meta["solution"], meta["locked"]) == ("code", False, True) and meta["points"] > 0
        elif meta["solution"]:
            assert (cell.cell_type, meta["locked"]) == ("code", False) and "points" not in meta
        else:
            assert (cell.cell_type, meta["locked"]) == ("markdown", True)
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("name", EXERCISES)
def test_module_cells_write_the_reference_solution_with_its_markers(built, name):
    exercise = catalog.exercises()[name]
    solutions = cells_by_kind(read_source(built, name))["solution"]
    assert [c.source.split("\n", 1)[0] for c in solutions] == [f"%%writefile {m}.py" for m in exercise.modules]
    for cell, module in zip(solutions, exercise.modules):
        body = cell.source.split("\n", 1)[1]
        assert body + "\n" == (PROJECT / "solutions" / name / f"{module}.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", EXERCISES)
def test_test_cells_are_the_grader_checks_with_their_points(built, name, tmp_path, pristine):
    exercise = catalog.exercises()[name]
    tests = cells_by_kind(read_source(built, name))["test"]
    in_notebook = {c.metadata["nbgrader"]["grade_id"].removeprefix("test_"): c.metadata["nbgrader"]["points"] for c in tests}
    # Independently of how the generator reads the markers: the points the grader itself reports.
    report = grader_report(pristine / name, exercise, tmp_path)
    reported = {c.name: c.points for e in report.exercises for c in e.checks}
    assert in_notebook == reported
    for cell in tests:
        check_name = cell.metadata["nbgrader"]["grade_id"].removeprefix("test_")
        assert cell.source.endswith(f'from graders.classroom.notebook import check\ncheck("{name}", "{check_name}")')
        # Named: its first line is the check's name and points, which the feedback index shows.
        assert cell.source.split("\n")[0] == f"# Check {check_name} ({in_notebook[check_name]:g} point{'s' if in_notebook[check_name] != 1 else ''})"


@pytest.mark.parametrize("name", EXERCISES)
def test_the_notebook_says_to_run_its_check_cells_not_pytest(built, name):
    text = "\n".join(cell.source for cell in read_source(built, name).cells if cell.cell_type == "markdown")
    assert "pytest exercises" not in text
    readme = PROJECT / "exercises" / name / "README.md"
    if "pytest exercises" in readme.read_text(encoding="utf-8"):
        assert re.search(r"check(\*\*)? cells at the end of this notebook", text)


def test_notebook_readme_replaces_command_blocks_and_quoted_commands():
    text = (
        "Grade it:\n\n    pytest exercises/02_x\n    pytest exercises/02_x --start-method spawn   # also\n\n"
        "Grade your work with `pytest exercises/03_x` (a few seconds).\n\n    python cluster.py\n"
    )
    assert course.notebook_readme(text) == (
        f"Grade it:\n\n{course.GRADE_IN_NOTEBOOK}\n\n"
        "Grade your work with the check cells at the end of this notebook (a few seconds).\n\n    python cluster.py\n"
    )


def test_the_readme_explains_the_notebook_when_there_is_one(tmp_path):
    root = tmp_path / "project"
    (root / "solutions" / FAST).mkdir(parents=True)
    (root / "exercises" / FAST).mkdir(parents=True)
    for module in catalog.exercises()[FAST].modules:
        (root / "solutions" / FAST / f"{module}.py").write_text((PROJECT / "solutions" / FAST / f"{module}.py").read_text())
    exercise = catalog.exercises()[FAST]
    without = course.build_notebook(exercise, root).cells[0].source
    assert without.startswith(f"# {exercise.title}\n") and "## How this notebook works" in without
    (root / "exercises" / FAST / "README.md").write_text("# Cities\n\nMap and filter them.\n")
    with_readme = course.build_notebook(exercise, root).cells[0].source
    assert with_readme.startswith("# Cities\n\nMap and filter them.") and exercise.title not in with_readme


def test_async_exercises_say_how_to_await_in_a_notebook(tmp_path):
    exercise = catalog.Exercise("01_functional", "t", catalog.exercises()[FAST].grader, ("job",))
    (tmp_path / "solutions" / FAST).mkdir(parents=True)
    (tmp_path / "solutions" / FAST / "job.py").write_text("async def main():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")
    assert "await main()" in course.build_notebook(exercise, tmp_path).cells[0].source


def test_solution_notebook_is_the_source_without_markers(built):
    source = read_source(built, FAST)
    solved = course.solution_notebook(source)
    for before, after in zip(source.cells, solved.cells):
        if before.metadata["nbgrader"]["solution"]:
            head, _, body = before.source.partition("\n")
            assert after.source == head + "\n" + strip_markers(body + "\n").rstrip("\n")
        else:
            assert after.source == before.source
    assert "BEGIN SOLUTION" in nbformat.writes(source)


def test_generate_assignment_releases_exactly_the_stubs_and_no_solution(built):
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", FAST],
        cwd=built, env=nbgrader_environment(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    release = built / "release" / FAST
    assert sorted(p.name for p in release.iterdir()) == [f"{FAST}.ipynb"]
    released = nbformat.read(release / f"{FAST}.ipynb", as_version=4)
    source = read_source(built, FAST)
    exercise = catalog.exercises()[FAST]
    modules = [c for c in released.cells if c.source.startswith("%%writefile")]
    for cell, module in zip(modules, exercise.modules, strict=True):
        solution = (PROJECT / "solutions" / FAST / f"{module}.py").read_text()
        body = cell.source.split("\n", 1)[1] + "\n"
        assert body == make_stub(solution) == committed(PROJECT / "exercises" / FAST / f"{module}.py")
    solution_lines = {
        line for c in cells_by_kind(source)["solution"] for line in course.solution_notebook(source).cells[source.cells.index(c)].source.splitlines()
    } - {line for c in modules for line in c.source.splitlines()}
    text = nbformat.writes(released)
    assert "BEGIN SOLUTION" not in text
    assert [line for line in solution_lines if len(line.strip()) > 8 and line in text.splitlines()] == []
    tests = {c.metadata["nbgrader"]["grade_id"]: c.source for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert tests == {c.metadata["nbgrader"]["grade_id"]: c.source for c in cells_by_kind(source)["test"]}


def test_config_keeps_nbgrader_autograde_steps_and_scores_from_outside_the_kernel():
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute, SaveAutoGrades
    from traitlets.utils.importstring import import_item

    from graders.classroom.autograde import GradeModules, RestartingExecute, WriteVerdicts

    ours = [import_item(name) for name in nbgrader_config.AUTOGRADE_PREPROCESSORS]
    assert RestartingExecute in ours and issubclass(RestartingExecute, Execute)
    # Graded before any kernel runs a learner's cell; written right before nbgrader scores the cells.
    assert ours[0] is GradeModules and ours.index(RestartingExecute) == 1
    assert ours[ours.index(SaveAutoGrades) - 1] is WriteVerdicts
    nbgraders = [Execute if p is RestartingExecute else p for p in ours if p not in (GradeModules, WriteVerdicts)]
    assert nbgraders == Autograde.class_traits()["autograde_preprocessors"].default()


def test_config_loads_in_traitlets_and_sets_what_the_kernel_reads(built, monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    for name in (notebook.CELL_TIMEOUT_ENV, notebook.CALL_TIMEOUT_ENV):
        monkeypatch.delenv(name, raising=False)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(built)).load_config()
    assert config.Execute.timeout == 120 and config.Execute.raise_on_iopub_timeout is False
    assert config.CourseDirectory.root == str(built)
    assert config.ClearSolutions.code_stub == {"python": "raise NotImplementedError"}
    assert config.GenerateFeedback.exporter_class == "graders.classroom.autograde.FeedbackExporter"
    assert os.environ[notebook.CELL_TIMEOUT_ENV] == "120" and os.environ[notebook.CALL_TIMEOUT_ENV] == "20"


def test_a_call_timeout_near_the_cell_timeout_is_refused(tmp_path):
    with pytest.raises(ValueError, match="call timeout"):
        course.build(tmp_path, PROJECT, [FAST], cell_timeout=30, call_timeout=20)


def test_build_refuses_python_files_in_source_and_keeps_a_hand_edited_config(tmp_path, capsys):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    course.build(tmp_path, PROJECT, [FAST])
    assert (tmp_path / "nbgrader_config.py").read_text() == "c = get_config()\n"
    assert "kept" in capsys.readouterr().out
    (tmp_path / "source" / FAST / "cities.py").write_text("x = 1\n")
    with pytest.raises(ValueError, match="verbatim"):
        course.build(tmp_path, PROJECT, [FAST])


def test_unknown_exercise_and_cli_errors_exit_2(tmp_path, capsys):
    assert cli.main(["course", "build", str(tmp_path), "--root", str(PROJECT), "--exercises", "99_nope"]) == 2
    assert "unknown exercise" in capsys.readouterr().err


def test_parametrized_checks_are_refused(tmp_path, monkeypatch):
    (tmp_path / "fake_grader.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.points(2)
        def test_one(target):
            pass

        @pytest.mark.parametrize("x", [1, 2])
        def test_two(target, x):
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    exercise = catalog.Exercise("x", "t", "fake_grader", ("m",))
    with pytest.raises(ValueError, match="parametrized"):
        course.grader_checks(exercise)


def test_inconclusive_lists_students_to_grade_again(tmp_path, capsys):
    folder = tmp_path / "autograded" / "ann" / "a1"
    folder.mkdir(parents=True)
    cell = nbformat.v4.new_code_cell("check()", metadata={"nbgrader": {"grade": True, "grade_id": "test_words_speedup"}})
    cell.outputs = [nbformat.v4.new_output("error", ename="CheckInconclusive", evalue=f"{notebook.INCONCLUSIVE}: busy", traceback=[])]
    # A failure whose message merely mentions the word is not inconclusive: the verdict is the error's type.
    failed = nbformat.v4.new_code_cell("check()", metadata={"nbgrader": {"grade": True, "grade_id": "test_words_results"}})
    failed.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue="words_results: INCONCLUSIVE was printed", traceback=[])]
    passed = nbformat.v4.new_code_cell("check()", metadata={"nbgrader": {"grade": True, "grade_id": "test_other"}})
    nbformat.write(nbformat.v4.new_notebook(cells=[cell, failed, passed]), folder / "a1.ipynb")
    assert course.inconclusive(tmp_path, "a1") == {"ann": ["test_words_speedup"]}
    assert cli.main(["course", "inconclusive", str(tmp_path), "a1"]) == 0
    assert "nbgrader autograde a1 --student ann --force" in capsys.readouterr().out


# --- graders.classroom.notebook.check, on real grader runs of exercise 01 (about 4 s each) ---------------------


@pytest.fixture
def folder(tmp_path) -> Path:
    for module in catalog.exercises()[FAST].modules:
        (tmp_path / f"{module}.py").write_text((PROJECT / "solutions" / FAST / f"{module}.py").read_text())
    notebook._STATES.clear()
    return tmp_path


def test_check_passes_quietly_and_runs_the_grader_once_per_module_contents(folder, capfd, monkeypatch):
    runs = []
    real = notebook.run_grader
    monkeypatch.setattr(notebook, "run_grader", lambda *a, **k: runs.append(a) or real(*a, **k))
    assert notebook.check(FAST, "lower_names", folder) is None
    assert notebook.check(FAST, "mark_visited", folder) is None
    out, err = capfd.readouterr()
    assert err == "" and "lower_names: passed, 1 point." in out and "mark_visited: passed" in out
    assert len(runs) == 1
    cities = folder / "cities.py"
    cities.write_text(cities.read_text().replace('return {**city, "visited": True}', "return toggle_visited(city)"))
    with pytest.raises(notebook.CheckFailed, match="mark_visited") as failure:
        notebook.check(FAST, "mark_visited", folder)
    assert len(runs) == 2 and "Hint: " in str(failure.value)
    assert capfd.readouterr().err == ""


def test_check_fails_a_stub_with_the_graders_message_and_hint(tmp_path):
    for module in catalog.exercises()[FAST].modules:
        (tmp_path / f"{module}.py").write_text(make_stub((PROJECT / "solutions" / FAST / f"{module}.py").read_text()))
    notebook._STATES.clear()
    with pytest.raises(notebook.CheckFailed) as failure:
        notebook.check(FAST, "cities_above", tmp_path)
    message = str(failure.value)
    assert all(len(line) <= notebook.WIDTH for line in message.splitlines())
    message = " ".join(message.split())  # wrapped at notebook.WIDTH columns
    # The hint is the one for what was observed (a function not written yet), as in the terminal.
    hint = catalog.exercises()[FAST].hint("cities_above", "not_implemented")
    assert hint != catalog.exercises()[FAST].hint("cities_above")
    assert "not written yet" in message and " ".join(hint.split()) in message
    assert "Traceback" not in message and "graders/suite" not in message


def test_unknown_check_or_exercise_fails_clearly(folder):
    with pytest.raises(notebook.CheckFailed, match="not a check of"):
        notebook.check(FAST, "no_such_check", folder)
    with pytest.raises(notebook.CheckFailed, match="unknown exercise"):
        notebook.check("99_nope", "x", folder)


def test_a_grader_that_overruns_the_cell_budget_is_killed_with_its_processes(folder, monkeypatch, capsys):
    cities = folder / "cities.py"
    cities.write_text(cities.read_text() + "\nimport time\nwhile True:\n    time.sleep(0.05)\n")
    monkeypatch.setenv(notebook.CELL_TIMEOUT_ENV, "16")  # budget 10 s, far below the import timeout
    started = time.monotonic()
    with pytest.raises(notebook.CheckFailed, match="did not finish within"):
        notebook.check(FAST, "lower_names", folder)
    assert time.monotonic() - started < 15
    # The whole grader had half the budget; then the check ran alone with the rest.
    assert "grading lower_names alone" in " ".join(capsys.readouterr().out.split())
    time.sleep(0.2)
    alive = [p for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, alive
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(folder) in " ".join(p.info["cmdline"] or [])]


def test_inconclusive_is_measured_again_then_scores_zero_with_a_label(folder, monkeypatch, capsys):
    outcomes = iter(["inconclusive", "inconclusive", "passed"])
    calls = []

    def fake(exercise, target, checks=(), *, deadline):
        calls.append(checks)
        outcome = next(outcomes)
        names = checks or ("tiny_speedup", "other")
        return notebook.GraderRun(results={n: CheckResult(n, 2.0, outcome if n == "tiny_speedup" else "passed", "busy") for n in names})

    monkeypatch.setattr(notebook, "run_grader", fake)
    with pytest.raises(notebook.CheckFailed, match=f"^{notebook.INCONCLUSIVE}: tiny_speedup"):
        notebook.check(FAST, "tiny_speedup", folder)
    assert calls == [(), ("tiny_speedup",)]
    assert "measuring again (1/1)" in capsys.readouterr().out
    # Run again (the learner re-runs the cell): the next measurement passes.
    assert notebook.check(FAST, "tiny_speedup", folder) is None


def test_a_skipped_check_is_not_applicable_and_keeps_its_points(capsys):
    exercise = catalog.exercises()[FAST]
    assert notebook.verdict(exercise, CheckResult("x_speedup", 1.0, "skipped", "only 1 usable core")).message is None
    assert "not applicable here (only 1 usable core); 1 point given" in capsys.readouterr().out


def test_when_the_whole_grader_overruns_each_cell_grades_its_own_check(folder, monkeypatch, capsys):
    calls = []

    def fake(exercise, target, checks=(), *, deadline):
        calls.append((checks, round(deadline - time.monotonic())))
        if not checks:
            return notebook.GraderRun(problem="the grader did not finish within 40 s")
        return notebook.GraderRun(results={checks[0]: CheckResult(checks[0], 1.0, "passed")})

    monkeypatch.setattr(notebook, "run_grader", fake)
    monkeypatch.setenv(notebook.CELL_TIMEOUT_ENV, "100")
    assert notebook.check(FAST, "lower_names", folder) is None
    assert notebook.check(FAST, "cities_above", folder) is None
    # The whole grader had half of the 90 s budget, each check alone the time left in its cell.
    assert [c for c, _ in calls] == [(), ("lower_names",), ("cities_above",)]
    assert calls[0][1] == 45 and calls[1][1] in (89, 90) and calls[2][1] in (89, 90)


def test_a_failed_check_shows_its_message_without_frames_in_ipython():
    lines = notebook.CheckFailed("words_results: got 3 words\nHint: keep the order")._render_traceback_()
    assert lines[-1].endswith("CheckFailed\x1b[0m: words_results: got 3 words\nHint: keep the order")
    assert not any("File " in line or "notebook.py" in line for line in lines)


# --- autograde: the score comes from outside the kernel (graders.classroom.autograde) ---------------------------


def learner_notebook(built: Path, stubs: bool, own_cells: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """The notebook of exercise 01 as a learner hands it in: the stubs or the reference solution, then ``own_cells``."""
    source = read_source(built, FAST)
    handed_in = course.solution_notebook(source)
    for before, after in zip(source.cells, handed_in.cells):
        if stubs and before.metadata["nbgrader"]["solution"]:
            head, _, body = before.source.partition("\n")
            after.source = head + "\n" + make_stub(body + "\n").rstrip("\n")
    last = max(i for i, c in enumerate(handed_in.cells) if c.source.startswith("%%writefile"))
    for offset, code in enumerate(own_cells, start=1):
        handed_in.cells.insert(last + offset, nbformat.v4.new_code_cell(code))
    return handed_in


def run_steps(nb, folder: Path, steps) -> dict[str, tuple[float, str]]:
    """Run nbgrader preprocessors like ``nbgrader autograde``; each test cell's (score, text of its outputs)."""
    from nbgrader.utils import determine_grade

    from graders.classroom.autograde import is_test_cell

    resources = {"metadata": {"path": str(folder)}}
    for step in steps:
        nb, resources = step.preprocess(nb, resources)
    scores = {}
    for cell in nb.cells:
        if is_test_cell(cell):
            text = "".join(o.get("text", "") + f"{o.get('ename', '')}\n{o.get('evalue', '')}\n" * (o.output_type == "error") for o in cell.outputs)
            scores[cell.metadata["nbgrader"]["grade_id"].removeprefix("test_")] = (determine_grade(cell)[0], text)
    return scores


def kernel(timeout: int = 60):
    from graders.classroom.autograde import RestartingExecute

    return RestartingExecute(timeout=timeout, kernel_name="python3")


def test_saved_files_are_the_writefile_cells_text_before_the_checks():
    cells = [
        nbformat.v4.new_code_cell("%%writefile cities.py\nx = 1"),
        nbformat.v4.new_code_cell("%%writefile -a cities.py\ny = 2\n"),
        nbformat.v4.new_code_cell("\n  \n%%file helper.py\nz = 3"),
        nbformat.v4.new_code_cell("# a comment first: IPython runs this as Python, no file is written\n%%writefile cities.py\nx = 0"),
        nbformat.v4.new_code_cell("%%writefile ../escape.py\nboom()"),
        nbformat.v4.new_code_cell("%%writefile /tmp/abs.py\nboom()"),
        nbformat.v4.new_code_cell("open('other.py', 'w').write('written by the kernel, not a cell')"),
        nbformat.v4.new_code_cell("%%writefile ./helper.py\nz = 4"),
        nbformat.v4.new_code_cell("check()", metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "test_a"}}),
        nbformat.v4.new_code_cell("%%writefile cities.py\nafter = 'the checks'"),
    ]
    from graders.classroom.autograde import saved_files

    assert saved_files(nbformat.v4.new_notebook(cells=cells)) == {"cities.py": "x = 1\ny = 2\n", "helper.py": "z = 4\n"}


def test_check_call_reads_only_a_plain_check_call():
    from graders.classroom.autograde import check_call

    assert check_call('# Check a (1 point)\nfrom graders.classroom.notebook import check\ncheck("01_functional", "a")') == ("01_functional", "a")
    for source in ("check(EXERCISE, 'a')", "print('all good')", "check('x', 'a'); check('x', 'b')", "check('x', 'a', folder='.')", "def ("):
        assert check_call(source) is None


def test_in_autograde_the_kernel_does_not_grade_and_a_cell_left_so_scores_zero(monkeypatch):
    monkeypatch.setenv(notebook.SCORED_OUTSIDE_ENV, "1")
    monkeypatch.setattr(notebook, "run_grader", lambda *a, **k: pytest.fail("the kernel graded during autograde"))
    with pytest.raises(notebook.GradedOutsideKernel, match="graded outside"):
        notebook.check(FAST, "lower_names")
    from graders.classroom.autograde import WriteVerdicts

    cell = nbformat.v4.new_code_cell("check()", metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "test_a", "points": 1}})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a: passed, 1 point.\n")]
    nb, _ = WriteVerdicts().preprocess(nbformat.v4.new_notebook(cells=[cell]), {})
    from nbgrader.utils import determine_grade

    # No verdict (GradeModules did not run): the cell scores 0 and says why, whatever the kernel printed.
    assert determine_grade(nb.cells[0]) == (0, 1.0) and "GradeModules" in nb.cells[0].outputs[0]["evalue"]


@pytest.mark.parametrize("tampering", sorted(TAMPERING))
def test_each_tampering_cell_forges_the_kernels_test_cells(built, tmp_path, tampering, monkeypatch):
    """The attack is real: in the kernel (as while the learner works, or as the old autograde scored),
    stub modules pass every check after this cell. The next test shows it changes no score."""
    monkeypatch.delenv(notebook.SCORED_OUTSIDE_ENV, raising=False)
    monkeypatch.setenv(notebook.CELL_TIMEOUT_ENV, "60")
    nb = learner_notebook(built, stubs=True, own_cells=(TAMPERING[tampering],))
    scores = run_steps(nb, tmp_path, [kernel()])
    assert len(scores) == len(course.grader_checks(catalog.exercises()[FAST]))
    forged = {name: text for name, (score, text) in scores.items() if score}
    assert set(forged) == set(scores), {n: t for n, (s, t) in scores.items() if not s}
    assert all("passed" in text for text in forged.values())


def test_autograde_scores_the_writefile_cells_whatever_the_learners_cells_did(built, tmp_path, monkeypatch):
    from graders.classroom.autograde import GradeModules, WriteVerdicts

    monkeypatch.delenv(notebook.SCORED_OUTSIDE_ENV, raising=False)
    monkeypatch.setenv(notebook.CELL_TIMEOUT_ENV, "120")
    nb = learner_notebook(built, stubs=True, own_cells=tuple(TAMPERING.values()))
    scores = run_steps(nb, tmp_path, [GradeModules(), kernel(), WriteVerdicts()])
    assert scores and not {name: text for name, (score, text) in scores.items() if score != 0}
    for name, (_, text) in scores.items():
        assert "CheckFailed" in text and "not written yet" in " ".join(text.split()), (name, text)
        assert all(len(line) <= notebook.WIDTH for line in text.splitlines() if " " in line.strip()), text
    assert notebook.SCORED_OUTSIDE_ENV not in os.environ
    assert not [key for key in notebook._STATES if "graders-autograde-" in key[1]]  # forgotten with its folder
    # Every tampering cell ran in the kernel without an error (the end-to-end learner hands in the same).
    own = [c for c in nb.cells if c.cell_type == "code" and c.source in TAMPERING.values()]
    assert len(own) == len(TAMPERING) and not [o for c in own for o in c.outputs if o.output_type == "error"]
    # The shadow package the kernel wrote is still in the folder: nothing of the grading read it.
    assert (tmp_path / "graders" / "classroom" / "notebook.py").exists()


def test_autograde_gives_the_points_the_modules_earn_whatever_the_kernel_printed(built, tmp_path, monkeypatch):
    from graders.classroom.autograde import GradeModules, WriteVerdicts

    monkeypatch.setenv(notebook.CELL_TIMEOUT_ENV, "120")
    nb = learner_notebook(built, stubs=False)
    for cell in nb.cells:  # what a kernel that crashed in every test cell would have left
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.outputs = [nbformat.v4.new_output("error", ename="KernelRestarted", evalue="died", traceback=[])]
    # No kernel at all: the verdicts do not need one.
    scores = run_steps(nb, tmp_path, [GradeModules(), WriteVerdicts()])
    points = {c.name: c.points for c in course.grader_checks(catalog.exercises()[FAST])}
    assert {name: score for name, (score, _) in scores.items()} == points, scores
    assert "Graded 01_functional" in next(iter(scores.values()))[1]


# --- the feedback page a learner reads (graders.classroom.autograde.FeedbackExporter) ---------------------------

LONG_MESSAGE = (
    "cities_above: cities_above(<5 cities: Berlin, Auckland, London, Sheffield, Christchurch>, 1.0) returned "
    "['Berlin', 'London'], expected the records themselves, in their order, for every city above 1.0 million "
    "inhabitants (a city exactly at the threshold is not kept) /srv/course/autograded/some-student/"
    "01_functional/a_rather_long_path_name_that_has_no_space_in_it_at_all.py\nHint: " + "filter keeps the records. " * 8
)


def feedback_html(nb, exporter_class) -> str:
    """The page ``nbgrader generate_feedback`` writes for ``nb`` (configured as GenerateFeedback configures it)."""
    import nbgrader
    from traitlets.config import Config

    templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [str(templates)]
    config.HTMLExporter.extra_template_paths = [str(templates.parent / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    resources = {"nbgrader": {"notebook": FAST, "score": 1.0, "max_score": 3.0, "late_penalty": 0}}
    html_text, _ = exporter_class(config=config).from_notebook_node(nb, resources=resources)
    return html_text


def graded_notebook(built: Path, wrapped: bool = True) -> nbformat.NotebookNode:
    """Exercise 01 after WriteVerdicts, with the scores GetGrades would add: two checks failed, one with a long
    message (as ``graders.classroom.notebook`` wraps it, or in one line as it used to be)."""
    from graders.classroom.autograde import WriteVerdicts, is_test_cell

    nb = learner_notebook(built, stubs=False)
    verdicts = {}
    for cell in nb.cells:
        if is_test_cell(cell):
            name = cell.metadata["nbgrader"]["grade_id"].removeprefix("test_")
            message = (notebook.wrap(LONG_MESSAGE) if wrapped else LONG_MESSAGE) if name == "cities_above" else (f"{name}: not written yet" if name == "lower_names" else None)
            verdicts[cell.metadata["nbgrader"]["grade_id"]] = notebook.Verdict("" if message else f"{name}: passed, 1 point.\n", message)
    nb, _ = WriteVerdicts().preprocess(nb, {"graders_verdicts": verdicts})
    for cell in nb.cells:
        if is_test_cell(cell):
            cell.metadata["nbgrader"]["score"] = 0.0 if cell.outputs[-1].output_type == "error" else cell.metadata["nbgrader"]["points"]
    return nb


def test_feedback_index_names_every_check_and_long_lines_wrap(built):
    from nbconvert.exporters import HTMLExporter

    from graders.classroom.autograde import FeedbackExporter

    nb = graded_notebook(built)
    page = feedback_html(nb, FeedbackExporter)
    names = [c.name for c in course.grader_checks(catalog.exercises()[FAST])]
    toc = page[page.index('<div id="toc">'):page.index("</ol>")]
    assert "Test cell" not in toc and "Grade cell:" not in page
    for name in names:
        assert f'<a href="#test_{name}">Check <code>{name}</code></a>' in toc
    assert "white-space: pre-wrap" in page
    # Every line of a check's message, as the cell holds it, fits the width (words are never split).
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("evalue", "").splitlines():
                assert len(line) <= notebook.WIDTH or " " not in line.strip(), line
    # nbgrader's own page, for comparison: the index says "Test cell" for each check.
    assert feedback_html(nb, HTMLExporter).count(">Test cell</a>") == len(names)


OVERFLOW_PROBE = """
<script>
(function () {
  var cut = [];
  document.querySelectorAll("div.output_area pre, div.input_area pre, #toc a").forEach(function (el) {
    var right = el.getBoundingClientRect().right;
    if (el.scrollWidth > el.clientWidth + 1 || right > window.innerWidth) {
      cut.push(el.textContent.slice(0, 60));
    }
  });
  var names = Array.prototype.map.call(document.querySelectorAll("#toc a"), function (a) { return a.textContent; });
  var probe = document.createElement("div");
  probe.id = "graders-probe";
  probe.textContent = JSON.stringify({cut: cut, names: names});
  document.body.appendChild(probe);
})();
</script>
"""


def chromium() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def what_chromium_shows(page: str, folder: Path, screenshot: Path | None = None) -> dict:
    """Load ``page`` in headless Chromium at 1200x1600: the index's names and the text cut off at the right edge."""
    path = folder / "page.html"
    path.write_text(page.replace("</body>", OVERFLOW_PROBE + "</body>"), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--window-size=1200,1600"]
    result = subprocess.run(
        [chromium(), *flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120,
        cwd=folder, env={**os.environ, "HOME": str(folder)},
    )
    found = re.search(r'<div id="graders-probe">(.*?)</div>', result.stdout)
    assert found, result.stderr[-2000:]
    if screenshot is not None:
        path.write_text(page, encoding="utf-8")
        subprocess.run([chromium(), *flags, f"--screenshot={screenshot}", path.as_uri()], capture_output=True, timeout=120,
                       cwd=folder, env={**os.environ, "HOME": str(folder)})
    import html as html_module

    return json.loads(html_module.unescape(found.group(1)))


@pytest.mark.skipif(chromium() is None, reason="headless Chromium is not installed (apt-get install chromium): the page is checked as HTML only")
def test_feedback_page_in_chromium_shows_names_and_cuts_nothing_off(built, tmp_path):
    from nbconvert.exporters import HTMLExporter

    from graders.classroom.autograde import FeedbackExporter

    names = [c.name for c in course.grader_checks(catalog.exercises()[FAST])]
    shown = what_chromium_shows(feedback_html(graded_notebook(built), FeedbackExporter), tmp_path, screenshot=tmp_path / "feedback.png")
    assert shown["names"] == [f"Check {name}" for name in names]
    assert shown["cut"] == [], shown["cut"]
    assert (tmp_path / "feedback.png").stat().st_size > 10_000
    # A message in one long line (as test cells used to print them): nbgrader's own page cuts it off at
    # the right edge and names no check; the course's page wraps it all the same.
    unwrapped = graded_notebook(built, wrapped=False)
    stock = what_chromium_shows(feedback_html(unwrapped, HTMLExporter), tmp_path)
    assert stock["names"].count("Test cell") == len(names)
    assert any(LONG_MESSAGE[:40] in text for text in stock["cut"]), stock["cut"]
    assert what_chromium_shows(feedback_html(unwrapped, FeedbackExporter), tmp_path)["cut"] == []
