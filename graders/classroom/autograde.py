"""nbgrader extensions that the generated course's ``nbgrader_config.py`` switches on.

Scores that no learner cell can change. nbgrader scores a test cell by its outputs, and a test cell
runs in the learner's kernel, where a cell of theirs ran first and could rebind or patch anything
the test cell uses. So at autograde the checks are graded outside the kernel, in nbgrader's own
process, and the kernel's outputs of the test cells are replaced:

- ``GradeModules`` runs first, before any learner code runs in a kernel. It takes the files the
  notebook's ``%%writefile`` cells hold (the cells' text, as handed in: not files a kernel wrote),
  writes them to a fresh folder of its own and grades every test cell's check on them with
  ``graders.classroom.notebook.grade_check`` (the installed grader, in a subprocess; learner code runs only in
  the grader's sandboxes). Which checks: each test cell's ``check("<exercise>", "<check>")`` call,
  whose source nbgrader's ``OverwriteCells`` has already restored from the source notebook. It also
  tells the kernel, through ``graders.classroom.notebook.SCORED_OUTSIDE_ENV``, not to grade.
- ``WriteVerdicts`` runs right before nbgrader's ``SaveAutoGrades``: every test cell's outputs become
  the verdict ``GradeModules`` found (a line on stdout if its points were earned, an error with the
  grader's message otherwise), whatever the kernel printed. A test cell without a verdict gets an
  error, so it scores 0: a course that runs one step without the other never gives points away.

``RestartingExecute`` replaces nbgrader's ``Execute``. nbgrader gives up on the whole submission when
the kernel dies (a learner's cell calls ``os._exit``, a segfault, the memory killer): the autograded
notebook is deleted and every test cell is left without a score. And a cell that ignores the
interrupt sent at the cell timeout keeps the kernel busy, so every later cell times out too. Here, a
cell during which the kernel died or that hit the cell timeout gets an error output saying so, the
kernel (with every process in its process group) is replaced by a fresh one in the same folder, and
the notebook goes on with the next cell. Only that cell (and a learner's later cells that used its
variables) lose anything; the scores never came from the kernel.

A failed check whose run the grader drew as a timeline (graders.report.timeline: a lane per process,
a bar per task) gets that picture too, after its error: an HTML output holding the inline SVG, with the
text drawing as its plain-text form. ``GradeModules`` asks the grader for the pictures through
``graders.grading.settings.TIMELINE_DIR_ENV`` and hands them to ``WriteVerdicts``; they score nothing.

``FeedbackExporter`` is the HTML exporter of ``nbgrader generate_feedback``: nbgrader's feedback page,
with each check's name in the index (nbgrader writes "Test cell" for each) and in its cell's heading,
and long output lines wrapped instead of cut off at the right edge.
"""
from __future__ import annotations

import ast
import os
import re
import shlex
import tempfile
from pathlib import Path

from jinja2 import DictLoader
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import default

from graders.classroom import notebook
from graders.grading.settings import TIMELINE_DIR_ENV
from graders.report.model import Status

RESTARTED = "KernelRestarted"
# The resources key under which GradeModules hands its verdicts to WriteVerdicts: {grade_id: Verdict}.
VERDICTS = "graders_verdicts"
# ... and its failed checks' timelines: {grade_id: (HTML with the inline SVG, the text drawing)}.
TIMELINES = "graders_timelines"
NOT_GRADED = "NotGraded"
# A file a %%writefile cell saves beside the notebook: a plain name, no folder.
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_WRITEFILE = re.compile(r"%%(writefile|file)(\s.*)?")


def saved_files(nb) -> dict[str, str]:
    """The files the notebook's ``%%writefile`` cells save beside it, as the kernel has them when the checks run.

    The cells' text, in notebook order up to the first test cell (a later ``%%writefile`` of the same
    file replaces it, ``-a`` appends), like IPython's magic would write them. Only plain file names in
    the notebook's folder count.
    """
    files: dict[str, str] = {}
    for cell in nb.cells:
        if is_test_cell(cell):
            break
        if cell.cell_type != "code":
            continue
        # IPython drops a cell's leading blank lines before it looks for a cell magic.
        first, _, body = re.sub(r"\A(?:[ \t]*\n)+", "", cell.source).partition("\n")
        match = _WRITEFILE.fullmatch(first.strip())
        if not match:
            continue
        try:
            words = shlex.split(match.group(2) or "")
        except ValueError:
            continue
        append = any(w in ("-a", "--append") for w in words)
        names = [w for w in words if not w.startswith("-")]
        if len(names) != 1:
            continue
        name = names[0].removeprefix("./")
        if not _FILE_NAME.fullmatch(name):
            continue
        text = body if body.endswith("\n") or not body else body + "\n"
        files[name] = files.get(name, "") + text if append else text
    return files


def is_test_cell(cell) -> bool:
    """An autograded code cell: nbgrader scores it by its outputs."""
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def check_call(source: str) -> tuple[str, str] | None:
    """``(exercise, check)`` of a test cell's ``check("<exercise>", "<check>")`` call, or None."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    calls = [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
    ]
    if len(calls) != 1:
        return None
    args = calls[0].args
    if len(args) != 2 or calls[0].keywords or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
        return None
    return args[0].value, args[1].value


class GradeModules(NbGraderPreprocessor):
    """Grade every test cell's check on the notebook's ``%%writefile`` cells, before a kernel runs anything."""

    def preprocess(self, nb, resources):
        tests = [cell for cell in nb.cells if is_test_cell(cell)]
        verdicts: dict[str, notebook.Verdict] = {}
        timelines: dict[str, tuple[str, str]] = {}
        with tempfile.TemporaryDirectory(prefix="graders-autograde-") as scratch:
            folder = Path(scratch) / "modules"
            folder.mkdir()
            for name, text in saved_files(nb).items():
                (folder / name).write_text(text, encoding="utf-8")
            drawings = Path(scratch) / "timelines"
            previous = os.environ.get(TIMELINE_DIR_ENV)
            os.environ[TIMELINE_DIR_ENV] = str(drawings)
            try:
                for cell in tests:
                    grade_id = cell.metadata["nbgrader"]["grade_id"]
                    call = check_call(cell.source)
                    if call is None:
                        verdicts[grade_id] = notebook.Verdict(
                            "", f"{grade_id} is not a check cell of this course (it must call check(EXERCISE, CHECK))",
                            Status.FAILED,
                        )
                        continue
                    verdicts[grade_id] = notebook.grade_check(*call, folder)
                    timelines.update(_drawn(drawings, grade_id, *call))
            finally:
                notebook.forget(folder)
                if previous is None:
                    os.environ.pop(TIMELINE_DIR_ENV, None)
                else:
                    os.environ[TIMELINE_DIR_ENV] = previous
        earned = sum(1 for v in verdicts.values() if v.message is None)
        self.log.info("Graded %d checks outside the kernel: %d earned their points", len(verdicts), earned)
        resources[VERDICTS] = verdicts
        resources[TIMELINES] = timelines
        # The kernel Execute starts next inherits this: its test cells then only say where they are graded.
        os.environ[notebook.SCORED_OUTSIDE_ENV] = "1"
        return nb, resources


class WriteVerdicts(NbGraderPreprocessor):
    """Every test cell shows the verdict GradeModules found, whatever the kernel printed (SaveAutoGrades comes next)."""

    def preprocess(self, nb, resources):
        os.environ.pop(notebook.SCORED_OUTSIDE_ENV, None)
        verdicts = resources.get(VERDICTS)
        for cell in nb.cells:
            if not is_test_cell(cell):
                continue
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            verdict = (verdicts or {}).get(grade_id)
            cell.outputs = verdict_outputs(verdict, grade_id)
            drawn = resources.get(TIMELINES, {}).get(grade_id)
            if drawn and verdict is not None and verdict.message is not None:
                cell.outputs.append(timeline_output(*drawn))
        return nb, resources


def _drawn(folder: Path, grade_id: str, exercise: str, check: str) -> dict[str, tuple[str, str]]:
    """The timeline the grader drew for a failed check (graders.grading.plugin), if it drew one."""
    try:
        html = (folder / f"{exercise}-{check}.html").read_text(encoding="utf-8")
        text = (folder / f"{exercise}-{check}.txt").read_text(encoding="utf-8")
    except OSError:
        return {}
    return {grade_id: (html, text)}


def timeline_output(html: str, text: str):
    """A display output with the timeline: inline SVG for the notebook and the feedback page, text elsewhere."""
    return new_output("display_data", data={"text/html": html, "text/plain": text}, metadata={})


def verdict_outputs(verdict: notebook.Verdict | None, grade_id: str) -> list:
    """A test cell's outputs for ``verdict``: stdout if earned, an error (nbgrader scores 0) otherwise."""
    if verdict is None:
        message = notebook.wrap(
            f"{grade_id} was not graded: the course's graders.classroom.autograde.GradeModules step did not run "
            "(rebuild nbgrader_config.py with python -m graders course build)"
        )
        return [new_output("error", ename=NOT_GRADED, evalue=message, traceback=notebook.error_lines(NOT_GRADED, message))]
    outputs = []
    if verdict.printed:
        outputs.append(new_output("stream", name="stdout", text=verdict.printed))
    if verdict.message is not None:
        ename = verdict.error_class.__name__
        outputs.append(new_output(
            "error", ename=ename, evalue=verdict.message, traceback=notebook.error_lines(ename, verdict.message)
        ))
    return outputs


class RestartingExecute(Execute):
    def preprocess_cell(self, cell, resources, index):
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self.log.warning("The kernel died while running cell %s; starting a new kernel", index)
            self._note(cell, "the kernel died while this cell ran (variables were lost); a new kernel runs the next cells")
            self._restart()
            return cell, self.resources
        timeout_name = (self.error_on_timeout or {}).get("ename", "CellTimeoutError")
        if cell.cell_type == "code" and any(o.get("output_type") == "error" and o.get("ename") == timeout_name for o in cell.outputs):
            self.log.warning("Cell %s reached the cell timeout (%s s); starting a new kernel", index, self.timeout)
            self._note(cell, f"this cell was stopped after {self.timeout} s; a new kernel (variables lost) runs the next cells")
            self._restart()
        return cell, resources

    @staticmethod
    def _note(cell, text: str) -> None:
        cell.setdefault("outputs", []).append(
            new_output("error", ename=RESTARTED, evalue=text, traceback=[f"{RESTARTED}: {text}"])
        )

    def _restart(self) -> None:
        """A fresh kernel in the same folder; the old one's process group is killed."""
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        run_sync(self.km.restart_kernel)(now=True)
        self.start_new_kernel_client()


FEEDBACK_TEMPLATE = "graders_feedback.html.j2"
# Long lines of output (a grader's message, a learner's print) and of code wrap inside the page.
FEEDBACK_STYLE = """<style type="text/css">
div.output_area pre, div.output_subarea pre, div.output_text pre, div.input_area pre {
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
div.output_subarea { overflow-x: visible; }
#toc code, span.nbgrader-label code { color: inherit; background: none; }
</style>
"""
# nbgrader's feedback page (template "feedback"), rewritten where it names a test cell: the index
# lists each check by name instead of "Test cell", and the cell's heading says "Check NAME".
FEEDBACK_PAGE = """{%- extends 'index.html.j2' -%}
{%- block header -%}
{{ super() | replace('</head>', 'GRADERS_STYLE</head>') }}
{%- endblock header -%}
{%- block body -%}
{%- set page = namespace(html=super()) -%}
{%- for cell in nb.cells -%}
{%- if cell.metadata.nbgrader and cell.metadata.nbgrader.grade and not cell.metadata.nbgrader.solution -%}
{%- set grade_id = cell.metadata.nbgrader.grade_id -%}
{%- set name = grade_id[5:] if grade_id.startswith('test_') else grade_id -%}
{%- set page.html = page.html
    | replace('<a href="#' ~ grade_id ~ '">Test cell</a>', '<a href="#' ~ grade_id ~ '">Check <code>' ~ (name | e) ~ '</code></a>')
    | replace('Grade cell: <code>' ~ grade_id ~ '</code>', 'Check <code>' ~ (name | e) ~ '</code>') -%}
{%- endif -%}
{%- endfor -%}
{{ page.html }}
{%- endblock body -%}
""".replace("GRADERS_STYLE", " ".join(FEEDBACK_STYLE.replace("'", '"').split()))


class FeedbackExporter(HTMLExporter):
    """``nbgrader generate_feedback``'s HTML exporter, with the course's feedback template (see the module's doc)."""

    @default("extra_loaders")
    def _extra_loaders_default(self):
        return [DictLoader({FEEDBACK_TEMPLATE: FEEDBACK_PAGE})]

    @default("template_file")
    def _template_file_default(self):
        return FEEDBACK_TEMPLATE
