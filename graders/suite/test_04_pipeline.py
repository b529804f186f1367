"""Grader for 04_pipeline: concurrent downloads feeding a process pool, on mocked HTTP.

The archives are AEMO-style monthly zips generated offline (fixtures.aemo) and served by the mock
(graders.http_mock) inside the sandbox, each after a latency of its own.

- One traced run (graders.tracing) serves three archives quickly and holds the last one back
  until processing has begun (up to a long latency, for code that never begins early). The
  mock says how many downloads were in flight at once; the traced ``process_archive`` says in
  which processes, and when, each archive was processed. So "downloads overlapped", "processing
  ran in two processes at once" and "processing began before the last download ended" are read
  from what happened, not from a clock, and the result is compared with the expected summaries.
- The speedup is timed as in 02: the grader's serial pipeline, the learner's and the grader's
  reference, in interleaved rounds, with a core-aware threshold.
- Two quick runs serve a truncated and a corrupted archive among good ones: the pipeline must
  fail with an error that names the bad file.
"""
from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pytest

from fixtures import aemo
from graders import speed
from graders.async_feedback import served_value
from graders.calls import Call
from graders.evidence import analyse
from graders.feedback import fail, show, value_of
from graders.http_harness import ServedRun
from graders.netguard import offline
from graders.target import GradedTarget

MODULE = "pipeline"
TASK = "process_archive"
LEARNER = "graders.exercise_runs:run_pipeline"
SERIAL = "graders.pipeline_reference:serial_pipeline"
REFERENCE = "graders.pipeline_reference:reference_pipeline"
MONTHS = 4
# The traced run: three archives arrive quickly; the last one is held back until processing of
# the others has begun (see graders.exercise_runs.run_pipeline), or for HELD_S at most.
# HELD_S stays below httpx's default 5 s read timeout.
QUICK_S, HELD_S = 0.1, 4.0
TIMED_LATENCY_S = 0.1
RUN_TIMEOUT_S = 30.0
TIMED_TIMEOUT_S = 60.0


@pytest.fixture(autouse=True)
def _offline():
    """The grading process has no business with the network either."""
    with offline():
        yield


@lru_cache(maxsize=None)
def months(count: int = MONTHS, days: int | None = None) -> tuple[aemo.MonthlyArchive, ...]:
    return tuple(aemo.make_months(count, days=days))


def describe(archives) -> str:
    return f"[{len(archives)} archive URLs: {archives[0][0].rsplit('/', 1)[-1]}, ...]"


def pipeline_call(archives, processes: int, held: str | None = None) -> Call:
    label = f"run_pipeline({describe(archives)}, processes={processes})"
    return Call(LEARNER, (archives, processes, held), label=label)


def traced_run(target: GradedTarget):
    """The traced run, shared by the checks that read it: (call, sandbox run, served run)."""
    latencies = [QUICK_S * (i + 1) for i in range(MONTHS - 1)] + [HELD_S]
    archives = [(m.url, m.data, latency) for m, latency in zip(months(), latencies)]
    call = pipeline_call(archives, target.workers, held=archives[-1][0])

    def compute():
        run = target.run(MODULE, [call], trace=(TASK,), timeout=RUN_TIMEOUT_S)
        return run, value_of(run.outcomes[0], call.describe(), MODULE)

    run, served = target.once("traced", compute)
    return call, run, served


def learner_result(target: GradedTarget):
    call, run, served = traced_run(target)
    return call, run, served, served_value(served, call.describe(), MODULE)


def frame_problem(got, expected: pd.DataFrame) -> str | None:
    """What differs between the learner's result and the expected one, in a sentence."""
    if not isinstance(got, pd.DataFrame):
        return f"got {show(got)} (a {type(got).__name__}), expected a pandas DataFrame"
    if list(got.columns) != list(expected.columns):
        return f"got columns {list(got.columns)}, expected {list(expected.columns)}"
    if len(got) != len(expected):
        return f"got {len(got)} rows, expected {len(expected)} (one per SETTLEMENTDATE of every month)"
    if list(got.index) != list(expected.index):
        if sorted(map(str, got.index)) == sorted(map(str, expected.index)):
            return "the rows are not in the order of the URLs: keep each month's summary in its place"
        position = next(i for i, (a, b) in enumerate(zip(got.index, expected.index)) if a != b)
        return f"row {position} is for SETTLEMENTDATE {got.index[position]!r}, expected {expected.index[position]!r}"
    try:
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-6, check_index_type=False)
    except AssertionError:
        differs = ~((got - expected).abs() <= 1e-6 * expected.abs() + 1e-9).all(axis=1)
        row = differs.idxmax()
        def values(frame: pd.DataFrame) -> str:
            return f"mean={float(frame.loc[row, 'mean']):.6g}, std={float(frame.loc[row, 'std']):.6g}"

        return (
            f"at SETTLEMENTDATE {row!r} got {values(got)}; expected {values(expected)} "
            f"({int(differs.sum())} of {len(expected)} rows differ)"
        )
    return None


@pytest.mark.points(2)
def test_pipeline_results(target):
    call, _, _, got = learner_result(target)
    problem = frame_problem(got, pd.concat([m.summary for m in months()]))
    if problem:
        fail(f"called {call.describe()}: {problem}")


@pytest.mark.points(1)
def test_downloads_overlap(target):
    call, _, served, _ = learner_result(target)
    target.require_overlapping_downloads(
        call, served,
        "the downloads ran one at a time: never more than one was in flight. Start a task per URL and "
        "gather them, so the downloads wait together",
    )


@pytest.mark.points(2)
def test_processing_parallel(target):
    call, run, _, _ = learner_result(target)
    evidence = analyse(run.events, run.pid, run.finished_at)
    target.require_parallel(MODULE, call, evidence, run.outcomes[0], TASK)


@pytest.mark.points(1)
def test_processing_early(target):
    call, run, served, _ = learner_result(target)
    if not run.events:
        fail(f"called {call.describe()}: {TASK} was never called: each archive must be processed by it")
    first_start = min(event.start for event in run.events)
    last_arrival = max(e.end for e in served.exchanges if e.end is not None)
    if first_start >= last_arrival:
        fail(
            f"called {call.describe()}: processing began {first_start - last_arrival:.2f} s after the last "
            f"download had finished, although the other archives had arrived long before (the last one was "
            f"held back {HELD_S:g} s, waiting for processing to begin): start processing each archive as "
            "soon as it has arrived, in its own task"
        )
    target.record(f"{call.describe()}: processing began {last_arrival - first_start:.2f} s before the last download ended")


def timed_archives(target: GradedTarget) -> list[tuple[str, bytes, float]]:
    """The timed workload, larger where workers start slowly: months beyond the fourth are the first
    ones again, served as the next year's archives (only the time taken matters here)."""
    count = round(MONTHS * (1 + (target.timed_workload_scale - 1) / 2))
    return [
        (aemo.archive_url(aemo.YEAR + index // MONTHS, index % MONTHS + 1), months()[index % MONTHS].data, TIMED_LATENCY_S)
        for index in range(count)
    ]


@pytest.mark.points(2)
def test_pipeline_speedup(target):
    _, run, _, _ = learner_result(target)
    archives = timed_archives(target)
    cores = target.settings.usable_cores
    calls = {
        "serial": Call(SERIAL, (archives,), label="the grader's serial pipeline"),
        "learner": pipeline_call(archives, cores),
        "reference": Call(REFERENCE, (archives, cores), label="the grader's reference pipeline"),
    }
    speed.check(
        target, MODULE, calls, f"run_pipeline on {cores} cores ({len(archives)} archives)",
        compare=lambda values: frame_problem(
            served_value(values["learner"], calls["learner"].describe(), MODULE), values["serial"]
        ),
        parallel=(analyse(run.events, run.pid, run.finished_at), TASK),
        timeout=TIMED_TIMEOUT_S,
    )


@pytest.mark.points(2)
def test_corrupt_archive(target):
    learner_result(target)
    small = months(MONTHS, days=2)
    damage = {1: aemo.corrupted, 2: aemo.truncated}
    archives = [(m.url, damage[i](m.data) if i in damage else m.data, QUICK_S) for i, m in enumerate(small)]
    call = pipeline_call(archives, target.workers)
    damaged = f"{small[1].name} (corrupted) and {small[2].name} (truncated)"
    served: ServedRun = target.once("damaged", lambda: target.call(MODULE, call, timeout=RUN_TIMEOUT_S))
    if served.outcome.ok:
        fail(
            f"called {call.describe()} with {damaged}: it returned a result instead of raising an error: a "
            "damaged archive must raise ArchiveError naming its file"
        )
    if served.network or served.asyncio_run_misuse is not None:
        served_value(served, call.describe(), MODULE)  # fails with what went wrong
    if not any(small[i].name in served.raised for i in damage):
        fail(
            f"called {call.describe()} with {damaged}: it raised {(served.raised or served.outcome.error).strip()!r}, "
            "which does not name the damaged file, so nobody can tell which archive is broken: raise "
            "ArchiveError with a message that names it"
        )
