"""Autograded notebook cells: one grader check per cell, graded outside the notebook's kernel.

A test cell of a course notebook (see ``graders.classroom.course``) holds three lines::

    # Check words_parallel (2 points)
    from graders.classroom.notebook import check
    check("02_multiprocessing", "words_parallel")

Two callers grade a check, with the same code (``_check``) and the same verdicts:

- the learner's kernel, while they work (running the cell, ``nbgrader validate``): ``check`` below.
  Everything in the kernel is the learner's to change (a cell of theirs can rebind ``check``, patch
  ``subprocess`` or ``json``, fill the result cache), so what the kernel shows never scores;
- ``nbgrader autograde``: ``grade_check``, called by ``graders.classroom.autograde.GradeModules`` in the
  nbgrader process on the modules the notebook's ``%%writefile`` cells hold, before any learner code
  runs in a kernel. Its verdicts replace the test cells' outputs right before nbgrader scores them
  (``graders.classroom.autograde.WriteVerdicts``). During autograde ``check`` does not grade: it fails with
  ``GradedOutsideKernel``, so a test cell left unscored by a misconfigured course scores 0, not full
  points.

``check`` runs the installed grader (pytest, in a subprocess of its own) on the modules that the
notebook's ``%%writefile`` cells saved in the kernel's working folder, and reports one check of it.
The whole grader runs once per notebook kernel and module contents; the other test cells read the
cached JSON report, so a notebook costs about one ``pytest`` run of its exercise.

What the cell shows, and how nbgrader scores it:

- passed: a line on stdout; nothing on stderr, no value (so nbgrader gives the cell's points);
- failed: a ``CheckFailed`` error carrying the grader's message and the exercise's hint (0 points);
- inconclusive (a speed check on a machine too busy to judge: the grader's own reference code missed
  the threshold too): measured again, at most ``INCONCLUSIVE_RETRIES`` times while time is left; if
  it stays inconclusive the cell fails with a message starting ``INCONCLUSIVE`` (0 points) that tells
  the instructor to grade that submission again on a quieter machine (``nbgrader autograde ...
  --force``). A score must never reward a speedup nobody saw, and re-grading fixes the score;
- skipped for another reason (a speed check on a 1-core machine, where the structural parallel check
  decides alone): not applicable, the points are given.

Time: a check gets ``GRADERS_CELL_TIMEOUT`` (nbgrader's ``Execute.timeout``, set by the course's
``nbgrader_config.py``) minus a margin, and passes ``--call-timeout GRADERS_CALL_TIMEOUT`` to the
grader, so a learner's endless loop costs one graded call and never reaches the cell timeout. The
run of the whole grader may use ``SUITE_SHARE`` of that; if it overruns, it is killed with every
process it started, and this cell and the next ones grade their own check alone, each within its
own cell's time. If the kernel is interrupted (nbgrader's cell timeout,
or the stop button), the grader and its processes are killed too.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from graders.report.model import CheckResult, GradingResults, Status

CELL_TIMEOUT_ENV = "GRADERS_CELL_TIMEOUT"
CALL_TIMEOUT_ENV = "GRADERS_CALL_TIMEOUT"
DEFAULT_CELL_TIMEOUT_S = 300.0
DEFAULT_CALL_TIMEOUT_S = 30.0
INCONCLUSIVE_RETRIES = 1
# The run of the whole grader gets this share of the cell's budget: if it overruns, the cell still has
# the rest to grade its own check alone, so an overrun never costs a check that would have passed.
SUITE_SHARE = 0.5
# A single re-measurement is not started with less time than this left in the cell.
RETRY_MIN_S = 20.0
# The label an inconclusive check's message starts with, for the learner's eyes only: the
# autograder and ``course inconclusive`` read the verdict from the error's type (CheckInconclusive).
INCONCLUSIVE = "INCONCLUSIVE"
# Set (by graders.classroom.autograde.GradeModules) in the environment the autograde kernel inherits: the checks
# are graded outside the kernel, and ``check`` only says so.
SCORED_OUTSIDE_ENV = "GRADERS_SCORED_OUTSIDE_KERNEL"
# Messages are wrapped to this many columns: a notebook's output area and nbgrader's feedback page
# show an error's text as it is, and a long line runs off the right edge.
WIDTH = 96


def wrap(text: str, width: int = WIDTH) -> str:
    """``text`` with every line longer than ``width`` wrapped at spaces, its indent kept on each piece.

    Words are never split (a path or a URL stays whole, even if it is longer than ``width``).
    """
    lines = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        lines.extend(textwrap.wrap(
            line, width, initial_indent="", subsequent_indent=indent + "  ",
            break_long_words=False, break_on_hyphens=False, drop_whitespace=True,
        ) or [line])
    return "\n".join(lines)


def error_lines(ename: str, message: str) -> list[str]:
    """The lines a notebook shows for a failed check: its name in red and the message, no frames."""
    return [f"\x1b[0;31m{ename}\x1b[0m: {message}"]


class CheckFailed(AssertionError):
    """A grader check failed; the message is the grader's, written for the learner."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a traceback: the learner needs the message, not the
        # frames of this module (nbgrader still sees an error output, so the cell scores 0).
        return error_lines(type(self).__name__, str(self))


class CheckInconclusive(CheckFailed):
    """A speed check the machine was too busy to judge: 0 points until it is graded again."""


class GradedOutsideKernel(CheckFailed):
    """``nbgrader autograde`` grades the checks outside the kernel; this output is replaced by the verdict."""


@dataclass
class Verdict:
    """What a test cell shows for one check: the lines printed, and the failure message (None: points earned)."""

    printed: str
    message: str | None
    status: Status = Status.PASSED

    @property
    def error_class(self) -> type[CheckFailed]:
        return CheckInconclusive if self.status is Status.INCONCLUSIVE else CheckFailed


@dataclass
class GraderRun:
    """One pytest run of a grader: its results by check name, or why it has none."""

    results: dict[str, CheckResult] = field(default_factory=dict)
    measurements: list[str] = field(default_factory=list)
    problem: str | None = None
    seconds: float = 0.0


@dataclass
class _State:
    suite: GraderRun
    results: dict[str, CheckResult]


# (exercise, folder, digest of the module files) -> what the grader said about them.
_STATES: dict[tuple[str, str, str], _State] = {}


def check(exercise: str, name: str, folder: str | os.PathLike | None = None) -> None:
    """Grade check ``name`` of ``exercise`` on the modules in ``folder`` (default: the working folder).

    Returns None on success, so nbgrader gives the cell its points; raises ``CheckFailed`` otherwise.
    """
    __tracebackhide__ = True
    if os.environ.get(SCORED_OUTSIDE_ENV):
        raise GradedOutsideKernel(
            f"{name} is graded outside this notebook's kernel, on the modules the %%writefile cells hold; "
            "the autograder writes its result here"
        ) from None
    started = time.monotonic()
    deadline = started + _budget()
    # Nothing this function does may reach stderr: nbgrader scores a cell that wrote to stderr 0.
    with warnings.catch_warnings(), contextlib.redirect_stderr(sys.stdout):
        warnings.simplefilter("ignore")
        verdict = _check(exercise, name, Path(folder or os.getcwd()).resolve(), deadline)
    if verdict.message is not None:
        raise verdict.error_class(verdict.message) from None


def grade_check(exercise: str, name: str, folder: str | os.PathLike) -> Verdict:
    """Grade check ``name`` of ``exercise`` on the modules in ``folder``, as a test cell would, without printing.

    For the autograder (graders.classroom.autograde), in its own process: the check gets a test cell's time
    budget, the whole grader runs once per folder and module contents, an inconclusive speed check is
    measured again. ``forget(folder)`` drops the cached results afterwards.
    """
    printed = io.StringIO()
    deadline = time.monotonic() + _budget()
    with warnings.catch_warnings(), contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        warnings.simplefilter("ignore")
        verdict = _check(exercise, name, Path(folder).resolve(), deadline)
    return Verdict(printed.getvalue(), verdict.message, verdict.status)


def forget(folder: str | os.PathLike) -> None:
    """Drop the cached grader results of ``folder``."""
    folder = str(Path(folder).resolve())
    for key in [key for key in _STATES if key[1] == folder]:
        del _STATES[key]


def _check(exercise_name: str, name: str, folder: Path, deadline: float) -> Verdict:
    """Print the outcome of one check; return its verdict (printed lines left to the caller)."""
    from graders.grading import catalog

    exercise = catalog.exercises().get(exercise_name)
    if exercise is None:
        return _failed(f"unknown exercise {exercise_name!r}: the installed graders have {', '.join(catalog.exercises())}")
    key = (exercise.name, str(folder), _digest(exercise, folder))
    state = _STATES.get(key)
    if state is None:
        now = time.monotonic()
        suite = run_grader(exercise, folder, deadline=now + SUITE_SHARE * (deadline - now))
        state = _STATES[key] = _State(suite, dict(suite.results))
        if suite.problem is None:
            print(f"Graded {exercise.name} in {suite.seconds:.1f} s: {len(suite.results)} checks.")
            for line in suite.measurements:
                print(wrap(f"  {line}"))
        else:
            print(wrap(f"The whole grader could not run ({suite.problem}); grading {name} alone."))
    result = state.results.get(name)
    if result is None:
        if not state.suite.problem and state.suite.results:
            return _failed(f"{name} is not a check of {exercise.name} (its checks: {', '.join(state.suite.results)})")
        alone = run_grader(exercise, folder, checks=(name,), deadline=deadline)
        if alone.problem is not None or name not in alone.results:
            return _failed(f"{name}: {alone.problem or 'the grader did not report this check'}")
        result = state.results[name] = alone.results[name]
    retries = 0
    while result.status is Status.INCONCLUSIVE and retries < INCONCLUSIVE_RETRIES and deadline - time.monotonic() > RETRY_MIN_S:
        retries += 1
        print(wrap(f"{name}: inconclusive ({result.message}); measuring again ({retries}/{INCONCLUSIVE_RETRIES})."))
        again = run_grader(exercise, folder, checks=(name,), deadline=deadline)
        if again.problem is not None or name not in again.results:
            break
        result = state.results[name] = again.results[name]
        for line in again.measurements:
            print(wrap(f"  {line}"))
    return verdict(exercise, result)


def _failed(message: str) -> Verdict:
    return Verdict("", wrap(message), Status.FAILED)


def verdict(exercise, result: CheckResult) -> Verdict:
    """What a test cell says of ``result``: printed for points earned, a message (with its hint) otherwise."""
    points = f"{result.points:g} point{'s' if result.points != 1 else ''}"
    if result.status is Status.PASSED:
        print(f"{result.name}: passed, {points}.")
        return Verdict("", None, result.status)
    if result.status is Status.SKIPPED:
        print(wrap(f"{result.name}: not applicable here ({result.message}); {points} given."))
        return Verdict("", None, result.status)
    if result.status is Status.INCONCLUSIVE:
        return Verdict("", wrap(
            f"{INCONCLUSIVE}: {result.name} could not be judged, the machine was too busy ({result.message}). "
            "This cell scores 0 until it is graded again on a quieter machine "
            "(instructors: nbgrader autograde ASSIGNMENT --student STUDENT --force)."
        ), result.status)
    hint = result.hint or exercise.hint(result.name, result.cause)
    return Verdict("", wrap(f"{result.name}: {result.message or result.status}" + (f"\nHint: {hint}" if hint else "")), result.status)


def _budget() -> float:
    """Seconds a check may take: the cell timeout minus a margin for the kernel and nbgrader."""
    cell = env_seconds(CELL_TIMEOUT_ENV, DEFAULT_CELL_TIMEOUT_S)
    return max(cell - max(5.0, 0.1 * cell), 1.0)


def env_seconds(name: str, default: float) -> float:
    """Seconds from the environment variable ``name``, or ``default`` when unset, unreadable or not positive."""
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def _digest(exercise, folder: Path) -> str:
    """Changes whenever a module file of the exercise changes (or appears, or goes)."""
    digest = hashlib.sha256()
    for module in exercise.modules:
        path = exercise.folder_in(folder) / f"{module}.py"
        digest.update(module.encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\0missing\0")
    return digest.hexdigest()


def grader_command(exercise, folder: Path, report: Path, checks: tuple[str, ...] = ()) -> list[str]:
    """The pytest command that grades ``folder`` (all checks, or only ``checks``) into ``report``."""
    grader = str(exercise.grader_path)
    targets = [f"{grader}::test_{name}" for name in checks] or [grader]
    return [
        sys.executable, "-m", "pytest", *targets,
        "--target", str(folder),
        "--grading-report", str(report),
        "--call-timeout", f"{env_seconds(CALL_TIMEOUT_ENV, DEFAULT_CALL_TIMEOUT_S):g}",
        "-p", "no:cacheprovider", "-q", "--no-header",
    ]


def run_grader(exercise, folder: Path, checks: tuple[str, ...] = (), *, deadline: float) -> GraderRun:
    """Run the grader in a subprocess that must end by ``deadline`` (time.monotonic()), or be killed."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="graders-notebook-") as scratch:
        report = Path(scratch) / "report.json"
        log_path = Path(scratch) / "pytest.log"
        env = dict(os.environ)
        env.pop("GRADERS_TARGET", None)
        env["PYTHONUNBUFFERED"] = "1"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                grader_command(exercise, folder, report, checks),
                cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            kill_tree(proc)
            return GraderRun(
                problem=f"the grader did not finish within {deadline - started:.0f} s and was stopped, with "
                "every process it started: look for an endless loop or a pool that never finishes",
                seconds=time.monotonic() - started,
            )
        except BaseException:  # KeyboardInterrupt: nbgrader's cell timeout or the stop button
            kill_tree(proc)
            raise
        seconds = time.monotonic() - started
        try:
            graded = GradingResults.read(report)
        except (OSError, ValueError, KeyError, TypeError):
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            return GraderRun(
                problem=f"the grader stopped without a report (exit code {proc.returncode}): " + " | ".join(tail),
                seconds=seconds,
            )
    run = GraderRun(seconds=seconds)
    for entry in graded.exercises:
        if entry.exercise != exercise.name:
            continue
        run.measurements += entry.measurements
        run.results.update((check.name, check) for check in entry.checks)
    if not run.results:
        run.problem = f"the grader reported no checks (exit code {proc.returncode})"
    return run


def kill_tree(proc: subprocess.Popen) -> None:
    """Kill the grader and everything below it: freeze them first, so nothing forks in between."""
    from graders.sandbox import processes

    frozen: dict[int, object] = {}
    for _ in range(3):
        found = [p for p in processes.descendants(proc.pid) if p.pid not in frozen]
        if not found:
            break
        for child in found:
            with contextlib.suppress(Exception):
                child.send_signal(signal.SIGSTOP)
            frozen[child.pid] = child
    processes.kill_group(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()
    processes.kill_all(list(frozen.values()))  # type: ignore[arg-type]
