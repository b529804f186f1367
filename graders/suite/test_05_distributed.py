"""Grader for 05_distributed: concurrent.futures executors, then the pipeline on a real Dask cluster.

Part 1 (executors.py) runs in two sandboxes:
- the learner's ``collect`` on a thread pool and on a process pool that the grader creates, with
  the grader's own task function, once with every task succeeding and once with the first, a middle
  and the last task raising: the other results must survive and each failure must be reported under
  its input; on the thread pool the grader counts the tasks running at once;
- ``download_all`` against a real HTTP server on 127.0.0.1 (graders.instruments.loopback_http), which counts
  the requests in flight, and ``summarise_all`` with ``summarise_file`` traced in every process
  (graders.sandbox.tracing), which shows whether the archives were summarised in several processes at once.
  Both run with the grader's own ``collect`` in place of the learner's (one cause, one charge), and
  the executors they create are recorded (graders.harnesses.executor_calls.ExecutorWatch): their kind, size
  and whether they were shut down.

Part 2 (cluster.py) runs once, in one sandbox (graders.harnesses.dask_calls): a LocalCluster of worker
processes on loopback, the archives served with unequal latencies in no sorted order (one much
slower than the others), and the learner's ``run_on_cluster`` connected to it through
DASK_SCHEDULER_ADDRESS. Every verdict comes from the scheduler's records of its tasks (which worker
ran what, when, on whose results), its clients and its gather requests, or from the server's count of
requests in flight; none from what the learner reports. Expected values come from the grader's own
data (fixtures.aemo) and its own copies of the given functions (graders.given.ex05), never from the
learner's module.
"""
from __future__ import annotations

import importlib.util
import os
from collections import Counter
from functools import lru_cache
from urllib.parse import urlsplit

import pandas as pd
import pytest

from fixtures import aemo
from graders.sandbox.calls import Call, Outcome
from graders.grading.evidence import analyse, explain
from graders.grading.feedback import fail, show, value_of
from graders.given import ex05 as given
from graders.grading.specification import README, Requirement
from graders.grading.target import GradedTarget
from graders.harnesses.dask_calls import run_on_cluster
from graders.harnesses.executor_calls import collect_on, download_all, summarise_all

EXECUTORS = "executors"
CLUSTER = "cluster"
TASK = "summarise_file"
EXECUTOR_NAMES = {"threads": "ThreadPoolExecutor", "processes": "ProcessPoolExecutor"}

# Part 1. The collect tasks' delays, by position: unsorted, the first the slowest, so the tasks never
# complete in the order they were submitted, whatever the seed; seven items, a count no pool divides.
COLLECT_DELAYS_S = (0.30, 0.05, 0.20, 0.10, 0.25, 0.05, 0.15)
SMALL_DAYS = 3  # part 1's archives: a few days each, quick to summarise
PART1_FILES = 5  # five archives (plus two missing URLs, or two truncated files): seven inputs
DOWNLOAD_LATENCIES_S = (0.35, 0.15, 0.3, 0.2, 0.25)  # unsorted, so completion order is not input order
# Part 2: five archives, unequal latencies in no sorted order, the first one much slower than the
# rest, so a pipeline that processes each archive as soon as it has arrived is seen doing so before
# the last download is over, and summaries taken in completion order are out of the URLs' order.
CLUSTER_LATENCIES_S = (2.0, 0.4, 0.1, 0.3, 0.2)
MONTHS = len(CLUSTER_LATENCIES_S)
CLUSTER_TIMEOUT_S = 40.0
DOWNLOAD, PROCESS = "download", "process_archive"


# What the exercise asks, sentence by sentence, and the checks and inputs that hold the learner to it.
SPECIFICATION = (
    Requirement(
        source="executors.py:collect",
        quote="Run function(item) for every item on `executor`; returns (results, failures).",
        checks=("collect_results", "collect_failures"),
        edges="a ThreadPoolExecutor and a ProcessPoolExecutor made by the grader, both of an odd size (3 here); "
        "seven items (no pool size divides them), one of them 0, the others seeded",
    ),
    Requirement(
        source="executors.py:collect",
        quote="Every task is submitted before any result is awaited, so the tasks run at the same time.",
        checks=("collect_concurrent",),
        edges="on the thread pool the grader counts the tasks running at once; submit-then-result per item sees one",
    ),
    Requirement(
        source="executors.py:collect",
        quote="results: {item: function(item)} for the items whose task succeeded, whatever the value (0 and None included);",
        checks=("collect_results", "collect_failures"),
        edges="item 0, whose cube is 0 (falsy), is always among the items",
    ),
    Requirement(
        source="executors.py:collect",
        quote="failures: {item: describe_failure(error)} for those whose task raised.",
        checks=("collect_failures",),
        edges="the first, a middle and the last item fail; the text is compared with the grader's own copy of "
        "describe_failure (graders.given.ex05)",
    ),
    Requirement(
        source="executors.py:collect",
        quote="The tasks finish in any order: each result or failure goes under its own item.",
        checks=("collect_results", "collect_failures"),
        edges="fixed unsorted delays, the first task the slowest: completion order is never input order, whatever the seed",
    ),
    Requirement(
        source="executors.py:collect",
        quote="A failing task must not stop the others, nor lose their results.",
        checks=("collect_failures",),
        edges="the first task fails at once while the others still run",
    ),
    Requirement(
        source="executors.py:download_all",
        quote="IO-bound: download every URL into `folder` with `workers` threads; returns collect's (results, failures).",
        checks=("download_results", "downloads_overlap"),
        edges="five archives with unsorted latencies on a loopback server, plus two missing URLs (the first and "
        "the last); run with the grader's collect, so only download_all is judged",
    ),
    Requirement(
        source="executors.py:download_all",
        quote="One ThreadPoolExecutor of exactly `workers` threads for the whole call, shut down before returning.",
        checks=("download_executor",),
        edges="workers differs from the usable cores and from both executors' defaults; executors created are "
        "recorded with their size and shutdown; the server's peak in flight may not exceed workers",
    ),
    Requirement(
        source="executors.py:download_all",
        quote="results: {url: path of the file written}; failures: {url: describe_failure(error)}.",
        checks=("download_results",),
        edges="the files' bytes are read back; the 404s' texts must be describe_failure of HTTPStatusError",
    ),
    Requirement(
        source="executors.py:summarise_all",
        quote="CPU-bound: summarise every file with `workers` processes; returns collect's (results, failures).",
        checks=("summarise_results", "summarise_parallel"),
        edges="seven files, two truncated (the first and the fourth); summarise_file traced in every process",
    ),
    Requirement(
        source="executors.py:summarise_all",
        quote="One ProcessPoolExecutor of exactly `workers` processes for the whole call, shut down before returning.",
        checks=("summarise_executor",),
        edges="workers differs from os.cpu_count(); executors created are recorded; traced worker pids may not "
        "exceed workers; no process may be left running",
    ),
    Requirement(
        source="executors.py:summarise_all",
        quote="results: {path: summarise_file(path)}; failures: {path: describe_failure(error)}.",
        checks=("summarise_results",),
        edges="summaries compared with the grader's own (fixtures.aemo); truncated archives give BadZipFile",
    ),
    Requirement(
        source="executors.py:archive_name",
        quote="The archive's file name: the last part of its URL.",
        checks=("download_results",),
        edges="given; the grader uses its own copy (graders.given.ex05) to find each URL's expected bytes",
    ),
    Requirement(
        source="executors.py:describe_failure",
        quote="How a failure is reported: the exception's type and message.",
        checks=("collect_failures", "download_results", "summarise_results"),
        edges="given; expected texts come from the grader's own copy, so a changed describe_failure fails",
    ),
    Requirement(
        source="executors.py:download",
        quote="Download one archive into `folder`; returns the path of the file written.",
        checks=("download_results",),
        edges="given; the returned path must be in the folder given and hold the URL's bytes",
    ),
    Requirement(
        source="executors.py:summarise_file",
        quote="SCADAVALUE's mean and standard deviation per SETTLEMENTDATE, from one zipped MMSDM CSV file.",
        checks=("summarise_results", "summarise_parallel"),
        edges="given; expected summaries come from fixtures.aemo, not from the learner's module",
    ),
    Requirement(
        source="executors.py:summarise_all_with_pool",
        quote="The pool-based version: {path: summary}, but one damaged archive loses every result.",
        checks=("collect_failures",),
        edges="given, as the contrast: collect must keep the other results when a task fails",
    ),
    Requirement(
        source="cluster.py:run_on_cluster",
        quote="The same result as run_serial, computed by the workers of the cluster at scheduler_address().",
        checks=("cluster_results", "cluster_workers"),
        edges="a LocalCluster of worker processes on loopback; expected summaries from fixtures.aemo",
    ),
    Requirement(
        source="cluster.py:run_on_cluster",
        quote="Every download and every processing step is a task of its own, processing each archive starts "
        "as soon as its download is done, and the archives stay on the workers: only the summaries come back.",
        checks=("cluster_tasks", "processing_early", "no_gather_between_steps", "downloads_concurrent"),
        edges="five archives (no worker count divides them), latencies 2.0, 0.4, 0.1, 0.3, 0.2 s: the first "
        "is much slower than the rest and the order is not sorted",
    ),
    Requirement(
        source="cluster.py:run_on_cluster",
        quote="The summaries are concatenated in the order of urls, whichever download finishes first.",
        checks=("cluster_results",),
        edges="the latencies are not sorted, so completion order differs from the URLs' order",
    ),
    Requirement(
        source="cluster.py:run_on_cluster",
        quote="One Client for the whole call, closed before returning; no cluster of its own.",
        checks=("one_client", "client_closed", "cluster_tasks"),
        edges="the scheduler's clients are counted during and after the call; leftover processes are listed",
    ),
    Requirement(
        source="cluster.py:scheduler_address",
        quote="The address of the Dask scheduler to use, from the environment.",
        checks=("cluster_tasks",),
        edges="given; the grader sets DASK_SCHEDULER_ADDRESS; code that starts its own cluster never connects",
    ),
    Requirement(
        source="cluster.py:download",
        quote="The archive's bytes (IO-bound: mostly waiting for the network).",
        checks=("cluster_tasks", "downloads_concurrent"),
        edges="given; its tasks are named download in the scheduler's records; the server counts requests in flight",
    ),
    Requirement(
        source="cluster.py:process_archive",
        quote="SCADAVALUE's mean and standard deviation per SETTLEMENTDATE, from one zipped MMSDM CSV file (CPU-bound).",
        checks=("cluster_tasks", "cluster_results"),
        edges="given; expected summaries from fixtures.aemo",
    ),
    Requirement(
        source="cluster.py:run_serial",
        quote="The serial pipeline: download one archive, process it, then the next.",
        checks=("cluster_tasks", "cluster_workers"),
        edges="given; submitting run_serial as one task runs the pipeline serially on one worker",
    ),
    Requirement(
        source="cluster.py:main",
        quote="Run the pipeline on the cluster at $DASK_SCHEDULER_ADDRESS, or on a local one when it is unset.",
        checks=("cluster_tasks",),
        edges="given and not called by the grader, which sets DASK_SCHEDULER_ADDRESS as main's caller would",
    ),
    Requirement(
        source=README,
        quote="One failing task must not stop the others.",
        checks=("collect_failures",),
        edges="failures at the first, a middle and the last item",
    ),
    Requirement(
        source=README,
        quote="Write `download_all(urls, folder, workers)`: downloading is waiting, so run `collect` on a `ThreadPoolExecutor(workers)`.",
        checks=("downloads_overlap", "download_executor"),
        edges="the server counts downloads in flight; the executors made are recorded",
    ),
    Requirement(
        source=README,
        quote="Write `summarise_all(paths, workers)`: summarising is computing, so run the *same* `collect` on a `ProcessPoolExecutor(workers)`.",
        checks=("summarise_parallel", "summarise_executor"),
        edges="summarise_file traced in every process; a thread pool shows the work in the calling process",
    ),
    Requirement(
        source=README,
        quote="Write `run_on_cluster(urls)`: connect with `Client(scheduler_address())` (in a `with` block, so the client is closed), "
        "map `download` over the URLs, map `process_archive` over the *download futures*, gather the summaries and "
        "concatenate them in the order of `urls`.",
        checks=("cluster_tasks", "cluster_workers", "no_gather_between_steps", "cluster_results", "client_closed", "one_client"),
        edges="unsorted latencies; gathers to the client recorded by the scheduler",
    ),
)


class TaskFailed(ValueError):
    """The grader's failing tasks' exception type, as the sandbox's tasks raise it (same name, same message)."""


@lru_cache(maxsize=None)
def months(count: int = MONTHS, days: int | None = None) -> tuple[aemo.MonthlyArchive, ...]:
    return tuple(aemo.make_months(count, days=days))


def url_path(archive: aemo.MonthlyArchive) -> str:
    return urlsplit(archive.url).path


def frame_problem(got, expected: pd.DataFrame) -> str | None:
    """What differs between a summary the learner returned and the expected one, in a sentence."""
    if not isinstance(got, pd.DataFrame):
        return f"got {show(got)} (a {type(got).__name__}), expected a pandas DataFrame"
    if list(got.columns) != list(expected.columns):
        return f"got columns {list(got.columns)}, expected {list(expected.columns)}"
    if len(got) != len(expected):
        return f"got {len(got)} rows, expected {len(expected)} (one per SETTLEMENTDATE)"
    if list(map(str, got.index)) != list(map(str, expected.index)):
        if sorted(map(str, got.index)) == sorted(map(str, expected.index)):
            return "the rows are not in the order of the URLs: keep each month's summary in its place"
        position = next(i for i, (a, b) in enumerate(zip(map(str, got.index), map(str, expected.index))) if a != b)
        return f"row {position} is for SETTLEMENTDATE {got.index[position]!r}, expected {expected.index[position]!r}"
    try:
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-6, check_index_type=False)
    except AssertionError:
        return "the means or standard deviations differ from the expected ones: use the given processing function"
    return None


# Part 1: concurrent.futures ------------------------------------------------------------------------


def part1_workers() -> int:
    """The pool size part 1 asks for: at least 3, and never a size the executors pick by themselves.

    ThreadPoolExecutor() takes min(32, cpu_count + 4) threads and ProcessPoolExecutor() cpu_count
    processes, so an executor sized by anything but the argument shows in its size.
    """
    cpus = os.cpu_count() or 1
    workers = max(3, cpus + 1)
    while workers in (cpus, min(32, cpus + 4)):
        workers += 1
    return workers


def collect_items(target: GradedTarget) -> tuple[list[int], tuple[int, ...], dict[int, float]]:
    """Seven items (a count no pool size here divides), 0 among them (a falsy result), the others
    seeded; the failing ones are the first, the last and one in the middle; the delays are a fixed
    unsorted pattern, the first task the slowest, so completion order is never submission order."""
    rng = target.rng("collect")
    items = rng.sample(range(2, 500), len(COLLECT_DELAYS_S) - 1)
    items.insert(3, 0)
    failing = (items[0], items[4], items[-1])
    delays = dict(zip(items, COLLECT_DELAYS_S))
    return items, failing, delays


def collect_calls(target: GradedTarget) -> dict[tuple[str, bool], Call]:
    items, failing, delays = collect_items(target)
    workers = part1_workers()
    calls = {}
    for kind, name in EXECUTOR_NAMES.items():
        calls[(kind, False)] = Call(
            collect_on, (kind, items), {"workers": workers, "delays": delays},
            label=f"collect({name}({workers}), cube, {show(items)})",
        )
        calls[(kind, True)] = Call(
            collect_on, (kind, items), {"failing": failing, "workers": workers, "delays": delays},
            label=(
                f"collect({name}({workers}), cube, {show(items)}) where the tasks for "
                f"{', '.join(map(str, failing[:-1]))} and {failing[-1]} raise"
            ),
        )
    return calls


def collect_outcomes(target: GradedTarget) -> dict[tuple[str, bool], tuple[Call, Outcome, int]]:
    """(call, the learner's outcome, the most tasks seen running at once) per (executor kind, failing)."""
    calls = collect_calls(target)

    def compute():
        run = target.run(EXECUTORS, list(calls.values()))
        return [(o.value.outcome, o.value.peak_running) if o.ok else (o, 0) for o in run.outcomes]

    outcomes = target.once("collect", compute)
    return {key: (call, outcome, peak) for (key, call), (outcome, peak) in zip(calls.items(), outcomes)}


def collected(outcome: Outcome, call: Call, module: str = EXECUTORS) -> tuple[dict, object]:
    """The (results, failures) pair the learner's function returned; results must be a dict."""
    value = value_of(outcome, call.describe(), module)
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], dict)):
        fail(
            f"called {call.describe()}: got {show(value)}, expected a pair (results, failures) of two dicts",
            cause="not_a_pair",
        )
    return value[0], value[1]


@pytest.mark.points(1)
def test_collect_results(target):
    items, _, _ = collect_items(target)
    for kind in EXECUTOR_NAMES:
        call, outcome, _ = collect_outcomes(target)[(kind, False)]
        results, failures = collected(outcome, call)
        if failures:
            fail(f"called {call.describe()}: no task failed, but failures is {show(failures)}", cause="spurious_failures")
        expected = {item: item**3 for item in items}
        if results != expected:
            missing = [item for item in items if item not in results]
            wrong = [item for item in items if item in results and results[item] != expected[item]]
            if wrong:
                item = wrong[0]
                fail(
                    f"called {call.describe()}: results[{item}] is {show(results[item])}, but cube({item}) = "
                    f"{expected[item]} ({len(wrong)} of {len(items)} results are under the wrong item): the tasks "
                    "finish in another order than they were submitted; expected {item: cube(item)} for every item",
                    cause="result_under_wrong_item",
                )
            if missing:
                falsy = [item for item in missing if not expected[item]]
                detail = f" (cube({falsy[0]}) is {expected[falsy[0]]}: a result that is 0 is still a result)" if falsy else ""
                fail(
                    f"called {call.describe()}: no result for {show(missing)}{detail}; expected {{item: cube(item)}} for every item",
                    cause="results_missing",
                )
            fail(
                f"called {call.describe()}: got results for items that were never given: "
                f"{show(sorted(set(results) - set(items), key=str))}; expected {{item: cube(item)}} for every item",
                cause="results_missing",
            )


@pytest.mark.points(2)
def test_collect_failures(target):
    items, failing, _ = collect_items(target)
    for kind in EXECUTOR_NAMES:
        call, outcome, _ = collect_outcomes(target)[(kind, True)]
        if not outcome.ok and "failed on purpose" in outcome.error:
            fail(
                f"called {call.describe()}: it raised {outcome.error}{f' ({outcome.where})' if outcome.where else ''} "
                f"instead of returning: one failing task stopped the collection and the results of the "
                f"other {len(items) - len(failing)} tasks were lost",
                cause="failure_stopped_collect",
            )
        results, failures = collected(outcome, call)
        expected = {item: item**3 for item in items if item not in failing}
        if results != expected:
            wrong = sorted(set(results) ^ set(expected), key=str)
            fail(
                f"called {call.describe()}: results should hold the {len(expected)} tasks that succeeded, "
                f"and only those; these items are missing or should not be there: {show(wrong)}",
                cause="results_lost",
            )
        if not isinstance(failures, dict) or set(failures) != set(failing):
            fail(
                f"called {call.describe()}: failures is {show(failures)}; expected one entry per failing task "
                f"under its input, {{{', '.join(f'{item}: ...' for item in failing)}}}, so the learner can tell which "
                "input failed",
                cause="failure_not_under_input",
            )
        for item in failing:
            text = given.describe_failure(TaskFailed(f"task for {item} failed on purpose"))
            if failures[item] != text:
                fail(
                    f"called {call.describe()}: the failure for {item} is reported as {show(failures[item])}, "
                    f"expected describe_failure(error), the given function: {text!r}",
                    cause="failure_text",
                )


@pytest.mark.points(1)
def test_collect_concurrent(target):
    call, outcome, peak = collect_outcomes(target)[("threads", False)]
    value_of(outcome, call.describe(), EXECUTORS)
    if peak < 2:
        fail(
            f"called {call.describe()}: the tasks ran one at a time (never two at once on a pool of "
            f"{part1_workers()} threads): each task's result was awaited before the next task was submitted",
            cause="collect_serial",
        )
    target.record(f"{call.describe()}: at most {peak} tasks running at once")


def file_runs(target: GradedTarget):
    """(download call, its outcome) and (summarise call, its outcome, its trace evidence), sharing one sandbox.

    Both run the learner's function with the grader's own collect (one cause, one charge).
    """
    small = months(PART1_FILES, days=SMALL_DAYS)
    workers = part1_workers()
    served = [(url_path(m), m.data, latency) for m, latency in zip(small, DOWNLOAD_LATENCIES_S)]
    missing = [
        (0, "/Data_Archive/missing/PUBLIC_DVD_DISPATCH_UNIT_SCADA_209911010000.zip"),
        (len(served) + 1, "/Data_Archive/missing/PUBLIC_DVD_DISPATCH_UNIT_SCADA_209912010000.zip"),
    ]
    files = [(m.name, m.data) for m in small]
    for position, month in ((0, small[0]), (3, small[2])):
        files.insert(position, (f"BROKEN_{month.name}", aemo.truncated(month.data)))
    download = Call(
        download_all, (served, missing, workers),
        label=f"download_all([{len(served) + len(missing)} URLs, the first and the last missing], folder, workers={workers})",
    )
    summarise = Call(
        summarise_all, (files, workers),
        label=f"summarise_all([{len(files)} archive paths, the first and the fourth truncated], workers={workers})",
    )

    def compute():
        run = target.run(EXECUTORS, [download, summarise], trace=(TASK,))
        return run.outcomes, analyse(run.events, run.pid, run.finished_at)

    (download_outcome, summarise_outcome), evidence = target.once("files", compute)
    return (download, download_outcome), (summarise, summarise_outcome, evidence), small


def download_run(target: GradedTarget):
    """(call, the harness's DownloadRun, the archives served); fails only if the harness itself could not run."""
    (call, outcome), _, small = file_runs(target)
    served = value_of(outcome, call.describe(), EXECUTORS)
    return call, served, small


@pytest.mark.points(1)
def test_download_results(target):
    call, served, small = download_run(target)
    if served.network:
        fail(f"called {call.describe()}: it tried to reach the real network: {served.network[0]}", cause="network")
    results, failures = collected(served.outcome, call)
    good = [url for url in served.urls if "/missing/" not in url]
    missing = [url for url in served.urls if "/missing/" in url]
    if not isinstance(failures, dict) or set(failures) != set(missing):
        fail(
            f"called {call.describe()}: failures is {show(failures)}; expected the {len(missing)} missing URLs "
            f"{show(missing)} and only those, each with its error",
            cause="download_failures_wrong",
        )
    if set(results) != set(good):
        fail(
            f"called {call.describe()}: results has {len(results)} URLs, expected the {len(good)} that exist: {show(good)}",
            cause="download_results_wrong",
        )
    data = {m.name: m.data for m in small}
    for url in good:
        path = results[url]
        if served.files.get(path) != data[given.archive_name(url)]:
            fail(
                f"called {call.describe()}: the file {show(path)} returned for {url} does not hold that URL's bytes",
                cause="download_file_wrong",
            )
        if not (isinstance(path, str) and os.path.dirname(os.path.abspath(path)) == served.folder):
            fail(
                f"called {call.describe()}: the file for {url} was written to {show(path)}, not into the folder given",
                cause="download_file_wrong",
            )
    for url in missing:
        text = str(failures[url])
        if "404" not in text or not text.startswith("HTTPStatusError: "):
            fail(
                f"called {call.describe()}: the missing URL's failure is {show(failures[url])}: expected "
                "describe_failure(error) of the HTTPStatusError that raise_for_status() raises (it says 404)",
                cause="failure_text",
            )


@pytest.mark.points(1)
def test_downloads_overlap(target):
    call, served, _ = download_run(target)
    if served.peak_in_flight < 2:
        value_of(served.outcome, call.describe(), EXECUTORS)
        fail(
            f"called {call.describe()}: the server never saw two downloads at once ({len(served.urls)} URLs): "
            "each download waited for the previous one",
            cause="serial_downloads",
        )
    target.record(f"{call.describe()}: at most {served.peak_in_flight} downloads in flight")


def executor_problem(records, kind: str | None, workers: int) -> tuple[str, str] | None:
    """(message, cause) when the executors made are not one executor of ``workers`` workers, shut down."""
    if not records:
        return ("it created no executor: run collect on one executor made inside the function", "no_executor")
    if len(records) > 1:
        kinds = Counter(r.kind for r in records)
        return (
            f"it created {len(records)} executors ({', '.join(f'{k} x{n}' for k, n in kinds.items())}): one "
            "executor for the whole call, not one per item",
            "executor_per_item",
        )
    record = records[0]
    if kind is not None and record.kind != kind:
        return (f"it ran the downloads on a {record.kind}, expected a {kind}", "wrong_executor_kind")
    if record.workers != workers:
        return (
            f"its {record.kind} has {record.workers} workers, expected workers={workers}: size the executor "
            "by the argument, not by a number of your own or the executor's default",
            "executor_size",
        )
    if not record.shut_down:
        return (
            f"its {record.kind} was still open when the function returned: use `with {record.kind}(workers) "
            "as executor:` (or call shutdown())",
            "executor_left_open",
        )
    return None


@pytest.mark.points(1)
def test_download_executor(target):
    call, served, _ = download_run(target)
    workers = part1_workers()
    if not served.executors:
        value_of(served.outcome, call.describe(), EXECUTORS)
    problem = executor_problem(served.executors, "ThreadPoolExecutor", workers)
    if problem is None and served.peak_in_flight > workers:
        problem = (
            f"the server saw {served.peak_in_flight} downloads at once, more than workers={workers}",
            "executor_size",
        )
    if problem:
        fail(f"called {call.describe()}: {problem[0]}", cause=problem[1])


@pytest.mark.points(1)
def test_summarise_results(target):
    _, (call, outcome, _), small = file_runs(target)
    run = value_of(outcome, call.describe(), EXECUTORS)
    results, failures = collected(run.outcome, call)
    broken = [p for p in run.paths if "BROKEN_" in p.rsplit("/", 1)[-1]]
    good = [p for p in run.paths if p not in broken]
    if not isinstance(failures, dict) or set(failures) != set(broken):
        fail(
            f"called {call.describe()}: failures has {show(list(failures))}; expected the truncated archives' "
            f"paths, {show(broken)}, only",
            cause="summarise_failures_wrong",
        )
    if set(results) != set(good):
        fail(
            f"called {call.describe()}: results has {len(results)} paths, expected the {len(good)} readable archives",
            cause="summarise_results_wrong",
        )
    expected = {p: m.summary for p, m in zip(good, small)}
    for path in good:
        problem = frame_problem(results[path], expected[path])
        if problem:
            fail(f"called {call.describe()}: the summary of {path.rsplit('/', 1)[-1]}: {problem}", cause="summary_wrong")
    for path in broken:
        if not str(failures[path]).startswith("BadZipFile: "):
            fail(
                f"called {call.describe()}: the truncated archive's failure is {show(failures[path])}: expected "
                "describe_failure(error) of the BadZipFile that summarise_file raises",
                cause="failure_text",
            )


@pytest.mark.points(2)
def test_summarise_parallel(target):
    _, (call, outcome, evidence), _ = file_runs(target)
    run = value_of(outcome, call.describe(), EXECUTORS)
    if not evidence.is_parallel:
        value_of(run.outcome, call.describe(), EXECUTORS)
        fail(f"not parallel: {explain(evidence, TASK, call.describe())}. Measured: {evidence.summary()}.", cause="not_parallel")
    target.record(f"{call.describe()}: {evidence.summary()}")


@pytest.mark.points(1)
def test_summarise_executor(target):
    _, (call, outcome, evidence), _ = file_runs(target)
    run = value_of(outcome, call.describe(), EXECUTORS)
    workers = part1_workers()
    if not run.executors:
        value_of(run.outcome, call.describe(), EXECUTORS)
    problem = executor_problem(run.executors, None, workers)
    if problem is None and len(evidence.worker_pids) > workers:
        problem = (
            f"{TASK} ran in {len(evidence.worker_pids)} worker processes, more than workers={workers}",
            "executor_size",
        )
    if problem is None and outcome.leftovers:
        problem = (
            "processes were left running after it returned: " + "; ".join(outcome.leftovers[:2]),
            "processes_left_running",
        )
    if problem:
        fail(f"called {call.describe()}: {problem[0]}", cause=problem[1])


# Part 2: Dask --------------------------------------------------------------------------------------


def cluster_run(target: GradedTarget):
    """The one graded cluster run, shared by every part-2 check: (call, sandbox outcome, ClusterRun)."""
    archives = [(url_path(m), m.data, latency) for m, latency in zip(months(), CLUSTER_LATENCIES_S)]
    call = Call(
        run_on_cluster, (archives, target.workers),
        label=f"run_on_cluster([{MONTHS} archive URLs]) on a cluster of {target.workers} workers",
    )

    if importlib.util.find_spec("distributed") is None:
        fail("Dask is not installed: run pip install -e \".[distributed]\" (or pip install \"dask[distributed]\"), then grade again")

    def compute():
        outcome = target.run(CLUSTER, [call], timeout=CLUSTER_TIMEOUT_S).outcomes[0]
        run = value_of(outcome, call.describe(), CLUSTER)
        target.record(
            f"cluster of {len(run.workers)} workers started in {run.cluster_start_s:.2f} s; "
            f"run_on_cluster took {run.call_s:.2f} s"
        )
        return outcome, run

    outcome, run = target.once("cluster", compute)
    return call, outcome, run


def learner_value(target: GradedTarget):
    """(call, ClusterRun, the value run_on_cluster returned): for the check on the returned summaries."""
    call, outcome, run = cluster_run(target)
    no_network(call, run)
    value = value_of(run.outcome, call.describe(), CLUSTER)
    return call, run, value


def no_network(call: Call, run) -> None:
    if run.network:
        fail(f"called {call.describe()}: it tried to reach the real network: {run.network[0]}", cause="network")


def cluster_records(target: GradedTarget):
    """(call, ClusterRun) for the checks that judge the scheduler's records, not the returned value.

    A call that raised after its tasks ran is still judged on them (its crash is charged by
    cluster_results); one that ran no task at all fails with the reason it ended.
    """
    call, outcome, run = cluster_run(target)
    no_network(call, run)
    if not run.tasks and not run.outcome.ok:
        value_of(run.outcome, call.describe(), CLUSTER)
    tasks_ran(call, run)
    return call, run


def tasks_ran(call: Call, run) -> None:
    """Fail unless the learner's code reached the grader's cluster and ran its tasks there."""
    if not run.clients_connected:
        fail(
            f"called {call.describe()}: it never connected to the grader's cluster: create the Client with "
            f"the address in DASK_SCHEDULER_ADDRESS (scheduler_address()), not a cluster of your own",
            cause="own_cluster",
        )
    if not run.tasks:
        fail(f"called {call.describe()}: it connected to the cluster but ran no task on it", cause="no_tasks")


def task_summary(run) -> str:
    counts = Counter(t.name for t in run.tasks)
    return ", ".join(f"{name} x{count}" for name, count in counts.items())


@pytest.mark.points(2)
def test_cluster_results(target):
    call, _, value = learner_value(target)
    problem = frame_problem(value, pd.concat([m.summary for m in months()]))
    if problem:
        cause = "summaries_out_of_order" if "order of the URLs" in problem else "summaries_wrong"
        fail(f"called {call.describe()}: {problem}", cause=cause)


@pytest.mark.points(1)
def test_cluster_tasks(target):
    call, run = cluster_records(target)
    done = {name: [t for t in run.named(name) if t.state == "memory"] for name in (DOWNLOAD, PROCESS)}
    if len(done[DOWNLOAD]) < MONTHS or len(done[PROCESS]) < MONTHS:
        fail(
            f"called {call.describe()}: the cluster ran {task_summary(run)}; expected {DOWNLOAD} x{MONTHS} and "
            f"{PROCESS} x{MONTHS}: submit the given {DOWNLOAD} and {PROCESS} functions themselves, one task per "
            "URL and one per archive (a task that runs the whole pipeline is serial code on one worker)",
            cause="not_one_task_per_step",
        )
    target.record(f"{call.describe()}: tasks {task_summary(run)}")


@pytest.mark.points(2)
def test_cluster_workers(target):
    call, run = cluster_records(target)
    per_worker = Counter(t.worker for t in run.tasks if t.worker)
    if len(per_worker) < 2:
        where = f"one worker ({next(iter(per_worker))})" if per_worker else "no worker"
        fail(
            f"called {call.describe()}: according to the scheduler, all {sum(per_worker.values())} task(s) "
            f"({task_summary(run)}) ran on {where}, of the cluster's {len(run.workers)}: give the cluster many "
            "tasks at once (client.map), so that it can spread them over its workers",
            cause="one_worker",
        )
    target.record(
        f"{call.describe()}: tasks per worker "
        + ", ".join(f"{address.rsplit(':', 1)[-1]}: {count}" for address, count in sorted(per_worker.items()))
    )


@pytest.mark.points(1)
def test_downloads_concurrent(target):
    call, run = cluster_records(target)
    if run.peak_in_flight < 2:
        fail(
            f"called {call.describe()}: the downloads ran one at a time: the server never saw two at once "
            f"({len(run.requests)} requests). Waiting for each item's result before submitting the next "
            "(compute() or result() per item in a loop) leaves the other workers idle: submit all the tasks, "
            "then gather once",
            cause="downloads_one_at_a_time",
        )
    target.record(f"{call.describe()}: at most {run.peak_in_flight} downloads in flight")


@pytest.mark.points(1)
def test_processing_early(target):
    call, run = cluster_records(target)
    downloads = [t for t in run.named(DOWNLOAD) if t.stop is not None]
    processed = [t for t in run.named(PROCESS) if t.start is not None]
    if not downloads or not processed:
        fail(
            f"called {call.describe()}: the cluster ran {task_summary(run)}, without both {DOWNLOAD} and {PROCESS} tasks",
            cause="not_one_task_per_step",
        )
    last_download = max(t.stop for t in downloads)
    first_process = min(t.start for t in processed)
    if first_process >= last_download:
        gap = max(CLUSTER_LATENCIES_S) - min(CLUSTER_LATENCIES_S)
        fail(
            f"called {call.describe()}: processing began {first_process - last_download:.2f} s after the last "
            f"download had finished, although the first archives had arrived about {gap:.1f} s "
            f"earlier: pass each download's future to {PROCESS} (client.map(process_archive, downloads)) "
            "instead of waiting for all the downloads first",
            cause="processing_waits_for_all",
        )
    target.record(f"{call.describe()}: processing began {last_download - first_process:.2f} s before the last download ended")


@pytest.mark.points(2)
def test_no_gather_between_steps(target):
    call, run = cluster_records(target)
    download_keys = {t.key for t in run.named(DOWNLOAD)}
    to_client = sorted({key for gather in run.gathers for key in gather.keys if key in download_keys})
    if to_client:
        fail(
            f"called {call.describe()}: {len(to_client)} downloaded archive(s) were gathered to the client "
            "(gather() or result() on the download futures) between the two steps, only to be sent back to "
            f"the workers: pass the download futures themselves to {PROCESS}, so the archives stay on the workers",
            cause="archives_gathered",
        )
    processes = run.named(PROCESS)
    if not processes:
        fail(f"called {call.describe()}: the cluster ran {task_summary(run)}, but no {PROCESS} task", cause="not_one_task_per_step")
    detached = [t for t in processes if not any(d in download_keys for d in t.dependencies)]
    if detached:
        fail(
            f"called {call.describe()}: {len(detached)} of {len(processes)} {PROCESS} task(s) did not take their "
            f"archive from a {DOWNLOAD} task: the data went through the client (gathered, or scattered back). "
            f"Pass the download futures themselves to {PROCESS}",
            cause="archives_gathered",
        )


@pytest.mark.points(1)
def test_one_client(target):
    call, run = cluster_records(target)
    if run.clients_connected > 1:
        fail(
            f"called {call.describe()}: {run.clients_connected} Clients connected to the scheduler during one call: "
            "open one Client for the whole call and submit every task through it",
            cause="client_per_item",
        )


@pytest.mark.points(1)
def test_client_closed(target):
    call, outcome, run = cluster_run(target)
    if not run.clients_connected and not outcome.leftovers:
        value_of(run.outcome, call.describe(), CLUSTER)
    if run.clients_left_open:
        fail(
            f"called {call.describe()}: {run.clients_left_open} Client(s) were left open after it returned, still "
            "connected to the scheduler (and holding their results on a shared cluster): use "
            "`with Client(scheduler_address()) as client:`, or call client.close()",
            cause="client_left_open",
        )
    if outcome.leftovers:
        fail(
            f"called {call.describe()}: processes were left running after it returned: "
            + "; ".join(outcome.leftovers[:2])
            + ". A cluster (or pool) started in run_on_cluster must be closed before it returns: use `with`; "
            "better still, start none and use the cluster at scheduler_address()",
            cause="processes_left_running",
        )
