"""The pytest plugin: finds the grader for an exercise folder, runs it on a target, scores it.

Each check's verdict is read from what ended it, by type: a pass, a :class:`~graders.grading.feedback.CheckFailed`
(or any other failure), an :class:`~graders.grading.feedback.Inconclusive`, a skip. The verdicts are
gathered in one :class:`~graders.report.model.GradingResults`, from which the terminal summary and every
output file (``--grading-report``, ``--gradescope``, ``--grading-csv``, and the JUnit properties on
pytest's own ``--junitxml``) are written.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from graders.grading import catalog, settings
from graders.grading.feedback import Inconclusive
from graders.grading.target import GradedTarget, display_path
from graders.report import gradescope, history, junit, table, timeline
from graders.report.model import CheckResult, ExerciseResult, GradingResults, Status
from graders.sandbox import processes

SETTINGS = pytest.StashKey[settings.Settings]()
STATE = pytest.StashKey["GradingState"]()


@dataclass
class GradingState:
    targets: dict[tuple[str, Path], GradedTarget] = field(default_factory=dict)
    results: dict[tuple[str, Path], list[CheckResult]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    # Node ids of the checks that ended inconclusive: --lf (last failed) grades them again.
    inconclusive: set[str] = field(default_factory=set)
    # id of a timeline drawn under a failed check -> that check: a later check that read the same run
    # points to it instead of drawing it again.
    drawn: dict[int, str] = field(default_factory=dict)

    def grading_results(self, config: pytest.Config, complete: bool = True) -> GradingResults:
        options = config.stash[SETTINGS]
        exercises = []
        for (name, folder), checks in self.results.items():
            target = self.targets.get((name, folder))
            exercises.append(ExerciseResult(
                name, str(folder), list(checks),
                speed=list(target.speed_results) if target else [],
                measurements=list(target.measurements) if target else [],
            ))
        return GradingResults(
            exercises=exercises,
            settings={"start_method": options.start_method, "usable_cores": options.usable_cores,
                      "required_speedup": options.required_speedup(), "seed": options.seed},
            seconds=time.monotonic() - self.started,
            complete=complete,
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    settings.add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """``pytest exercises/02_multiprocessing/word_builder.py`` grades the exercise that module belongs to.

    A learner naturally names the file they edited; its exercise's grader judges all the exercise's
    modules together, so the folder is graded instead, and the header says so.
    """
    notes, selected = [], {}
    for index, arg in enumerate(args):
        path, *names = arg.split("::")
        path = Path(path)
        exercise = catalog.exercises().get(path.parent.name)
        if path.suffix == ".py" and path.is_file() and exercise is not None and path.stem in exercise.modules:
            args[index] = str(path.parent)
            notes.append(f"{path.name} is a module of {exercise.name}: its grader grades the whole folder {path.parent}")
        elif names and path.name in catalog.exercises() and path.is_dir():
            # A check's id as pytest prints it (exercises/02_multiprocessing::test_words_parallel):
            # pytest takes no "::" after a folder, so the folder is collected and the rest deselected.
            args[index] = str(path)
            selected.setdefault(path.resolve(), set()).add(names[-1])
    early_config.stash[MODULE_NOTES] = notes
    early_config.stash[SELECTED] = selected


MODULE_NOTES = pytest.StashKey[list]()
# Exercise folder -> the checks named after "::" on the command line.
SELECTED = pytest.StashKey[dict]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    selected = config.stash.get(SELECTED, {})
    if not selected:
        return
    keep, drop = [], []
    for item in items:
        folder = next((node.path.resolve() for node in item.listchain() if isinstance(node, ExerciseDirectory)), None)
        names = selected.get(folder)
        wanted = names is None or item.name in names or item.name.split("[")[0] in names
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): the check is worth n points in its exercise's score")
    config.stash[SETTINGS] = settings.load(config)
    config.stash[STATE] = GradingState()
    workers = config.getoption("numprocesses", None)
    if workers not in (None, 0, "0") and not hasattr(config, "workerinput") and _grades_exercises(config):
        raise pytest.UsageError(
            f"-n {workers} (pytest-xdist) would grade checks side by side in several processes: a speed check "
            "then times your code against the grader's reference while other checks load the same cores, and "
            "the points of each worker never reach one summary. Grade without -n; the grader already runs "
            "your code in parallel where the exercise asks for it."
        )
    config.pluginmanager.register(_InconclusiveStaysLastFailed(config), "graders-inconclusive-last-failed")
    processes.become_subreaper()


def _grades_exercises(config: pytest.Config) -> bool:
    """Whether this run grades exercise folders (rather than, say, the project's own tests)."""
    if config.getoption("grading_target", None):
        return True
    names = catalog.exercises()
    for arg in config.args:
        path = Path(arg.split("::")[0])
        if path.name in names or (path.is_dir() and any((path / name).is_dir() for name in names)):
            return True
        if path.suffix == ".py" and path.resolve().parent == catalog.SUITE_FOLDER:
            return True
    return False


def pytest_report_header(config: pytest.Config) -> list[str]:
    from graders.sandbox import confine, limits

    probe = limits.ProcessGroupCap()
    cgroup = probe.describe()
    probe.close()
    return [*config.stash[SETTINGS].header_lines(), *config.stash.get(MODULE_NOTES, []), confine.describe(confine.namespaces_available(), cgroup)]


class ExerciseDirectory(pytest.Directory):
    """An exercise folder in any tree (exercises/, solutions/, a submission): collects its grader."""

    def collect(self):
        exercise = catalog.exercises()[self.path.name]
        # The grader module takes the exercise folder's id, so two targets graded in one run stay apart,
        # and its checks stand right below the folder: the id pytest prints for a failed check
        # (exercises/02_multiprocessing::test_words_parallel) can be pasted back to grade it alone.
        module = pytest.Module.from_parent(self, path=exercise.grader_path, nodeid=self.nodeid)
        yield from module.collect()


def pytest_collect_directory(path: Path, parent: pytest.Collector):
    if path.name in catalog.exercises() and not (path / "__init__.py").exists():
        return ExerciseDirectory.from_parent(parent, path=path)
    return None


def _exercise_of(item: pytest.Item) -> catalog.Exercise | None:
    module = getattr(item, "module", None)
    return catalog.by_grader(module.__name__) if module is not None else None


def _folder_of(item: pytest.Item, exercise: catalog.Exercise) -> Path:
    config = item.config.stash[SETTINGS]
    if config.target_option is not None:
        return exercise.folder_in(config.target_option)
    for node in item.listchain():
        if isinstance(node, ExerciseDirectory):
            return node.path.resolve()
    return exercise.folder_in(config.target_fallback)


@pytest.fixture
def target(request: pytest.FixtureRequest) -> GradedTarget:
    """The exercise folder this grader is grading, with the settings in force."""
    exercise = _exercise_of(request.node)
    if exercise is None:
        raise pytest.UsageError(f"{request.node.nodeid}: the target fixture is for grader modules listed in exercises.toml")
    folder = _folder_of(request.node, exercise)
    state = request.config.stash[STATE]
    key = (exercise.name, folder)
    if key not in state.targets:
        state.targets[key] = GradedTarget(exercise, folder, request.config.stash[SETTINGS])
    state.targets[key].begin_check()
    return state.targets[key]


def _check_name(item: pytest.Item) -> str:
    return getattr(item, "originalname", item.name).removeprefix("test_")


def _points(item: pytest.Item) -> float:
    marker = item.get_closest_marker("points")
    return float(marker.args[0]) if marker and marker.args else 1.0


def _status(report: pytest.TestReport, failure: BaseException | None) -> Status:
    if report.passed:
        return Status.PASSED
    if isinstance(failure, Inconclusive):
        return Status.INCONCLUSIVE
    return Status.SKIPPED if report.skipped else Status.FAILED


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    exercise = _exercise_of(item)
    if exercise is None:
        return report
    decided = report.when == "call" or (report.when == "setup" and not report.passed)
    failure = call.excinfo.value if call.excinfo is not None else None
    cause = getattr(failure, "cause", None)
    hint = exercise.hint(_check_name(item), cause)
    message = "" if report.passed else _message(report, failure)
    if decided:
        status = _status(report, failure)
        key = (exercise.name, _folder_of(item, exercise))
        result = CheckResult(_check_name(item), _points(item), status, message, cause, hint if status is Status.FAILED else "")
        state = item.config.stash[STATE]
        state.results.setdefault(key, []).append(result)
        if status is Status.INCONCLUSIVE:
            state.inconclusive.add(report.nodeid)
        item.user_properties.extend(junit.properties(exercise.name, result))
    if report.failed and hint:
        report.sections.append(("hint", hint))
    if decided and report.failed and _shows_timeline(_check_name(item)):
        _timeline_section(item, exercise, report, message)
    crash = getattr(report.longrepr, "reprcrash", None)
    if report.failed and crash is not None and isinstance(failure, pytest.fail.Exception):
        # The short summary line shows the learner's message, not the exception's module path.
        crash.message = failure.msg
    return report


# Checks whose failure draws no timeline though they read a traced run: wrong values, or processes
# left behind, are not about how the work ran over time.
NO_TIMELINE_SUFFIXES = ("_results", "leftover_processes")
# Timelines drawn under one failed check: the last ones its check read (its page has them too).
TIMELINES_PER_CHECK = 2
TIMELINE_FOLDER = Path(".graders") / "timelines"
# A notebook's output area shows about this many columns (graders.classroom.notebook.WIDTH).
NOTEBOOK_COLUMNS = 96


def _shows_timeline(check: str) -> bool:
    return not check.endswith(NO_TIMELINE_SUFFIXES)


def _terminal_form(config: pytest.Config) -> tuple[int, bool]:
    """(columns, ASCII only) for a timeline here: at most 100 columns; ASCII where the output's
    encoding cannot show block characters."""
    try:
        columns = config.get_terminal_writer().fullwidth
    except Exception:
        columns = timeline.MAX_WIDTH
    encoding = getattr(sys.__stdout__, "encoding", None) or "ascii"
    try:
        "".join(timeline.GLYPHS[False]).encode(encoding)
        plain = False
    except (UnicodeEncodeError, LookupError):
        plain = True
    return max(60, min(columns, timeline.MAX_WIDTH)), plain


def _timeline_section(item: pytest.Item, exercise: catalog.Exercise, report: pytest.TestReport, message: str) -> None:
    """Under a failed check, the timelines of the runs it read: drawn, written as a page, and for nbgrader."""
    state = item.config.stash[STATE]
    target = state.targets.get((exercise.name, _folder_of(item, exercise)))
    if target is None or not target.check_timelines:
        return
    check = _check_name(item)
    shown = target.check_timelines[-TIMELINES_PER_CHECK:]
    width, plain = _terminal_form(item.config)
    parts = []
    for drawing in shown:
        earlier = state.drawn.get(id(drawing))
        if earlier is None:
            state.drawn[id(drawing)] = check
            parts.append(timeline.render(drawing, width, ascii=plain))
        else:
            parts.append(f"{drawing.title}: the same run as in the timeline under {earlier} above")
    name = f"{exercise.name}-{check}"
    folder = os.environ.get(settings.TIMELINE_DIR_ENV)
    if not folder:
        try:
            page = timeline.write_html(
                item.config.rootpath / TIMELINE_FOLDER / f"{name}.html", shown, f"{exercise.name}: {check} failed", [message]
            )
            parts.append(f"The same in a browser: {display_path(page)}")
        except OSError:
            pass
    else:
        # nbgrader's autograde step asked for them (graders.classroom.autograde): the notebook shows them.
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            (Path(folder) / f"{name}.html").write_text(timeline.html_fragment(shown), encoding="utf-8")
            (Path(folder) / f"{name}.txt").write_text(
                "\n\n".join(timeline.render(t, NOTEBOOK_COLUMNS, ascii=True) for t in shown), encoding="utf-8"
            )
        except OSError:
            pass
    report.sections.append(("timeline", "\n\n".join(parts)))


def _message(report: pytest.TestReport, failure: BaseException | None = None) -> str:
    if isinstance(failure, Inconclusive):
        return failure.message
    if isinstance(failure, pytest.fail.Exception):
        return failure.msg
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    return crash.message.removeprefix("Failed: ") if crash is not None else str(report.longrepr)


class _InconclusiveStaysLastFailed:
    """An inconclusive check is not done with: pytest's cache keeps it among the last failed (after its
    own plugin dropped it as a skip), so ``pytest --lf`` grades it again."""

    def __init__(self, config: pytest.Config):
        self.config = config

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid not in self.config.stash[STATE].inconclusive:
            return
        last_failed = self.config.pluginmanager.get_plugin("lfplugin")
        if last_failed is not None:
            last_failed.lastfailed[report.nodeid] = True


def pytest_runtest_teardown(item: pytest.Item) -> None:
    if _exercise_of(item) is not None:
        # Graded code runs in sandboxes that clean up after themselves; this catches whatever escaped.
        processes.kill_all(processes.descendants())


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash[STATE]
    if not state.results:
        return
    results = state.grading_results(config, complete=_complete(config.stash[SESSION]))
    write = terminalreporter.write_line
    measurements = [line for exercise in results.exercises for line in exercise.measurements]
    if measurements:
        terminalreporter.section("grading measurements")
        for line in measurements:
            write(line)
    terminalreporter.section("grading summary")
    for exercise in results.exercises:
        write(f"{exercise.exercise} ({display_path(Path(exercise.folder))}): {exercise.earned:g}/{exercise.total:g} points")
        for check in exercise.checks:
            write(f"  {check.status.value:<12} {check.name:<40} {check.earned:g}/{check.points:g}")
        inconclusive = sum(check.status is Status.INCONCLUSIVE for check in exercise.checks)
        if inconclusive:
            write(f"  {inconclusive} check(s) inconclusive: the machine was too busy to measure; run again later.")
    if not results.complete:
        write("The run stopped early or graded some checks only: these totals are not a score; run the whole exercise for one.")
    if config.stash[SETTINGS].timeline:
        _timelines_summary(terminalreporter, config, state)


def _timelines_summary(terminalreporter, config: pytest.Config, state: GradingState) -> None:
    """--timeline: every traced run's timeline; each exercise's also as one page under .graders/timelines/."""
    terminalreporter.section("timelines")
    width, plain = _terminal_form(config)
    drawn = False
    names = [name for name, _ in state.targets]
    for index, ((name, folder), target) in enumerate(state.targets.items(), 1):
        if not target.timelines:
            continue
        drawn = True
        for drawing in target.timelines:
            terminalreporter.write_line(timeline.render(drawing, width, ascii=plain))
            terminalreporter.write_line("")
        # One page per exercise; numbered when one run graded the exercise in several folders.
        page_name = name if names.count(name) == 1 else f"{name}-{index}"
        try:
            page = timeline.write_html(
                config.rootpath / TIMELINE_FOLDER / f"{page_name}.html", target.timelines,
                f"{name} ({display_path(folder)}): every traced run",
            )
            terminalreporter.write_line(f"{name}: these timelines in a browser: {display_path(page)}")
        except OSError:
            pass
    if not drawn:
        terminalreporter.write_line("No run of these checks was traced: there is no timeline to draw.")


def _complete(session: pytest.Session) -> bool:
    """Whether every collected check of the graded folders ran (no -x stop, no interrupt, no deselection)."""
    stopped = bool(session.shouldstop) or bool(session.shouldfail)
    deselected = bool(session.config.stash.get(DESELECTED, False))
    return not stopped and not deselected


DESELECTED = pytest.StashKey[bool]()
SESSION = pytest.StashKey[pytest.Session]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[SESSION] = session


def pytest_deselected(items) -> None:
    if items:
        items[0].config.stash[DESELECTED] = True


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    options = config.stash[SETTINGS]
    state = config.stash[STATE]
    if not state.results:
        return
    results = state.grading_results(config, complete=_complete(session))
    if options.keep_history:
        try:
            history.save(config.rootpath, results)
        except OSError:
            pass  # a read-only project: progress then shows what it has
    if options.report:
        results.write(options.report)
    if options.gradescope:
        gradescope.write(results, options.gradescope)
    if options.csv:
        table.write(results.exercises, options.csv)
