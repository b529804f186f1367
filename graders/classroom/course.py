"""An nbgrader course generated from the exercises: one assignment notebook per exercise.

    python -m graders course build COURSE_DIR [--course-id ID] [--exercises NAME ...]
                                   [--cell-timeout S] [--call-timeout S] [--start-method M]
    python -m graders course inconclusive COURSE_DIR ASSIGNMENT

``build`` writes ``COURSE_DIR/nbgrader_config.py`` and ``COURSE_DIR/source/<exercise>/<exercise>.ipynb``
for every exercise of the catalogue (graders/exercises.toml). Nothing is written by hand and nothing is
copied: each notebook is generated from the project's single sources of truth,

- the exercise's ``exercises/<exercise>/README.md`` (if there is one) as its explanation, with its
  ``pytest exercises/...`` commands replaced by the notebook's check cells (``notebook_readme``);
- one solution cell per module, ``%%writefile <module>.py`` followed by the module's source from
  ``solutions/<exercise>/``, solution markers included. ``nbgrader generate_assignment`` turns every
  ``### BEGIN SOLUTION`` block into ``raise NotImplementedError`` (configured so the released cell is
  byte for byte the stub in ``exercises/``), and running the cell saves the learner's module beside the
  notebook, where the grader and every worker process (fork, spawn or forkserver) import it;
- one autograded test cell per grader check, worth the points of the check's ``@pytest.mark.points``,
  named by a first line ``# Check NAME (N points)``, that calls ``graders.classroom.notebook.check`` (the grader
  runs in a subprocess; see that module). At ``nbgrader autograde`` the score comes from outside the
  kernel: ``graders.classroom.autograde.GradeModules`` grades the ``%%writefile`` cells' text before a kernel
  starts, ``graders.classroom.autograde.WriteVerdicts`` writes each verdict into its test cell right before
  nbgrader scores it, whatever the learner's cells did in the kernel.

No ``.py`` file is ever written into the course: nbgrader releases such files verbatim, so a reference
solution must never be there. The course's source notebooks do hold the solutions, between markers,
like any nbgrader source notebook; ``release/`` never does.

``inconclusive`` lists the students whose autograded notebook has a speed check that the machine was
too busy to judge, with the command that grades them again.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from graders.grading import catalog
from graders.classroom.notebook import DEFAULT_CALL_TIMEOUT_S, DEFAULT_CELL_TIMEOUT_S, CheckInconclusive
from graders.classroom.nbgrader_config import CONFIG_MARKER, config_text

SCHEMA_VERSION = 3
# nbgrader's markers: any line that contains them is a marker line (ClearSolutions, ClearHiddenTests).
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


@dataclass(frozen=True)
class Check:
    name: str
    points: float

    @property
    def grade_id(self) -> str:
        return f"test_{self.name}"


def grader_checks(exercise: catalog.Exercise) -> list[Check]:
    """The grader's checks in file order, with their points (``@pytest.mark.points``; 1 by default)."""
    module = importlib.import_module(exercise.grader)
    module_marks = _marks(module)
    checks = []
    for name, function in _test_functions(module):
        marks = _marks(function) + module_marks
        if any(mark.name == "parametrize" for mark in marks):
            raise ValueError(
                f"{exercise.grader}.{name} is parametrized: a notebook test cell grades one check, so give "
                "each case a test function of its own"
            )
        points = next((mark.args[0] for mark in marks if mark.name == "points" and mark.args), 1)
        if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
            raise ValueError(f"{exercise.grader}.{name}: points must be a positive number, not {points!r}")
        checks.append(Check(name.removeprefix("test_"), float(points)))
    names = [c.name for c in checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{exercise.grader}: checks with the same name: {', '.join(duplicates)}")
    if not checks:
        raise ValueError(f"{exercise.grader} has no test functions")
    return checks


def _test_functions(module):
    def line(item):
        # The line of the compiled function, not of the file on disk (which may have changed since).
        return item[1].__code__.co_firstlineno

    found = []
    for name, value in vars(module).items():
        if name.startswith("test") and inspect.isfunction(value) and value.__module__ == module.__name__:
            found.append((name, value))
        elif name.startswith("Test") and inspect.isclass(value) and value.__module__ == module.__name__:
            found.extend((n, f) for n, f in vars(value).items() if n.startswith("test") and inspect.isfunction(f))
    return sorted(found, key=line)


def _marks(item) -> list:
    marks = getattr(item, "pytestmark", [])
    return list(marks) if isinstance(marks, (list, tuple)) else [marks]


def module_sources(root: Path, exercise: catalog.Exercise) -> dict[str, str]:
    """The reference solution of each module, solution markers included."""
    folder = root / "solutions" / exercise.name
    sources = {}
    for module in exercise.modules:
        path = folder / f"{module}.py"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: every module in exercises.toml needs its reference solution")
        source = path.read_text(encoding="utf-8")
        if SOLUTION_MARKERS[0] not in source:
            raise ValueError(f"{path} has no ### BEGIN SOLUTION block: the learner would have nothing to write")
        sources[module] = source
    return sources


def _read_me(root: Path, exercise: catalog.Exercise) -> str:
    path = root / "exercises" / exercise.name / "README.md"
    text = notebook_readme(path.read_text(encoding="utf-8")).strip() if path.exists() else ""
    if not text.startswith("# "):
        text = f"# {exercise.title}\n\n{text}".strip()
    return text


GRADE_IN_NOTEBOOK = "Run the **check** cells at the end of this notebook: each grades one check on the modules saved above."
_PYTEST_COMMAND = re.compile(r"`pytest exercises/[^`]*`")
_PYTEST_BLOCK_LINE = re.compile(r" {4,}pytest\b.*")


def notebook_readme(text: str) -> str:
    """An exercise's README as the notebook shows it: grading is the check cells, not ``pytest exercises/...``.

    A code block of ``pytest`` commands becomes one sentence saying to run the check cells; a
    ``pytest exercises/...`` command quoted in the text becomes "the check cells at the end of this
    notebook".
    """
    paragraphs = re.split(r"\n\s*\n", text)
    kept = []
    for paragraph in paragraphs:
        lines = [line for line in paragraph.split("\n") if line.strip()]
        if lines and all(_PYTEST_BLOCK_LINE.fullmatch(line) for line in lines):
            if kept and kept[-1] == GRADE_IN_NOTEBOOK:
                continue
            kept.append(GRADE_IN_NOTEBOOK)
        else:
            kept.append(_PYTEST_COMMAND.sub("the check cells at the end of this notebook", paragraph))
    return "\n\n".join(kept)


HOW_IT_WORKS = """\
## How this notebook works

- Each code cell below that starts with `%%writefile NAME.py` is a module of the exercise. Replace every
  `raise NotImplementedError` with your code (the `# TODO:` comment above it says what to write), then
  **run the cell**: it saves `NAME.py` beside this notebook. Keep its first line, `%%writefile NAME.py`.
- Worker processes import the functions you give a pool from these modules. Functions defined in other
  notebook cells cannot be sent to spawn or forkserver workers (a `Pool` then waits forever): write
  worker functions in the modules.
- To try your code in a new cell, import the module (`import NAME`, then `importlib.reload(NAME)` after
  you change it).
- The **check** cells at the end run the instructor's grader on the saved modules, in a separate
  process, and show what passed; a failed check says why and gives a hint.
- When you hand in the notebook, the grader grades the text of your `%%writefile` cells as you hand
  them in (whether you ran them or not), in its own process: only what your modules do earns points.
  What the check cells showed in your notebook is replaced by that grading.
"""

ASYNC_NOTE = """\
- This exercise uses `async def`. A notebook already runs an event loop, so `asyncio.run(...)` fails in a
  cell: write `await main()` at the top level of a cell instead.
"""


def build_notebook(exercise: catalog.Exercise, root: Path) -> nbformat.NotebookNode:
    """The source notebook of ``exercise``, with nbgrader's cell metadata (schema 3)."""
    sources = module_sources(root, exercise)
    checks = grader_checks(exercise)
    intro = _read_me(root, exercise) + "\n\n" + HOW_IT_WORKS
    if any("async def" in source for source in sources.values()):
        intro += ASYNC_NOTE
    cells = [_locked_markdown("intro", intro)]
    for module, source in sources.items():
        cells.append(_locked_markdown(f"about_{module}", f"## `{module}.py`\n\n{_docstring(source)}"))
        cells.append(_solution_code(f"module_{module}", f"%%writefile {module}.py\n{source.rstrip()}"))
    total = sum(c.points for c in checks)
    cells.append(_locked_markdown(
        "checks",
        f"## Checks ({total:g} points)\n\nRun these after the module cells. Each runs one check of the grader "
        "on the modules saved above (the first one runs the grader, the others reuse its results while the "
        "modules stay the same).",
    ))
    for c in checks:
        cells.append(_test_code(c, f"{check_title(c)}\n"
                                   f"from graders.classroom.notebook import check\n"
                                   f'check("{exercise.name}", "{c.name}")'))
    _validate(exercise, cells)
    notebook = new_notebook(cells=cells, metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})
    nbformat.validate(notebook)
    return notebook


def check_title(check: Check) -> str:
    """A test cell's first line, its name in the notebook: ``# Check words_parallel (2 points)``."""
    return f'# Check {check.name} ({check.points:g} point{"s" if check.points != 1 else ""})'


def _docstring(source: str) -> str:
    doc = ast.get_docstring(ast.parse(source))
    return doc.split("\n\n")[0] if doc else ""


def _metadata(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id, "schema_version": SCHEMA_VERSION}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _cell_id(grade_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", grade_id)[:64]


def _locked_markdown(grade_id: str, text: str):
    return new_markdown_cell(text.rstrip(), id=_cell_id(grade_id), metadata=_metadata(grade_id, grade=False, solution=False, locked=True))


def _solution_code(grade_id: str, code: str):
    return new_code_cell(code, id=_cell_id(grade_id), metadata=_metadata(grade_id, grade=False, solution=True, locked=False))


def _test_code(check: Check, code: str):
    return new_code_cell(
        code, id=_cell_id(check.grade_id),
        metadata=_metadata(check.grade_id, grade=True, solution=False, locked=True, points=check.points),
    )


def _validate(exercise: catalog.Exercise, cells: list) -> None:
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in cells]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{exercise.name}: two cells would share a grade_id: {ids}")
    for cell in cells:
        meta = cell.metadata["nbgrader"]
        markers = SOLUTION_MARKERS + (HIDDEN_MARKERS if not meta["grade"] else ())
        if not meta["solution"] and any(m in cell.source for m in markers):
            raise ValueError(f"{exercise.name}: nbgrader's markers would be found in cell {meta['grade_id']}, which is not a solution cell")


def solution_notebook(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The source notebook with its solution marker lines removed: the reference answer, as a learner would hand it in."""
    notebook = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = "\n".join(line for line in cell.source.split("\n") if not any(m in line for m in SOLUTION_MARKERS))
    return notebook


def build(
    course_dir: Path,
    root: Path,
    names: list[str] | None = None,
    course_id: str = "parallel-python",
    cell_timeout: int = int(DEFAULT_CELL_TIMEOUT_S),
    call_timeout: float = DEFAULT_CALL_TIMEOUT_S,
    start_method: str | None = None,
) -> list[Path]:
    """Write the course; returns the files written."""
    available = catalog.exercises()
    if names:
        unknown = [n for n in names if n not in available]
        if unknown:
            raise ValueError(f"unknown exercise(s) {', '.join(unknown)}; the catalogue has {', '.join(available)}")
        chosen = [available[n] for n in names]
    else:
        chosen = [e for e in available.values() if (root / "solutions" / e.name).is_dir()]
    if not chosen:
        raise ValueError(f"no exercise to build: is {root} the project folder (with solutions/)?")
    course_dir.mkdir(parents=True, exist_ok=True)
    written = []
    config = course_dir / "nbgrader_config.py"
    text = config_text(course_id, cell_timeout, call_timeout, start_method)
    if not config.exists() or config.read_text(encoding="utf-8").startswith(CONFIG_MARKER):
        config.write_text(text, encoding="utf-8")
        written.append(config)
    else:
        print(f"kept {config} (edited by hand: it does not start with the generated marker)")
    for exercise in chosen:
        notebook = build_notebook(exercise, root)
        folder = course_dir / "source" / exercise.name
        folder.mkdir(parents=True, exist_ok=True)
        stray = sorted(p.name for p in folder.iterdir() if p.suffix == ".py")
        if stray:
            raise ValueError(f"{folder} holds {', '.join(stray)}: nbgrader would release these files verbatim; remove them")
        path = folder / f"{exercise.name}.ipynb"
        nbformat.write(notebook, path)
        written.append(path)
    return written


def inconclusive(course_dir: Path, assignment: str) -> dict[str, list[str]]:
    """Students whose autograded notebook of ``assignment`` has an inconclusive check: {student: [grade_id]}."""
    found: dict[str, list[str]] = {}
    for path in sorted((course_dir / "autograded").glob(f"*/{assignment}/*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("grade"):
                continue
            if any(o.get("output_type") == "error" and o.get("ename") == CheckInconclusive.__name__ for o in cell.outputs):
                found.setdefault(path.parent.parent.name, []).append(cell.metadata["nbgrader"]["grade_id"])
    return found
