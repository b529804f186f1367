"""A class graded on Dask, scored into its nbgrader course: gradebook, autograded notebooks, feedback.

When ``python -m graders class grade`` is pointed at an nbgrader course's ``submitted/`` tree, the
scores must land where ``nbgrader export`` and ``nbgrader generate_feedback`` look for them, exactly
as ``nbgrader autograde`` would leave them. So the scores are written by nbgrader's own Autograde
converter, run in this process once per student after the class is graded, with the course's own
configuration and one change to its autograde steps (graders.classroom.nbgrader_config's sequence):

- ``GradeModules`` (which would grade the %%writefile cells now) is replaced by ``ClassVerdicts``,
  which hands ``WriteVerdicts`` the verdicts the class grading found, read from a JSON file the
  class grader wrote: each test cell's ``check("<exercise>", "<check>")`` call names its check;
- ``RestartingExecute`` is left out: the learner's own cells are not run (the scores never came from
  the kernel; the feedback page then shows those cells without their output).

Everything else is nbgrader's: the submission and its timestamp in the gradebook, the sanitizing pass
(test cells restored from the source notebook, deleted ones put back), ``autograded/`` notebooks,
``SaveAutoGrades`` scoring each test cell by its output, late penalties. The modules that were graded
are the ones GradeModules would have graded: the submitted notebook's %%writefile cells.
"""
from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from graders.classroom.autograde import VERDICTS, check_call, is_test_cell
from graders.classroom.notebook import Verdict, wrap
from graders.report.model import Status

VERDICTS_FILE = "nbgrader-verdicts.json"
CONFIG_FILE = "nbgrader_config.py"


def course_of(submissions: Path) -> Path | None:
    """The nbgrader course whose ``submitted/`` tree ``submissions`` is, if it is one."""
    root = Path(submissions).resolve()
    course = root.parent
    if root.name == "submitted" and ((course / CONFIG_FILE).is_file() or (course / "gradebook.db").is_file()):
        return course
    return None


def load_config(course: Path):
    """The course's nbgrader configuration (its nbgrader_config.py runs, as nbgrader runs it)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    if (course / CONFIG_FILE).is_file():
        config.merge(PyFileConfigLoader(CONFIG_FILE, path=str(course)).load_config())
    if "root" not in config.CourseDirectory:
        config.CourseDirectory.root = str(course)
    return config


def db_url(course: Path, config) -> str:
    return config.CourseDirectory.get("db_url") or f"sqlite:///{course / 'gradebook.db'}"


def check_assignment(course: Path, assignment: str, config) -> None:
    """Refuse early, before grading, an assignment the gradebook does not know."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url(course, config), config.CourseDirectory.get("course_id", "default_course")) as gradebook:
        try:
            found = gradebook.find_assignment(assignment)
        except MissingEntry:
            raise ValueError(
                f"the gradebook of {course} has no assignment {assignment!r}: run `nbgrader generate_assignment "
                f"{assignment}` first (or pass --assignment, or --no-gradebook)"
            ) from None
        if not found.notebooks:
            raise ValueError(f"assignment {assignment!r} has no notebook in the gradebook of {course}: run nbgrader generate_assignment")


class ClassVerdicts(NbGraderPreprocessor):
    """Each test cell's verdict from the class grading (for WriteVerdicts), instead of grading now."""

    verdicts_file = Unicode("", help="The JSON file of verdicts python -m graders class grade wrote").tag(config=True)

    def preprocess(self, nb, resources):
        data = json.loads(Path(self.verdicts_file).read_text(encoding="utf-8"))
        learner = data["learners"].get(resources["nbgrader"]["student"])
        verdicts = {}
        for cell in nb.cells:
            if is_test_cell(cell):
                grade_id = cell.metadata["nbgrader"]["grade_id"]
                verdicts[grade_id] = cell_verdict(data["exercise"], learner, check_call(cell.source), grade_id)
        resources[VERDICTS] = verdicts
        return nb, resources


def cell_verdict(exercise: str, learner: dict | None, call: tuple[str, str] | None, grade_id: str) -> Verdict:
    if call is None:
        return Verdict("", f"{grade_id} is not a check cell of this course (it must call check(EXERCISE, CHECK))", Status.FAILED)
    if learner is None:
        return Verdict("", wrap(f"{call[1]}: this submission was not graded by the class grading"), Status.FAILED)
    if call[0] != exercise:
        return Verdict("", wrap(f"{call[1]} is a check of {call[0]}; the class grading graded {exercise}"), Status.FAILED)
    found = learner["checks"].get(call[1])
    if found is None:
        problem = learner.get("problem") or f"{exercise} has no check {call[1]!r}"
        return Verdict("", wrap(f"{call[1]}: {problem}"), Status.FAILED)
    return Verdict(found["printed"], found["message"], Status(found["status"]))


def autograde_steps() -> list[str]:
    """The course's autograde steps with the class verdicts in place of grading and executing."""
    from graders.classroom.nbgrader_config import AUTOGRADE_PREPROCESSORS

    steps = []
    for name in AUTOGRADE_PREPROCESSORS:
        if name.endswith(".GradeModules"):
            steps.append(f"{__name__}.ClassVerdicts")
        elif not name.endswith(".RestartingExecute"):
            steps.append(name)
    return steps


def write(course: Path, assignment: str, exercise: str, learners: dict[str, dict], out: Path, log=print) -> list[str]:
    """Autograde every learner of ``learners`` ({student: {"checks": ..., "problem": ...}}) from its verdicts.

    Returns the problems met (a student nbgrader could not autograde), each in one line.
    """
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory

    path = Path(out) / VERDICTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exercise": exercise, "learners": learners}, indent=2), encoding="utf-8")
    config = load_config(course)
    config.Autograde.autograde_preprocessors = autograde_steps()
    config.ClassVerdicts.verdicts_file = str(path.resolve())
    problems = []
    quiet = logging.getLogger("graders.class.nbgrader")
    quiet.setLevel(logging.ERROR)
    for student in learners:
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = assignment
        coursedir.student_id = student
        app = Autograde(coursedir=coursedir, config=config, log=quiet)
        app.force = True
        app.create_student = True
        try:
            with warnings.catch_warnings():
                # SQLAlchemy's notes on nbgrader's own session use (the same under nbgrader autograde).
                warnings.filterwarnings("ignore", module="nbgrader")
                warnings.filterwarnings("ignore", message=".*not in session.*")
                app.start()
        except Exception as exc:  # nbgrader's own refusal (no notebook, unknown notebook...): say it, go on
            problems.append(f"{student}: nbgrader could not autograde this submission ({type(exc).__name__}: {exc})")
    log(f"gradebook: {len(learners) - len(problems)} of {len(learners)} submissions of {assignment} scored "
        f"({db_url(course, config)}); autograded notebooks in {course / 'autograded'}")
    return problems
