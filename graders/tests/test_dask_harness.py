"""Exercise 05's harnesses: the loopback archive server, the task records and the real-cluster runs.

The cluster tests start real Dask clusters in sandboxes (a few seconds each); they check what the
grader relies on: the records say which worker ran what and on whose results, the learner's code
finds the scheduler in DASK_SCHEDULER_ADDRESS, the cluster listens on loopback only, the workers
cannot reach the real network, and no Dask process outlives a run, even one that hangs.
"""
from __future__ import annotations

import asyncio
import shutil
import textwrap
import threading
import types
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import psutil
import pytest

from graders.sandbox import calls as c
from graders.sandbox import learner
from graders.harnesses.dask_calls import Gather, TaskRecorder, _watch_gathers, run_on_cluster
from graders.harnesses.executor_calls import collect_on
from graders.instruments.loopback_http import ArchiveServer, Route
from graders.sandbox.processes import descendants
from graders.sandbox.parent import run_calls
from graders.tests.conftest import PROJECT

pytest.importorskip("distributed", reason="exercise 05 needs the distributed extra: pip install -e .[distributed]")

HARNESS = run_on_cluster
ARCHIVES = [("/a/one.zip", b"first", 0.05), ("/a/two.zip", b"second", 0.05)]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# The loopback server --------------------------------------------------------------------------------


def test_server_listens_on_loopback_and_serves_its_routes_only():
    with ArchiveServer({"/x/data.zip": Route(b"payload", latency=0.0)}) as server:
        assert server.address.startswith("http://127.0.0.1:")
        assert _get(server.url("/x/data.zip")) == (200, b"payload")
        status, _ = _get(server.url("/x/other.zip"))
        assert status == 404
    assert [(r.path, r.status) for r in server.requests] == [("/x/data.zip", 200), ("/x/other.zip", 404)]
    assert all(r.end is not None and r.end >= r.start for r in server.requests)


def test_server_counts_requests_in_flight():
    routes = {"/slow": Route(b"s", latency=1.0), "/quick": Route(b"q", latency=0.0)}
    with ArchiveServer(routes) as server:
        _get(server.url("/quick"))
        assert server.peak_in_flight == 1  # one request at a time so far
        slow = threading.Thread(target=_get, args=(server.url("/slow"),))
        slow.start()
        while not server.requests or server.requests[-1].path != "/slow":
            threading.Event().wait(0.005)
        _get(server.url("/quick"))  # answered while the slow one is still waiting
        slow.join()
    assert server.peak_in_flight == 2


def test_server_rejects_relative_paths():
    with pytest.raises(ValueError, match="start with '/'"):
        ArchiveServer({"a.zip": Route()})


# The task records ------------------------------------------------------------------------------------


def _task(name: str, dependencies=()):
    return types.SimpleNamespace(prefix=types.SimpleNamespace(name=name), dependencies=list(dependencies))


def test_recorder_keeps_worker_times_dependencies_and_errors():
    download = _task("download")
    download.key = "download-1"
    process = _task("process_archive", [download])
    scheduler = types.SimpleNamespace(tasks={"download-1": download, "process_archive-1": process, "bad-1": _task("bad")})
    recorder = TaskRecorder(scheduler)
    compute = ({"action": "transfer", "start": 1.0, "stop": 2.0}, {"action": "compute", "start": 3.0, "stop": 4.0})
    recorder.transition("download-1", "released", "waiting", stimulus_id="s")
    recorder.transition("download-1", "waiting", "processing", stimulus_id="s")
    recorder.transition("download-1", "processing", "memory", stimulus_id="s", worker="tcp://127.0.0.1:1", startstops=compute)
    recorder.transition("download-1", "memory", "released", stimulus_id="s")
    recorder.transition("process_archive-1", "waiting", "processing", stimulus_id="s")
    recorder.transition("bad-1", "processing", "erred", stimulus_id="s", worker="tcp://127.0.0.1:2",
                        exception_text="ValueError('boom')", startstops=())
    records = {r.key: r for r in recorder.snapshot()}
    assert (records["download-1"].worker, records["download-1"].start, records["download-1"].stop) == ("tcp://127.0.0.1:1", 3.0, 4.0)
    assert records["download-1"].state == "memory"  # being released afterwards does not undo it
    assert records["process_archive-1"].dependencies == ("download-1",)
    assert records["process_archive-1"].state == "processing"
    assert (records["bad-1"].state, records["bad-1"].error) == ("erred", "ValueError('boom')")
    assert [r.name for r in recorder.snapshot()] == ["download", "process_archive", "bad"]


def test_gathers_through_the_scheduler_are_recorded_and_still_served():
    async def original(keys, serializers=None):
        return {"status": "OK", "data": {k: k.upper() for k in keys}}

    scheduler = types.SimpleNamespace(handlers={"gather": original})
    gathers: list[Gather] = []
    _watch_gathers(scheduler, gathers)
    reply = asyncio.run(scheduler.handlers["gather"](keys=["download-1", "download-2"]))
    assert reply["data"] == {"download-1": "DOWNLOAD-1", "download-2": "DOWNLOAD-2"}
    assert [g.keys for g in gathers] == [("download-1", "download-2")]


# Part 1's collect harness, in-process on threads --------------------------------------------------


def test_collect_harness_gives_the_learner_a_task_that_fails_for_the_chosen_items():
    def collect(executor, function, items):
        results, failures = {}, {}
        for item, future in [(item, executor.submit(function, item)) for item in items]:
            try:
                results[item] = future.result()
            except Exception as error:  # noqa: BLE001
                failures[item] = str(error)
        return results, failures

    module = types.SimpleNamespace(collect=collect, __file__=__file__)
    run = collect_on(module, "threads", [2, 3, 4], failing=(3,))
    assert run.outcome.ok
    assert run.outcome.value == ({2: 8, 4: 64}, {3: "task for 3 failed on purpose"})


def test_harnesses_report_a_missing_function_with_the_functions_found():
    from graders.harnesses.executor_calls import download_all, summarise_all

    def archive_name(url):
        return url

    module = types.ModuleType("executors")
    module.__file__ = __file__
    module.archive_name = archive_name
    archive_name.__module__ = "executors"
    for run in (collect_on(module, "threads", [1]), download_all(module, [], [], 2), summarise_all(module, [], 2)):
        assert run.outcome.status == c.MISSING_FUNCTION
        assert (run.outcome.missing, run.outcome.found) in ((name, ["archive_name"]) for name in ("collect", "download_all", "summarise_all"))


def test_executor_watch_records_size_count_and_shutdown():
    from concurrent.futures import ThreadPoolExecutor

    from graders.harnesses.executor_calls import ExecutorWatch

    before = ThreadPoolExecutor(1)
    with ExecutorWatch() as watch:
        with ThreadPoolExecutor(3):
            pass
        left_open = ThreadPoolExecutor(5)
        records = watch.records()
    left_open.shutdown()
    before.shutdown()
    assert [(r.kind, r.workers, r.shut_down) for r in records] == [
        ("ThreadPoolExecutor", 3, True),
        ("ThreadPoolExecutor", 5, False),
    ]


def test_collect_harness_counts_tasks_running_at_once_on_threads():
    from graders.harnesses.executor_calls import reference_collect

    module = types.SimpleNamespace(collect=reference_collect, __file__=__file__)
    run = collect_on(module, "threads", [1, 2, 3, 4], workers=3, delays={1: 0.2, 2: 0.2, 3: 0.2, 4: 0.2})
    assert run.outcome.ok and run.peak_running == 3


# Real clusters in sandboxes -------------------------------------------------------------------------


def _learner(tmp_path: Path, source: str) -> Path:
    folder = tmp_path / "learner"
    folder.mkdir()
    (folder / "cluster.py").write_text(textwrap.dedent(source))
    return folder


def _cluster_run(folder: Path, archives=ARCHIVES, timeout: float = 60.0):
    """(the harness call's outcome, the sandbox's output)."""
    sandbox = run_calls(folder, "cluster", [c.Call(HARNESS, (archives, 2))], timeout=timeout)
    return sandbox.outcomes[0], sandbox.output


def test_reference_pipeline_is_recorded_task_by_task(tmp_path):
    from fixtures import aemo

    folder = tmp_path / "solution"
    shutil.copytree(PROJECT / "solutions" / "05_distributed", folder)
    months = [aemo.make_archive(month=month, days=1) for month in (1, 2)]
    archives = [(f"/archives/{m.name}", m.data, 0.2) for m in months]
    outcome, output = _cluster_run(folder, archives)
    assert outcome.ok, outcome.error
    assert not outcome.leftovers
    run = outcome.value
    assert run.outcome.ok, run.outcome.error
    assert run.outcome.value.equals(pd.concat([m.summary for m in months]))
    assert run.address.startswith("tcp://127.0.0.1:")
    assert len(run.workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in run.workers)
    downloads, processes = run.named("download"), run.named("process_archive")
    assert len(downloads) == 2 and all(t.state == "memory" and t.worker in run.workers for t in downloads)
    assert all(t.start is not None and t.stop >= t.start for t in downloads)
    assert {d for t in processes for d in t.dependencies} == {t.key for t in downloads}
    assert len(processes) == 2 and all(t.state == "memory" for t in processes)
    gathered = {key for g in run.gathers for key in g.keys}
    assert gathered == {t.key for t in processes}  # the summaries only, never the archives
    assert (run.clients_connected, run.clients_left_open, run.cluster_closed) == (1, 0, True)
    assert sorted(r.path for r in run.requests) == sorted(path for path, _, _ in archives)
    # Whether Dask runs these two downloads on two workers at once is its scheduler's choice (the
    # exercise's downloads_concurrent check uses more archives); the count itself is tested above.
    assert run.peak_in_flight in (1, 2)
    assert run.network == []
    # Dask's logging is silenced: nothing in the sandbox's output.
    assert "distributed" not in output, output


def test_learner_finds_the_scheduler_and_workers_cannot_reach_the_network(tmp_path):
    folder = _learner(tmp_path, '''
        import os
        import socket

        import dask
        from distributed import Client


        def reach_out():
            try:
                socket.create_connection(("192.0.2.1", 80), timeout=1)
            except Exception as error:
                return f"{type(error).__name__}: {error}"
            return "connected"


        def run_on_cluster(urls):
            with Client() as client:  # no address: Dask's configuration, as DASK_SCHEDULER_ADDRESS sets it
                return (
                    os.environ["DASK_SCHEDULER_ADDRESS"],
                    dask.config.get("scheduler-address"),
                    client.scheduler.address,
                    client.submit(reach_out).result(),
                    urls,
                )
    ''')
    outcome, _ = _cluster_run(folder)
    assert outcome.ok, outcome.error
    run = outcome.value
    assert run.outcome.ok, run.outcome.error
    env_address, config_address, connected_to, reached, urls = run.outcome.value
    assert env_address == config_address == connected_to == run.address
    assert reached.startswith("NetworkBlocked")
    assert urls == run.urls and all(u.startswith("http://127.0.0.1:") for u in urls)
    assert not outcome.leftovers


def test_client_left_open_is_reported_then_closed(tmp_path):
    folder = _learner(tmp_path, '''
        from distributed import Client

        KEEP = []


        def run_on_cluster(urls):
            client = Client()
            KEEP.append(client)
            return client.submit(len, urls).result()
    ''')
    outcome, output = _cluster_run(folder)
    assert outcome.ok, outcome.error
    run = outcome.value
    assert run.outcome.value == len(ARCHIVES)
    assert (run.clients_connected, run.clients_left_open) == (1, 1)
    assert run.cluster_closed and not outcome.leftovers
    assert "distributed" not in output, output  # the closed client did not complain about the cluster


def test_no_dask_process_survives_learner_code_that_hangs(tmp_path):
    # The sandbox cannot write outside its own folders (nor would its pids mean anything out here, in
    # a pid namespace of its own): what survives is looked for among this process's descendants.
    folder = _learner(tmp_path, '''
        import os
        import time

        from distributed import Client


        def run_on_cluster(urls):
            client = Client()
            assert len(client.run(os.getpid)) == 2
            while True:
                time.sleep(0.1)
    ''')
    before = {p.pid for p in descendants()}
    outcome, _ = _cluster_run(folder, timeout=15.0)
    assert outcome.status == c.TIMEOUT
    # Killed processes that were adopted by this process may linger as zombies until reaped: dead all the same.
    new = [p for p in descendants() if p.pid not in before]
    alive = [p.pid for p in new if _running(p)]
    assert not alive, alive
    psutil.wait_procs(new, timeout=2)


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_dask_objects_returned_by_the_learner_are_refused_plainly():
    import dask

    from graders.harnesses.dask_calls import _plain

    assert _plain(c.Outcome(c.OK, value=[1, 2]), "run_on_cluster").value == [1, 2]
    refused = _plain(c.Outcome(c.OK, value=[dask.delayed(len)([1])]), "run_on_cluster")
    assert refused.status == c.BAD_RETURN and "gather or compute" in refused.error
    lazy = _plain(learner.call(lambda: iter([1]), "."), "run_on_cluster")
    assert (lazy.status, lazy.returned) == (c.LAZY_RETURN, "list_iterator")
