"""The pytest plugin: finds the grader for an exercise folder, runs it on a target, scores it."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from graders.grading import catalog, settings
from graders.sandbox import processes
from graders.grading.target import GradedTarget, display_path

SETTINGS = pytest.StashKey[settings.Settings]()
STATE = pytest.StashKey["GradingState"]()


@dataclass
class CheckResult:
    name: str
    points: float
    outcome: str  # "passed", "failed", "skipped", "inconclusive"
    message: str = ""
    # What the check observed when it failed (see graders.grading.feedback.fail): it chose the hint.
    cause: str | None = None

    @property
    def earned(self) -> float:
        return self.points if self.outcome == "passed" else 0.0


@dataclass
class GradingState:
    targets: dict[tuple[str, Path], GradedTarget] = field(default_factory=dict)
    results: dict[tuple[str, Path], list[CheckResult]] = field(default_factory=dict)


def pytest_addoption(parser: pytest.Parser) -> None:
    settings.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): the check is worth n points in its exercise's score")
    config.stash[SETTINGS] = settings.load(config)
    config.stash[STATE] = GradingState()
    processes.become_subreaper()


def pytest_report_header(config: pytest.Config) -> list[str]:
    from graders.sandbox import confine, limits

    probe = limits.ProcessGroupCap()
    cgroup = probe.describe()
    probe.close()
    return [*config.stash[SETTINGS].header_lines(), confine.describe(confine.namespaces_available(), cgroup)]


class ExerciseDirectory(pytest.Directory):
    """An exercise folder in any tree (exercises/, solutions/, a submission): collects its grader."""

    def collect(self):
        exercise = catalog.exercises()[self.path.name]
        # The items carry the exercise folder's id, so two targets graded in one run stay apart.
        yield pytest.Module.from_parent(self, path=exercise.grader_path, nodeid=self.nodeid)


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
    return state.targets[key]


def _check_name(item: pytest.Item) -> str:
    return getattr(item, "originalname", item.name).removeprefix("test_")


def _points(item: pytest.Item) -> float:
    marker = item.get_closest_marker("points")
    return float(marker.args[0]) if marker and marker.args else 1.0


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    exercise = _exercise_of(item)
    if exercise is None:
        return report
    decided = report.when == "call" or (report.when == "setup" and not report.passed)
    failure = call.excinfo.value if call.excinfo is not None else None
    cause = getattr(failure, "cause", None)
    if decided:
        outcome = report.outcome
        if report.skipped and "inconclusive" in str(report.longrepr):
            outcome = "inconclusive"
        key = (exercise.name, _folder_of(item, exercise))
        results = item.config.stash[STATE].results.setdefault(key, [])
        message = "" if report.passed else _message(report, failure)
        results.append(CheckResult(_check_name(item), _points(item), outcome, message, cause))
    hint = exercise.hint(_check_name(item), cause)
    if report.failed and hint:
        report.sections.append(("hint", hint))
    return report


def _message(report: pytest.TestReport, failure: BaseException | None = None) -> str:
    if isinstance(failure, pytest.fail.Exception):
        return failure.msg
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    return crash.message.removeprefix("Failed: ") if crash is not None else str(report.longrepr)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    if _exercise_of(item) is not None:
        # Graded code runs in sandboxes that clean up after themselves; this catches whatever escaped.
        processes.kill_all(processes.descendants())


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash[STATE]
    if not state.results:
        return
    write = terminalreporter.write_line
    measurements = [m for t in state.targets.values() for m in t.measurements]
    if measurements:
        terminalreporter.section("grading measurements")
        for line in measurements:
            write(line)
    terminalreporter.section("grading summary")
    for (name, folder), results in state.results.items():
        earned = sum(r.earned for r in results)
        total = sum(r.points for r in results)
        write(f"{name} ({display_path(folder)}): {earned:g}/{total:g} points")
        for result in results:
            write(f"  {result.outcome:<12} {result.name:<40} {result.earned:g}/{result.points:g}")
        inconclusive = sum(r.outcome == "inconclusive" for r in results)
        if inconclusive:
            write(f"  {inconclusive} check(s) inconclusive: the machine was too busy to measure; run again later.")


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    path = config.stash[SETTINGS].report
    if path is None:
        return
    state = config.stash[STATE]
    report = {
        "settings": {"start_method": config.stash[SETTINGS].start_method, "usable_cores": config.stash[SETTINGS].usable_cores,
                     "required_speedup": config.stash[SETTINGS].required_speedup(), "seed": config.stash[SETTINGS].seed},
        "exercises": [
            {
                "exercise": name,
                "folder": str(folder),
                "earned": sum(r.earned for r in results),
                "total": sum(r.points for r in results),
                "checks": [asdict(r) for r in results],
                "speed": state.targets[(name, folder)].speed_results if (name, folder) in state.targets else [],
            }
            for (name, folder), results in state.results.items()
        ],
        "measurements": [m for t in state.targets.values() for m in t.measurements],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
