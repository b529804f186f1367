"""The exercise a grader is pointed at, and the grading helpers that work on it."""
from __future__ import annotations

import inspect
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from graders.sandbox import parent
from graders.sandbox.calls import Call, Outcome
from graders.grading.catalog import Exercise
from graders.grading.evidence import HEADINGS, ParallelEvidence, analyse, explain
from graders.grading.feedback import fail, value_of
from graders.grading.settings import Settings
from graders.report.timeline import Timeline, from_run, from_value


# How long the trace channel holds the first start waiting for the other workers (once per run, and
# only code that never gets that many workers going waits it out). A worker that starts late may
# find every tiny task done, and the run would show fewer workers than the pool has: a spawn or
# forkserver worker imports the learner's module (numpy) first, seconds on a loaded machine.
RENDEZVOUS_WAIT_S = {"fork": 5.0, "spawn": 10.0, "forkserver": 10.0}
# A timeline's title is the call it shows, cut to this many characters (a call's inputs can be long).
TITLE_CHARS = 160
# The trace channel's hold when a run does not set it: run_calls's own defaults.
HOLD_DEFAULTS = {
    name: inspect.signature(parent.run_calls).parameters[name].default for name in ("rendezvous", "trace_wait_s")
}


@dataclass
class GradedTarget:
    exercise: Exercise
    folder: Path
    settings: Settings
    measurements: list[str] = field(default_factory=list)
    speed_results: list[dict] = field(default_factory=list)
    # Every traced run's timeline (and the requests or Dask tasks a harness saw), in the order run;
    # the current check's own (the runs it made or read from once()) are in check_timelines.
    timelines: list[Timeline] = field(default_factory=list)
    check_timelines: list[Timeline] = field(default_factory=list)
    _memo: dict[Any, Any] = field(default_factory=dict)
    _memo_timelines: dict[Any, list] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return display_path(self.folder)

    @property
    def workers(self) -> int:
        """Pool size the graders ask for: at least two, so parallelism can show even on one core."""
        return max(2, min(self.settings.usable_cores, 4))

    @property
    def timed_workload_scale(self) -> float:
        """How much larger timed workloads are than under fork.

        Spawn and forkserver workers start from scratch and import the learner's module (numpy...)
        before any work: about 0.2 s here, which would decide a 0.5 s measurement on its own.
        """
        return 1.0 if self.settings.start_method == "fork" else 2.0

    def rng(self, salt: str) -> random.Random:
        return random.Random(f"{self.settings.seed}-{salt}")

    def once(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Memoise an expensive run so the several checks that read it share one execution."""
        if key not in self._memo:
            before = len(self.timelines)
            self._memo[key] = compute()
            self._memo_timelines[key] = self.timelines[before:]
        # Every check that reads a shared run relies on its timelines too.
        self._relies_on(self._memo_timelines.get(key, []))
        return self._memo[key]

    def begin_check(self) -> None:
        """A new check starts: it relies on no timeline yet (the plugin calls this for each check)."""
        self.check_timelines = []

    def _relies_on(self, found: list) -> None:
        self.check_timelines.extend(t for t in found if not any(t is kept for kept in self.check_timelines))

    def record(self, text: str) -> None:
        self.measurements.append(text)

    def record_speed(self, measurement) -> None:
        """Keep a speed check's figures for the summary and, structured, for the JSON report."""
        self.record(measurement.figures())
        self.speed_results.append(measurement.as_dict())

    def source(self, module: str) -> tuple[Path, str]:
        path = self.folder / f"{module}.py"
        if not path.exists():
            fail(f"the file {module}.py was not found in {self.label}")
        return path, path.read_text(encoding="utf-8")

    def run(self, module: str, calls: list[Call], *, timeline: bool = True, **options) -> parent.SandboxRun:
        """Run ``calls`` in a sandbox; with ``timeline``, keep a timeline of what it traced or served."""
        options.setdefault("timeout", self.settings.call_timeout)
        options.setdefault("start_method", self.settings.start_method)
        run = parent.run_calls(self.folder, module, calls, **options)
        if timeline:
            self._keep_timelines(run, calls, options)
        return run

    def _keep_timelines(self, run: parent.SandboxRun, calls: list[Call], options: dict) -> None:
        def short(text: str) -> str:
            return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 3] + "..."

        try:
            found = []
            if options.get("trace"):
                # The trace channel's hold, as run_calls was given it (or its defaults).
                hold = tuple(options.get(name, default) for name, default in HOLD_DEFAULTS.items())
                found.append(from_run(run, title=short("; ".join(call.describe() for call in calls)), hold=hold))
            for call, outcome in zip(calls, run.outcomes):
                if outcome.ok:
                    found += from_value(outcome.value, title=short(call.describe()))
        except Exception:  # a picture of the run is a help, never a reason for a verdict
            return
        self.timelines.extend(found)
        self._relies_on(found)

    def call(self, module: str, call: Call, **options) -> Any:
        """Run one call and return its value, failing the check with the reason if it has none."""
        outcome = self.run(module, [call], **options).outcomes[0]
        return value_of(outcome, call.describe(), module)

    def parallel_run(
        self,
        module: str,
        call: Call,
        task: str,
        *,
        tasks: int | None = None,
        workers: int | None = None,
        fewest_tasks: int | None = None,
        **options,
    ) -> tuple[Outcome, ParallelEvidence]:
        """Run ``call`` with ``task`` traced in every process: its outcome and the parallelism it showed.

        ``tasks`` is the number of task calls the input implies and ``workers`` the pool size asked
        for (both checked when given; ``fewest_tasks`` allows equal inputs to be computed once). The
        trace channel holds each start until ``workers`` processes work at once (see
        graders.sandbox.trace_channel), so a pool of that size shows all its workers even for tiny tasks.
        """
        options.setdefault("rendezvous", max(2, workers or 2))
        # Serial code waits the hold out once: it must stay well inside the call's deadline, or a
        # serial solution would be reported as hanging instead of as serial.
        wait = RENDEZVOUS_WAIT_S.get(self.settings.start_method, 10.0)
        options.setdefault("trace_wait_s", min(wait, options.get("timeout", self.settings.call_timeout) / 3))
        run = self.run(module, [call], trace=(task,), **options)
        evidence = analyse(
            run.events, run.pid, run.finished_at, tasks=tasks, workers=workers, fewest_tasks=fewest_tasks
        )
        return run.outcomes[0], evidence

    def require_parallel(self, module: str, call: Call, evidence: ParallelEvidence, outcome: Outcome, task: str) -> None:
        value_of(outcome, call.describe(), module)
        cause = evidence.cause
        if cause is not None:
            fail(
                f"{HEADINGS[cause]}: {explain(evidence, task, call.describe())}. Measured: {evidence.summary()}.",
                cause=cause,
            )
        self.record(f"{call.describe()}: {evidence.summary()}")

    def require_overlapping_downloads(self, call: Call, served, problem: str) -> None:
        """At least two downloads in flight at once on the grader's server, else fail with ``problem``."""
        if served.peak_in_flight < 2:
            fail(f"called {call.describe()}: {problem}")
        self.record(f"{call.describe()}: at most {served.peak_in_flight} downloads in flight")

    def require_no_leftovers(self, module: str, call: Call, outcome: Outcome) -> None:
        value_of(outcome, call.describe(), module)
        if outcome.leftovers:
            fail(f"{call.describe()} left processes behind: " + "; ".join(outcome.leftovers))


def display_path(folder: Path) -> str:
    """A folder as the user typed it: relative to where pytest runs, when it is below it."""
    try:
        return str(folder.relative_to(Path.cwd()))
    except ValueError:
        return str(folder)
