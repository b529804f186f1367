"""Parallelism evidence: the verdict from traced intervals, and tracing that reaches every worker."""
from __future__ import annotations

import pytest

from graders.sandbox.calls import Call
from graders.grading.evidence import analyse, explain
from graders.sandbox.parent import run_calls
from graders.sandbox.trace_format import TraceEvent

CALLER = 100


def events(*spans):
    return [TraceEvent("task", pid, start, end) for pid, start, end in spans]


def test_two_workers_overlapping_is_parallel():
    evidence = analyse(events((1, 0, 2), (2, 1, 3)), CALLER, 10)
    assert evidence.is_parallel and evidence.max_processes_at_once == 2


@pytest.mark.parametrize(
    ("spans", "asked", "cause", "reason"),
    [
        ([], {}, "task_never_called", "never called"),
        ([(CALLER, 0, 1), (CALLER, 0.5, 2)], {}, "work_in_caller", "inside the calling process"),
        # A token pool: two workers really overlap, while the caller does the rest of the work.
        ([(1, 0, 2), (2, 1, 3), (CALLER, 3, 4), (CALLER, 4, 5)], {"tasks": 4, "workers": 2}, "work_in_caller", "2 of the 4 calls"),
        ([(1, 0, 2), (2, 1, 3)], {"tasks": 4, "workers": 2}, "task_calls_missing", "called 2 times, but the input holds 4"),
        ([(1, 0, 2), (2, 1, 3), (1, 2, 3)], {"tasks": 2, "workers": 2}, "task_calls_extra", "only 2 tasks"),
        ([(1, 0, 1), (1, 1, 2)], {}, "one_worker", "one single worker process"),
        ([(1, 0, 1), (2, 1, 2), (3, 2, 3)], {}, "never_overlapping", "never in two at the same time"),
        ([(1, 0, 1), (2, 1, 2), (3, 2, 3), (4, 3, 4)], {"tasks": 4, "workers": 3}, "pool_per_item", "new pool was made for each item"),
        ([(1, 0, 2), (2, 1, 3), (1, 2, 3)], {"tasks": 3, "workers": 3}, "fewer_workers", "processes=3"),
        ([(1, 0, 2), (2, 1, 3), (3, 1, 3), (4, 1, 3)], {"tasks": 4, "workers": 3}, "more_workers", "processes=3"),
    ],
)
def test_each_kind_of_non_parallel_run_is_named(spans, asked, cause, reason):
    evidence = analyse(events(*spans), CALLER, 10, **asked)
    assert not evidence.is_parallel and evidence.cause == cause
    assert reason in explain(evidence, "task", "f(...)")


def test_as_many_workers_as_asked_or_as_tasks_allow_are_parallel():
    assert analyse(events((1, 0, 2), (2, 1, 3), (3, 1, 3), (1, 3, 4)), CALLER, 10, tasks=4, workers=3).is_parallel
    assert analyse(events((1, 0, 2), (2, 1, 3)), CALLER, 10, tasks=2, workers=3).is_parallel


def test_equal_inputs_computed_once_still_account_for_the_work():
    spans = events((1, 0, 2), (2, 1, 3))
    assert analyse(spans, CALLER, 10, tasks=3, workers=2, fewest_tasks=2).is_parallel
    assert analyse(spans, CALLER, 10, tasks=3, workers=2).cause == "task_calls_missing"


def test_arrival_order_decides_overlap_not_clock_ties():
    # Same clock reading, but the end arrived before the other start: they did not overlap.
    touching = [TraceEvent("task", 1, 1.0, 1.0, 1, 2), TraceEvent("task", 2, 1.0, 2.0, 3, 4)]
    assert analyse(touching, CALLER, 10).max_processes_at_once == 1
    overlapping = [TraceEvent("task", 1, 1.0, 1.0, 1, 3), TraceEvent("task", 2, 1.0, 2.0, 2, 4)]
    assert analyse(overlapping, CALLER, 10).max_processes_at_once == 2


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


def _connect(path):
    import socket

    sender = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sender.settimeout(10)
    sender.connect(str(path))
    return sender


def _say(sender, line: bytes) -> bytes:
    sender.sendall(line)
    return sender.recv(1)


def test_the_channel_stamps_each_line_on_arrival_under_the_pid_of_its_sender(tmp_path):
    import os
    import time

    from graders.sandbox.trace_channel import TraceChannel

    channel = TraceChannel.open(tmp_path / "trace.sock", rendezvous=1, wait_s=0.1)
    before = time.monotonic()
    with _connect(channel.path) as sender:
        # Whatever a sender claims beyond the task id and function (a pid, a time) is not read.
        assert _say(sender, b"S 1 task\n") == b"."
        assert _say(sender, b"E 1\n") == b"."
        assert _say(sender, b"S 2 task\n") == b"."
    events = channel.close()
    after = time.monotonic()
    assert [(e.pid, e.function) for e in events] == [(os.getpid(), "task")] * 2
    first, second = events
    assert before <= first.start <= first.end <= second.start <= after and second.end is None
    assert (first.start_seq, first.end_seq, second.start_seq) == (1, 2, 3)
    assert not (tmp_path / "trace.sock").exists()


def test_lines_in_another_format_are_not_evidence(tmp_path):
    from graders.sandbox.trace_channel import TraceChannel

    channel = TraceChannel.open(tmp_path / "trace.sock", rendezvous=1, wait_s=0.1)
    with _connect(channel.path) as sender:
        sender.sendall(b"S 4242-1-0 task 1.0\nE 4242-1-0 task 2.0\n")  # the old format, with times
        assert sender.recv(1) == b""  # dropped, unanswered
    with _connect(channel.path) as sender:
        assert _say(sender, b"E 7\n") == b""  # an end without its start
    assert channel.close() == []


def test_a_start_is_held_until_enough_processes_work_at_once(tmp_path):
    import multiprocessing
    import time

    from graders.sandbox.trace_channel import TraceChannel

    channel = TraceChannel.open(tmp_path / "trace.sock", rendezvous=2, wait_s=30)
    first = _connect(channel.path)
    first.sendall(b"S 1 task\n")
    first.settimeout(0.3)
    with pytest.raises(OSError):
        first.recv(1)  # held: no other process is working
    assert channel.started() == 1
    context = multiprocessing.get_context("fork")
    other = context.Process(target=_start_and_end, args=(str(channel.path),))
    other.start()
    other.join(10)
    first.settimeout(10)
    assert first.recv(1) == b"."  # released by the other process's start
    assert _say(first, b"E 1\n") == b"."
    first.close()
    events = channel.close()
    assert len({e.pid for e in events}) == 2
    assert analyse(events, caller_pid=-1, finished_at=time.monotonic()).max_processes_at_once == 2


def _start_and_end(path):
    with _connect(path) as sender:
        assert _say(sender, b"S 1 task\n") == b"."
        assert _say(sender, b"E 1\n") == b"."


def test_the_wait_runs_out_once_then_no_start_is_held(tmp_path):
    import time

    from graders.sandbox.trace_channel import TraceChannel

    channel = TraceChannel.open(tmp_path / "trace.sock", rendezvous=2, wait_s=0.3)
    with _connect(channel.path) as sender:
        began = time.monotonic()
        assert _say(sender, b"S 1 task\n") == b"."
        waited = time.monotonic() - began
        assert _say(sender, b"E 1\n") == b"."
        began = time.monotonic()
        assert _say(sender, b"S 2 task\n") == b"."
        assert _say(sender, b"Q\n") == b"1"
        assert waited >= 0.25 and time.monotonic() - began < waited
    assert len(channel.close()) == 2


FORGER = '''
import json, os, socket


def task(x):
    return x


def serial_with_a_forged_trace(n):
    results = [task(x) for x in range(n)]
    # Two tasks "in flight", as the caller tells it on a connection of its own.
    path = json.loads(os.environ["GRADERS_TRACE_SPEC"])["channel"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sender:
        sender.connect(path)
        sender.sendall(b"S 901 task\\nS 902 task\\n")
    return results
'''


def test_a_trace_the_learner_writes_counts_for_the_process_that_sent_it(tmp_path):
    (tmp_path / "forger.py").write_text(FORGER)
    run = run_calls(tmp_path, "forger", [Call("serial_with_a_forged_trace", (5,))], timeout=30, trace=("task",), trace_wait_s=0.2)
    assert run.outcomes[0].ok, run.outcomes[0]
    assert {e.pid for e in run.events} == {run.pid} and len(run.events) == 7
    evidence = analyse(run.events, run.pid, run.finished_at, tasks=5)
    assert evidence.cause == "work_in_caller"


CAPTURED = '''
from multiprocessing import Pool


def task(x):
    return x * 2


_fast = task  # taken at import, before the grader traces task


def serial_through_a_captured_reference(n):
    return [_fast(x) for x in range(n)]


def pool_of_a_captured_default(n, processes, f=task):
    with Pool(processes) as pool:
        return pool.map(f, range(n))
'''


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
@pytest.mark.parametrize(
    ("function", "args", "cause"),
    [("serial_through_a_captured_reference", (6,), "work_in_caller"), ("pool_of_a_captured_default", (6, 3), None)],
)
def test_a_reference_taken_before_the_tracing_is_traced_too(tmp_path, start_method, function, args, cause):
    (tmp_path / "captured.py").write_text(CAPTURED)
    run = run_calls(
        tmp_path, "captured", [Call(function, args)], timeout=30, start_method=start_method,
        trace=("task",), trace_wait_s=1.0, rendezvous=3,
    )
    assert run.outcomes[0].ok and run.outcomes[0].value == [x * 2 for x in range(6)], run.outcomes[0]
    evidence = analyse(run.events, run.pid, run.finished_at, tasks=6, workers=3)
    assert evidence.calls == 6 and evidence.cause == cause, evidence


@pytest.mark.parametrize(("pool", "cause"), [(3, None), (2, "fewer_workers")])
def test_the_rendezvous_waits_for_as_many_workers_as_asked(tmp_path, pool, cause):
    (tmp_path / "pools.py").write_text(POOLS)
    run = run_calls(
        tmp_path, "pools", [Call("pool_map", (7, pool))], timeout=30, start_method="fork",
        trace=("tiny",), trace_wait_s=1.0, rendezvous=3,
    )
    evidence = analyse(run.events, run.pid, run.finished_at, tasks=7, workers=3)
    assert len(evidence.worker_pids) == pool and evidence.cause == cause, evidence


def test_the_tracing_names_what_learner_code_must_not_replace():
    from graders.sandbox import tracing

    assert {"install", "_original", "_connection", "_exchange"} <= set(tracing.PROTECTED_NAMES)
    assert all(name in vars(tracing) for name in tracing.PROTECTED_NAMES)
