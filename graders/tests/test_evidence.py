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


def test_calls_from_processes_the_kernel_never_saw_do_not_count():
    evidence = analyse(events((1, 0, 2), (2, 1, 3)), CALLER, 10, verified_pids=frozenset({1}))
    assert not evidence.is_parallel and evidence.unverified_pids == {2}
    assert "never ran the grader's tracing" in explain(evidence, "task", "f(...)")


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
    evidence = analyse(run.events, run.pid, run.finished_at, run.traced_pids)
    assert evidence.calls == 40 and not evidence.unverified_pids
    assert evidence.is_parallel is parallel, evidence
