"""Parallelism evidence: the verdict from traced intervals, and tracing that reaches every worker."""
from __future__ import annotations

import pytest

from graders.calls import Call
from graders.evidence import analyse, explain
from graders.runner import run_calls
from graders.tracing import TraceEvent

CALLER = 100


def events(*spans):
    return [TraceEvent("task", pid, start, end) for pid, start, end in spans]


def test_two_workers_overlapping_is_parallel():
    evidence = analyse(events((1, 0, 2), (2, 1, 3)), CALLER, 10)
    assert evidence.is_parallel and evidence.max_processes_at_once == 2


@pytest.mark.parametrize(
    ("spans", "reason"),
    [
        ([], "never called"),
        ([(CALLER, 0, 1), (CALLER, 0.5, 2)], "inside the calling process"),
        ([(1, 0, 1), (1, 1, 2)], "one single worker process"),
        ([(1, 0, 1), (2, 1, 2), (3, 2, 3)], "never in two at the same time"),
    ],
)
def test_each_kind_of_non_parallel_run_is_named(spans, reason):
    evidence = analyse(events(*spans), CALLER, 10)
    assert not evidence.is_parallel
    assert reason in explain(evidence, "task", "f(...)")


def test_many_tasks_of_one_process_do_not_count_as_two():
    evidence = analyse(events((1, 0, 5), (1, 1, 2), (1, 3, 4)), CALLER, 10)
    assert evidence.max_processes_at_once == 1


def test_an_unfinished_task_counts_until_the_end_of_the_run():
    evidence = analyse(events((1, 0, None), (2, 5, 6)), CALLER, 10)
    assert evidence.is_parallel


POOLS = '''
from multiprocessing import Pool
from multiprocessing.pool import ThreadPool


def tiny(x):
    return x * 2


def chunk(xs):
    return [tiny(x) for x in xs]


def pool_map(n, processes):
    with Pool(processes) as pool:
        return pool.map(tiny, range(n))


def pool_of_chunks(n, processes):
    with Pool(processes) as pool:
        return sum(pool.map(chunk, [list(range(i, n, processes)) for i in range(processes)]), [])


def thread_map(n, processes):
    with ThreadPool(processes) as pool:
        return pool.map(tiny, range(n))
'''


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
@pytest.mark.parametrize(("function", "parallel"), [("pool_map", True), ("pool_of_chunks", True), ("thread_map", False)])
def test_tiny_tasks_are_traced_in_every_worker(tmp_path, start_method, function, parallel):
    (tmp_path / "pools.py").write_text(POOLS)
    run = run_calls(
        tmp_path, "pools", [Call(function, (40, 2))], timeout=30, start_method=start_method, trace=("tiny",), trace_wait_s=1.0
    )
    assert run.outcomes[0].ok, run.outcomes[0]
    assert sorted(run.outcomes[0].value) == sorted(x * 2 for x in range(40))
    evidence = analyse(run.events, run.pid, run.finished_at)
    assert evidence.calls == 40
    assert evidence.is_parallel is parallel, evidence


def test_the_channel_files_each_line_under_the_pid_of_the_process_that_sent_it():
    import os
    import socket

    from graders.runner import TraceChannel

    channel = TraceChannel.open()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sender:
        sender.connect(channel.address)
        sender.sendall(b"S 4242-1-0 task 1.0\nE 4242-1-0 task 2.0\nS 4343-1-0 task 1.5\n")
    events = channel.close()
    assert sorted((e.pid, e.start, e.end) for e in events) == [(os.getpid(), 1.0, 2.0), (os.getpid(), 1.5, None)]


FORGER = '''
import json, os, time


def task(x):
    return x


def serial_with_a_forged_log(n):
    results = [task(x) for x in range(n)]
    # Two worker processes, working side by side, as the shared log would tell it.
    directory = json.loads(os.environ["GRADERS_TRACE_SPEC"])["directory"]
    now = time.monotonic()
    with open(os.path.join(directory, "events.log"), "a") as log:
        for pid in (os.getppid(), 1):
            log.write(f"S {pid}-1-0 task {now}\\nE {pid}-1-0 task {now + 1}\\n")
    return results
'''


def test_a_trace_written_by_hand_is_not_evidence(tmp_path):
    (tmp_path / "forger.py").write_text(FORGER)
    run = run_calls(tmp_path, "forger", [Call("serial_with_a_forged_log", (5,))], timeout=30, trace=("task",), trace_wait_s=0.2)
    assert run.outcomes[0].ok, run.outcomes[0]
    assert {e.pid for e in run.events} == {run.pid} and len(run.events) == 5
    assert not analyse(run.events, run.pid, run.finished_at).is_parallel
