"""The sandbox: whatever learner code does, the grading process gets one clear outcome and no process survives."""
from __future__ import annotations

import textwrap
import time

import psutil
import pytest

from graders.sandbox import calls as c
from graders.sandbox.processes import descendants
from graders.sandbox.parent import run_calls

LEARNER = '''
import os, signal, subprocess, time
from multiprocessing import Pool, Process


def spin(_=None):
    while True:
        pass


def hang():
    spin()


def hang_in_pool():
    with Pool(2) as pool:
        pool.map(spin, range(2))


def leave_process_running():
    Process(target=spin).start()
    return "returned"


def escape_session():
    subprocess.Popen(["sleep", "60"], start_new_session=True)
    return "returned"


def exit_abruptly():
    os._exit(3)


def kill_itself():
    os.kill(os.getpid(), signal.SIGKILL)


def segfault(_):
    os.kill(os.getpid(), signal.SIGSEGV)


def pool_worker_segfaults():
    with Pool(2) as pool:
        return pool.map(segfault, range(4))


def fails_in_worker(x):
    raise ValueError(f"bad input {x}")


def pool_with_failing_worker():
    with Pool(2) as pool:
        return pool.map(fails_in_worker, [1, 2])


def pool_with_lambda():
    with Pool(2) as pool:
        return pool.map(lambda x: x + 1, [1, 2])


def todo():
    raise NotImplementedError


def returns_generator():
    return (x for x in range(3))


def returns_map():
    return map(abs, [-1, 2])


def returns_a_lambda():
    return lambda: 1


def add(a, b):
    return a + b


def mutate(items):
    items.append("extra")
    return len(items)


def slow(seconds):
    time.sleep(seconds)
    return seconds
'''


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "learner.py").write_text(LEARNER)
    return tmp_path


def run(folder, *calls: c.Call, timeout: float = 10.0, **options):
    result = run_calls(folder, "learner", list(calls), timeout=timeout, **options)
    assert not [p for p in descendants() if p.status() != psutil.STATUS_ZOMBIE], "processes left behind"
    return result.outcomes


def test_values_come_back_with_the_call_time(folder):
    added, slept = run(folder, c.Call("add", (2, 3)), c.Call("slow", (0.2,)))
    assert (added.status, added.value) == ("ok", 5)
    assert slept.value == 0.2 and slept.seconds >= 0.2


@pytest.mark.parametrize("function", ["hang", "hang_in_pool"])
def test_a_hang_is_stopped_at_its_deadline_with_every_process(folder, function):
    started = time.monotonic()
    (outcome,) = run(folder, c.Call(function), timeout=1.5)
    assert outcome.status == c.TIMEOUT
    assert time.monotonic() - started < 10


def test_calls_after_a_timeout_are_reported_not_run(folder):
    outcomes = run(folder, c.Call("hang"), c.Call("add", (1, 1)), timeout=1.0)
    assert [o.status for o in outcomes] == [c.TIMEOUT, c.NOT_RUN]


@pytest.mark.parametrize("function", ["leave_process_running", "escape_session"])
def test_processes_left_running_are_reported_and_killed(folder, function):
    (outcome,) = run(folder, c.Call(function))
    assert outcome.value == "returned"
    assert outcome.leftovers and "still running" in outcome.leftovers[0]


@pytest.mark.parametrize(("function", "error"), [("exit_abruptly", "exit code 3"), ("kill_itself", "SIGKILL")])
def test_a_crash_is_reported_with_its_cause(folder, function, error):
    (outcome,) = run(folder, c.Call(function))
    assert outcome.status == c.CRASHED and error in outcome.error


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_exceptions_are_classified_under_every_start_method(folder, start_method):
    worker, lam, todo = run(
        folder, c.Call("pool_with_failing_worker"), c.Call("pool_with_lambda"), c.Call("todo"), start_method=start_method
    )
    assert worker.status == c.WORKER_ERROR and "ValueError: bad input" in worker.error
    assert worker.where.startswith("learner.py, line ")
    assert lam.status == c.UNPICKLABLE
    assert todo.status == c.NOT_IMPLEMENTED and todo.where.startswith("learner.py")


def test_missing_function_lists_what_exists(folder):
    (outcome,) = run(folder, c.Call("ad", (1, 2)))
    assert outcome.status == c.MISSING_FUNCTION and outcome.missing == "ad" and "add" in outcome.found


def test_broken_or_missing_module(tmp_path):
    (outcome,) = run(tmp_path, c.Call("anything"))
    assert outcome.status == c.MISSING_MODULE
    (tmp_path / "learner.py").write_text(textwrap.dedent("def f(:\n    pass\n"))
    (outcome,) = run(tmp_path, c.Call("f"))
    assert outcome.status == c.IMPORT_ERROR and "SyntaxError" in outcome.error and "line 1" in outcome.where


def test_a_value_that_cannot_come_back_is_reported(folder):
    (outcome,) = run(folder, c.Call("returns_a_lambda"))
    assert outcome.status == c.BAD_RETURN and outcome.error == "a function"


@pytest.mark.parametrize(("function", "kind"), [("returns_generator", "generator"), ("returns_map", "map")])
def test_a_lazy_iterator_returned_is_named_as_such(folder, function, kind):
    # A picklable map would otherwise be refused as "not plain data", a generator as unpicklable.
    (outcome,) = run(folder, c.Call(function))
    assert outcome.status == c.LAZY_RETURN and outcome.returned == kind


def test_arguments_after_the_call_show_mutation(folder):
    (outcome,) = run(folder, c.Call("mutate", (["a"],)), keep_args=True)
    assert outcome.value == 2 and outcome.args_after == (["a", "extra"],)


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_a_pool_worker_killed_by_a_signal_is_reported_at_once(folder, start_method):
    started = time.monotonic()
    (outcome,) = run(folder, c.Call("pool_worker_segfaults"), timeout=30, start_method=start_method)
    assert outcome.status == c.BROKEN_POOL and "killed by signal SIGSEGV" in outcome.error
    assert time.monotonic() - started < 20, "the run waited for its deadline"
