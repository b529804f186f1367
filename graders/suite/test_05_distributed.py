"""Grader for 05_distributed: concurrent.futures executors, then the pipeline on a real Dask cluster.

Part 1 (executors.py) runs in two sandboxes:
- the learner's ``collect`` on a thread pool and on a process pool that the grader creates, with
  the grader's own task function, once with every task succeeding and once with some raising: the
  other results must survive and each failure must be reported under its input;
- ``download_all`` against a real HTTP server on 127.0.0.1 (graders.loopback_http), which counts
  the requests in flight, and ``summarise_all`` with ``summarise_file`` traced in every process
  (graders.tracing), which shows whether the archives were summarised in several processes at once.

Part 2 (cluster.py) runs once, in one sandbox (graders.dask_harness): a LocalCluster of worker
processes on loopback, the archives served with latencies (three quick, the last one slow), and the
learner's ``run_on_cluster`` connected to it through DASK_SCHEDULER_ADDRESS. Every verdict comes from
the scheduler's records of its tasks (which worker ran what, when, on whose results) and its gather
requests, or from the server's count of requests in flight; none from what the learner reports.
The expected summaries are computed by the grader (fixtures.aemo), not by the learner's code.
"""
from __future__ import annotations

import importlib.util
from collections import Counter
from functools import lru_cache
from urllib.parse import urlsplit

import pandas as pd
import pytest

from fixtures import aemo
from graders.calls import Call, Outcome
from graders.evidence import analyse, explain
from graders.feedback import fail, show, value_of
from graders.target import GradedTarget

EXECUTORS = "executors"
CLUSTER = "cluster"
TASK = "summarise_file"
COLLECT = "graders.executor_harness:collect_on"
DOWNLOAD_ALL = "graders.executor_harness:download_all"
SUMMARISE_ALL = "graders.executor_harness:summarise_all"
RUN_ON_CLUSTER = "graders.dask_harness:run_on_cluster"
EXECUTOR_NAMES = {"threads": "ThreadPoolExecutor", "processes": "ProcessPoolExecutor"}

SMALL_DAYS = 3  # part 1's archives: a few days each, quick to summarise
DOWNLOAD_LATENCY_S = 0.2
MONTHS = 4
# Part 2: three archives arrive quickly, the last one long after, so a pipeline that processes each
# archive as soon as it has arrived is seen doing so before the last download is over.
QUICK_S, LAST_S = 0.1, 1.5
CLUSTER_TIMEOUT_S = 40.0
DOWNLOAD, PROCESS = "download", "process_archive"


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


def collect_items(target: GradedTarget) -> tuple[list[int], tuple[int, ...]]:
    items = target.rng("collect").sample(range(2, 500), 8)
    return items, (items[2], items[5])


def collect_calls(target: GradedTarget) -> dict[tuple[str, bool], Call]:
    items, failing = collect_items(target)
    calls = {}
    for kind, name in EXECUTOR_NAMES.items():
        calls[(kind, False)] = Call(
            COLLECT, (kind, items), {"workers": target.workers},
            label=f"collect({name}({target.workers}), cube, {show(items)})",
        )
        calls[(kind, True)] = Call(
            COLLECT, (kind, items), {"failing": failing, "workers": target.workers},
            label=f"collect({name}({target.workers}), cube, {show(items)}) where the tasks for {failing[0]} and {failing[1]} raise",
        )
    return calls


def collect_outcomes(target: GradedTarget) -> dict[tuple[str, bool], tuple[Call, Outcome]]:
    calls = collect_calls(target)

    def compute():
        run = target.run(EXECUTORS, list(calls.values()))
        return [o.value.outcome if o.ok else o for o in run.outcomes]

    outcomes = target.once("collect", compute)
    return {key: (call, outcome) for (key, call), outcome in zip(calls.items(), outcomes)}


def collected(outcome: Outcome, call: Call) -> tuple[dict, object]:
    """The (results, failures) pair the learner's function returned; results must be a dict."""
    value = value_of(outcome, call.describe(), EXECUTORS)
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], dict)):
        fail(f"called {call.describe()}: got {show(value)}, expected a pair (results, failures) of two dicts")
    return value[0], value[1]


@pytest.mark.points(1)
def test_collect_results(target):
    items, _ = collect_items(target)
    for kind in EXECUTOR_NAMES:
        call, outcome = collect_outcomes(target)[(kind, False)]
        results, failures = collected(outcome, call)
        if failures:
            fail(f"called {call.describe()}: no task failed, but failures is {show(failures)}")
        expected = {item: item**3 for item in items}
        if results != expected:
            missing = [item for item in items if item not in results]
            wrong = [item for item in items if item in results and results[item] != expected[item]]
            if missing:
                detail = f"no result for {show(missing)}"
            elif wrong:
                item = wrong[0]
                detail = (
                    f"results[{item}] is {show(results[item])}, but cube({item}) = {expected[item]} "
                    f"({len(wrong)} of {len(items)} results are under the wrong item)"
                )
            else:
                detail = f"got results for items that were never given: {show(sorted(set(results) - set(items), key=str))}"
            fail(f"called {call.describe()}: {detail}; expected {{item: cube(item)}} for every item")


@pytest.mark.points(2)
def test_collect_failures(target):
    items, failing = collect_items(target)
    for kind in EXECUTOR_NAMES:
        call, outcome = collect_outcomes(target)[(kind, True)]
        if not outcome.ok and "failed on purpose" in outcome.error:
            fail(
                f"called {call.describe()}: it raised {outcome.error}{f' ({outcome.where})' if outcome.where else ''} "
                f"instead of returning: one failing task stopped the collection and the results of the "
                f"other {len(items) - len(failing)} tasks were lost"
            )
        results, failures = collected(outcome, call)
        expected = {item: item**3 for item in items if item not in failing}
        if results != expected:
            wrong = sorted(set(results) ^ set(expected), key=str)
            fail(
                f"called {call.describe()}: results should hold the {len(expected)} tasks that succeeded, "
                f"and only those; these items are missing or should not be there: {show(wrong)}"
            )
        if not isinstance(failures, dict) or set(failures) != set(failing):
            fail(
                f"called {call.describe()}: failures is {show(failures)}; expected one entry per failing task "
                f"under its input, {{{failing[0]}: ..., {failing[1]}: ...}}, so the learner can tell which "
                "input failed"
            )
        for item in failing:
            if "failed on purpose" not in str(failures[item]):
                fail(
                    f"called {call.describe()}: the failure for {item} is reported as {show(failures[item])}, "
                    "which does not say what went wrong: use describe_failure(error)"
                )


def file_runs(target: GradedTarget):
    """(download call, its run) and (summarise call, its run, its trace evidence), sharing one sandbox."""
    small = months(MONTHS, days=SMALL_DAYS)
    served = [(url_path(m), m.data, DOWNLOAD_LATENCY_S) for m in small]
    missing = "/Data_Archive/missing/PUBLIC_DVD_DISPATCH_UNIT_SCADA_209912010000.zip"
    broken = small[1]
    files = [(m.name, m.data) for m in small]
    files.insert(2, (f"BROKEN_{broken.name}", aemo.truncated(broken.data)))
    download = Call(
        DOWNLOAD_ALL, (served, [missing], target.workers),
        label=f"download_all([{len(served) + 1} URLs, one of them missing], folder, workers={target.workers})",
    )
    summarise = Call(
        SUMMARISE_ALL, (files, target.workers),
        label=f"summarise_all([{len(files)} archive paths, one of them truncated], workers={target.workers})",
    )

    def compute():
        run = target.run(EXECUTORS, [download, summarise], trace=(TASK,))
        return run.outcomes, analyse(run.events, run.pid, run.finished_at)

    (download_outcome, summarise_outcome), evidence = target.once("files", compute)
    return (download, download_outcome), (summarise, summarise_outcome, evidence), small


def download_run(target: GradedTarget):
    (call, outcome), _, small = file_runs(target)
    served = value_of(outcome, call.describe(), EXECUTORS)
    return call, served, small


@pytest.mark.points(1)
def test_download_results(target):
    call, served, small = download_run(target)
    results, failures = collected(served.outcome, call)
    good = [url for url in served.urls if "missing" not in url]
    missing = [url for url in served.urls if "missing" in url]
    if not isinstance(failures, dict) or set(failures) != set(missing):
        fail(f"called {call.describe()}: failures is {show(failures)}; expected the missing URL {missing[0]!r} only, with its error")
    if set(results) != set(good):
        fail(f"called {call.describe()}: results has {len(results)} URLs, expected the {len(good)} that exist: {show(good)}")
    data = {m.name: m.data for m in small}
    for url in good:
        path = results[url]
        if served.files.get(path) != data[url.rsplit("/", 1)[-1]]:
            fail(f"called {call.describe()}: the file {show(path)} returned for {url} does not hold that URL's bytes")
    if "404" not in str(failures[missing[0]]):
        fail(f"called {call.describe()}: the missing URL's failure is {show(failures[missing[0]])}: it should say what happened (404)")


@pytest.mark.points(1)
def test_downloads_overlap(target):
    call, served, _ = download_run(target)
    collected(served.outcome, call)
    target.require_overlapping_downloads(
        call, served,
        "the server never saw two downloads at once: each download waited for the previous one. Submit "
        "every URL to a ThreadPoolExecutor(workers) before collecting",
    )


@pytest.mark.points(1)
def test_summarise_results(target):
    _, (call, outcome, _), small = file_runs(target)
    run = value_of(outcome, call.describe(), EXECUTORS)
    results, failures = collected(run.outcome, call)
    broken = [p for p in run.paths if "BROKEN_" in p.rsplit("/", 1)[-1]]
    good = [p for p in run.paths if p not in broken]
    if not isinstance(failures, dict) or set(failures) != set(broken):
        fail(f"called {call.describe()}: failures has {show(list(failures))}; expected the truncated archive's path, {broken[0]!r}, only")
    if set(results) != set(good):
        fail(f"called {call.describe()}: results has {len(results)} paths, expected the {len(good)} readable archives")
    expected = {p: m.summary for p, m in zip(good, small)}
    for path in good:
        problem = frame_problem(results[path], expected[path])
        if problem:
            fail(f"called {call.describe()}: the summary of {path.rsplit('/', 1)[-1]}: {problem}")


@pytest.mark.points(2)
def test_summarise_parallel(target):
    _, (call, outcome, evidence), _ = file_runs(target)
    run = value_of(outcome, call.describe(), EXECUTORS)
    collected(run.outcome, call)
    if not evidence.is_parallel:
        fail(f"not parallel: {explain(evidence, TASK, call.describe())}. Measured: {evidence.summary()}.")
    target.record(f"{call.describe()}: {evidence.summary()}")


# Part 2: Dask --------------------------------------------------------------------------------------


def cluster_run(target: GradedTarget):
    """The one graded cluster run, shared by every part-2 check: (call, sandbox outcome, ClusterRun)."""
    latencies = [QUICK_S * (i + 1) for i in range(MONTHS - 1)] + [LAST_S]
    archives = [(url_path(m), m.data, latency) for m, latency in zip(months(), latencies)]
    call = Call(
        RUN_ON_CLUSTER, (archives, target.workers),
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
    call, outcome, run = cluster_run(target)
    value = value_of(run.outcome, call.describe(), CLUSTER)
    if run.network:
        fail(f"called {call.describe()}: it tried to reach the real network: {run.network[0]}")
    return call, run, value


def tasks_ran(call: Call, run) -> None:
    """Fail unless the learner's code reached the grader's cluster and ran its tasks there."""
    if not run.clients_connected:
        fail(
            f"called {call.describe()}: it never connected to the grader's cluster: create the Client with "
            f"the address in DASK_SCHEDULER_ADDRESS (scheduler_address()), not a cluster of your own"
        )
    if not run.tasks:
        fail(f"called {call.describe()}: it connected to the cluster but ran no task on it")


def task_summary(run) -> str:
    counts = Counter(t.name for t in run.tasks)
    return ", ".join(f"{name} x{count}" for name, count in counts.items())


@pytest.mark.points(2)
def test_cluster_results(target):
    call, _, value = learner_value(target)
    problem = frame_problem(value, pd.concat([m.summary for m in months()]))
    if problem:
        fail(f"called {call.describe()}: {problem}")


@pytest.mark.points(1)
def test_cluster_tasks(target):
    call, run, _ = learner_value(target)
    tasks_ran(call, run)
    done = {name: [t for t in run.named(name) if t.state == "memory"] for name in (DOWNLOAD, PROCESS)}
    if len(done[DOWNLOAD]) < MONTHS or len(done[PROCESS]) < MONTHS:
        fail(
            f"called {call.describe()}: the cluster ran {task_summary(run)}; expected {DOWNLOAD} x{MONTHS} and "
            f"{PROCESS} x{MONTHS}: submit the given {DOWNLOAD} and {PROCESS} functions themselves, one task per "
            "URL and one per archive (a task that runs the whole pipeline is serial code on one worker)"
        )
    target.record(f"{call.describe()}: tasks {task_summary(run)}")


@pytest.mark.points(2)
def test_cluster_workers(target):
    call, run, _ = learner_value(target)
    tasks_ran(call, run)
    per_worker = Counter(t.worker for t in run.tasks if t.worker)
    if len(per_worker) < 2:
        where = f"one worker ({next(iter(per_worker))})" if per_worker else "no worker"
        fail(
            f"called {call.describe()}: according to the scheduler, all {sum(per_worker.values())} task(s) "
            f"({task_summary(run)}) ran on {where}, of the cluster's {len(run.workers)}: give the cluster many "
            "tasks at once (client.map), so that it can spread them over its workers"
        )
    target.record(
        f"{call.describe()}: tasks per worker "
        + ", ".join(f"{address.rsplit(':', 1)[-1]}: {count}" for address, count in sorted(per_worker.items()))
    )


@pytest.mark.points(1)
def test_downloads_concurrent(target):
    call, run, _ = learner_value(target)
    tasks_ran(call, run)
    if run.peak_in_flight < 2:
        fail(
            f"called {call.describe()}: the downloads ran one at a time: the server never saw two at once "
            f"({len(run.requests)} requests). Waiting for each item's result before submitting the next "
            "(compute() or result() per item in a loop) leaves the other workers idle: submit all the tasks, "
            "then gather once"
        )
    target.record(f"{call.describe()}: at most {run.peak_in_flight} downloads in flight")


@pytest.mark.points(1)
def test_processing_early(target):
    call, run, _ = learner_value(target)
    tasks_ran(call, run)
    downloads = [t for t in run.named(DOWNLOAD) if t.stop is not None]
    processed = [t for t in run.named(PROCESS) if t.start is not None]
    if not downloads or not processed:
        fail(f"called {call.describe()}: the cluster ran {task_summary(run)}, without both {DOWNLOAD} and {PROCESS} tasks")
    last_download = max(t.stop for t in downloads)
    first_process = min(t.start for t in processed)
    if first_process >= last_download:
        fail(
            f"called {call.describe()}: processing began {first_process - last_download:.2f} s after the last "
            f"download had finished, although the first archives had arrived about {LAST_S - QUICK_S:.1f} s "
            f"earlier: pass each download's future to {PROCESS} (client.map(process_archive, downloads)) "
            "instead of waiting for all the downloads first"
        )
    target.record(f"{call.describe()}: processing began {last_download - first_process:.2f} s before the last download ended")


@pytest.mark.points(2)
def test_no_gather_between_steps(target):
    call, run, _ = learner_value(target)
    tasks_ran(call, run)
    download_keys = {t.key for t in run.named(DOWNLOAD)}
    to_client = sorted({key for gather in run.gathers for key in gather.keys if key in download_keys})
    if to_client:
        fail(
            f"called {call.describe()}: {len(to_client)} downloaded archive(s) were gathered to the client "
            "(gather() or result() on the download futures) between the two steps, only to be sent back to "
            f"the workers: pass the download futures themselves to {PROCESS}, so the archives stay on the workers"
        )
    processes = run.named(PROCESS)
    if not processes:
        fail(f"called {call.describe()}: the cluster ran {task_summary(run)}, but no {PROCESS} task")
    detached = [t for t in processes if not any(d in download_keys for d in t.dependencies)]
    if detached:
        fail(
            f"called {call.describe()}: {len(detached)} of {len(processes)} {PROCESS} task(s) did not take their "
            f"archive from a {DOWNLOAD} task: the data went through the client (gathered, or scattered back). "
            f"Pass the download futures themselves to {PROCESS}"
        )


@pytest.mark.points(1)
def test_client_closed(target):
    call, outcome, run = cluster_run(target)
    value_of(run.outcome, call.describe(), CLUSTER)
    if run.clients_left_open:
        fail(
            f"called {call.describe()}: {run.clients_left_open} Client(s) were left open after it returned, still "
            "connected to the scheduler (and holding their results on a shared cluster): use "
            "`with Client(scheduler_address()) as client:`, or call client.close()"
        )
    if outcome.leftovers:
        fail(
            f"called {call.describe()}: processes were left running after it returned: "
            + "; ".join(outcome.leftovers[:2])
            + ". A cluster (or pool) started in run_on_cluster must be closed before it returns: use `with`; "
            "better still, start none and use the cluster at scheduler_address()"
        )
