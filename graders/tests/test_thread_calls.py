"""Exercise 06's harness and evidence: downloads served on loopback, races provoked on purpose, threads seen in the trace.

The harness functions run here in the test process, on small learner modules written for each test
(a module per behaviour: threads, a loop, no lock, a lock, threads never joined, an exception left in
a thread); one test runs the reference solution in a real sandbox, to check what the grader relies on:
threads of the sandbox show in the trace as overlapping calls of the sandbox's own pid.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import sys
import textwrap
import threading
import uuid

import pytest

from graders.given import ex06
from graders.harnesses import thread_calls
from graders.harnesses.thread_calls import SWITCH_INTERVAL_S, DepositRuns, deposit_rounds, fetch_served, thread_starmap
from graders.grading.evidence import analyse
from graders.sandbox.calls import Call, Status
from graders.sandbox.parent import run_calls
from graders.sandbox.trace_format import TraceEvent
from graders.suite import test_06_threads as grader
from graders.tests.conftest import PROJECT

BANK_HEADER = '''
import threading
import time
from concurrent.futures import ThreadPoolExecutor

APPROVAL_S = 0.005


class Declined(Exception):
    pass


def approve(amount):
    time.sleep(APPROVAL_S)
    if amount <= 0:
        raise Declined(f"a deposit of {amount} was declined")
'''

UNLOCKED = '''
def run_deposits(account, amounts, workers):
    def deposit(amount):
        approve(amount)
        account.balance = account.balance + amount
    with ThreadPoolExecutor(workers) as executor:
        list(executor.map(deposit, amounts))
'''

LOCKED = '''
def run_deposits(account, amounts, workers):
    lock = threading.Lock()
    def deposit(amount):
        approve(amount)
        with lock:
            account.balance = account.balance + amount
    with ThreadPoolExecutor(workers) as executor:
        futures = [executor.submit(deposit, amount) for amount in amounts]
    for future in futures:
        future.result()
'''

NEVER_JOINED = '''
def run_deposits(account, amounts, workers):
    lock = threading.Lock()
    def share(part):
        for amount in part:
            approve(amount)
            with lock:
                account.balance = account.balance + amount
    for index in range(workers):
        threading.Thread(target=share, args=(amounts[index::workers],), name=f"depositor-{index}").start()
'''

LEFT_IN_THREADS = '''
def run_deposits(account, amounts, workers):
    def share(part):
        for amount in part:
            approve(amount)
    threads = [threading.Thread(target=share, args=(amounts[i::workers],)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
'''

STORES_AN_OBJECT = '''
def run_deposits(account, amounts, workers):
    account.balance = object()
'''


def learner_module(tmp_path, source: str, name: str = "bank"):
    """``source`` written to a file of its own and imported under a fresh name, as the sandbox would."""
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"{name}_{folder.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Downloads -------------------------------------------------------------------------------------------


FETCH_HEADER = '''
import httpx
from concurrent.futures import ThreadPoolExecutor

def fetch(url):
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    return len(response.content)
'''
PAGES = [(f"/p/{index}.html", b"x" * (100 + index)) for index in range(4)]


def test_fetch_served_returns_the_sizes_and_counts_the_downloads_in_flight(tmp_path):
    threaded = learner_module(tmp_path, FETCH_HEADER + '''
def fetch_all(urls, workers):
    with ThreadPoolExecutor(workers) as executor:
        return list(executor.map(fetch, urls))
''', "workloads")
    looped = learner_module(tmp_path, FETCH_HEADER + '''
def fetch_all(urls, workers):
    return [fetch(url) for url in urls]
''', "workloads")
    run = fetch_served(threaded, PAGES, 0.3, 4)
    assert run.outcome.ok and run.outcome.value == [len(body) for _, body in PAGES]
    # Each blocking client builds its SSL context holding the GIL first: on a busy machine the threads'
    # requests start some way apart, but they overlap.
    assert 2 <= run.peak_in_flight <= 4 and run.requests == 4 and not run.network
    assert all(url.startswith("http://127.0.0.1:") for url in run.urls)
    assert fetch_served(looped, PAGES, 0.05, 4).peak_in_flight == 1


def test_a_missing_fetch_all_is_reported_with_the_functions_found(tmp_path):
    module = learner_module(tmp_path, FETCH_HEADER, "workloads")
    run = fetch_served(module, PAGES, 0.0, 2)
    assert run.outcome.status is Status.MISSING_FUNCTION and run.outcome.found == ["fetch"]


def test_thread_starmap_keeps_the_order_of_its_tasks(tmp_path):
    module = learner_module(tmp_path, "import time\ndef slow(x, delay):\n    time.sleep(delay)\n    return x\n", "tasks")
    assert thread_starmap(module, "slow", [(1, 0.05), (2, 0.0), (3, 0.02)], 3) == [1, 2, 3]


# Deposits ----------------------------------------------------------------------------------------------


def rounds_of(count: int = 24, rounds: int = 3) -> list[list[int]]:
    return [[(7 * index + r) % 97 + 1 for index in range(count)] for r in range(rounds)]


def test_an_unlocked_read_modify_write_loses_deposits_in_every_round(tmp_path):
    runs = deposit_rounds(learner_module(tmp_path, BANK_HEADER + UNLOCKED), rounds_of(), 8, start_balance=100)
    assert len(runs.rounds) == 3
    for round_ in runs.rounds:
        assert round_.outcome.ok
        assert round_.balance_final < 100 + sum(round_.amounts)


def test_a_locked_update_keeps_every_deposit_and_leaves_no_thread(tmp_path):
    runs = deposit_rounds(learner_module(tmp_path, BANK_HEADER + LOCKED), rounds_of(), 8, start_balance=100)
    for round_ in runs.rounds:
        assert round_.outcome.ok and round_.outcome.value is None
        assert round_.balance_at_return == round_.balance_final == 100 + sum(round_.amounts)
        assert 2 <= round_.threads_started <= 8 and not round_.threads_left and not round_.escaped


def test_the_switch_interval_is_tiny_during_the_call_and_restored_after(tmp_path):
    module = learner_module(tmp_path, "import sys\nseen = []\ndef run_deposits(account, amounts, workers):\n    seen.append(sys.getswitchinterval())\n")
    before = sys.getswitchinterval()
    deposit_rounds(module, [[1]], 2)
    assert module.seen == [pytest.approx(SWITCH_INTERVAL_S)]
    assert sys.getswitchinterval() == before


def test_threads_still_running_at_the_return_are_listed_and_waited_for(tmp_path):
    runs = deposit_rounds(learner_module(tmp_path, BANK_HEADER + NEVER_JOINED), rounds_of(rounds=1), 4)
    round_ = runs.rounds[0]
    assert round_.outcome.ok
    assert sorted(round_.threads_left) == [f"depositor-{index}" for index in range(4)]
    assert not round_.threads_unfinished
    assert round_.balance_at_return < round_.balance_final == sum(round_.amounts)
    assert not any(t.name.startswith("depositor-") for t in threading.enumerate())


def test_an_exception_that_ends_a_thread_is_recorded_and_the_hooks_are_put_back(tmp_path):
    hook, start = threading.excepthook, threading.Thread.start
    runs = deposit_rounds(learner_module(tmp_path, BANK_HEADER + LEFT_IN_THREADS), [[5, 0, 6, -1]], 4)
    round_ = runs.rounds[0]
    assert round_.outcome.ok
    assert sorted(round_.escaped) == ["Declined: a deposit of -1 was declined", "Declined: a deposit of 0 was declined"]
    assert threading.excepthook is hook and threading.Thread.start is start


def test_a_declined_deposit_raised_by_the_call_is_reported_by_its_type(tmp_path):
    runs = deposit_rounds(learner_module(tmp_path, BANK_HEADER + LOCKED), [[5, 0, 6]], 3, start_balance=10)
    round_ = runs.rounds[0]
    assert round_.outcome.status is Status.ERROR and round_.outcome.raised == "Declined"
    assert round_.balance_at_return == 21


def test_a_balance_that_is_not_a_number_comes_back_described(tmp_path):
    runs = deposit_rounds(learner_module(tmp_path, STORES_AN_OBJECT), [[1]], 2)
    assert runs.rounds[0].balance_final.startswith("a object: <object object at")


def test_a_missing_run_deposits_is_reported_with_the_functions_found(tmp_path):
    runs = deposit_rounds(learner_module(tmp_path, BANK_HEADER), [[1], [2]], 2)
    assert [r.outcome.status for r in runs.rounds] == [Status.MISSING_FUNCTION]
    assert runs.rounds[0].outcome.found == ["approve"]


def test_the_graders_account_is_the_stubs_own():
    stub = ast.parse((PROJECT / "exercises" / "06_threads" / "bank.py").read_text(encoding="utf-8"))
    theirs = next(n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == "Account")
    ours = ast.parse(textwrap.dedent(inspect.getsource(ex06.Account))).body[0]
    assert ast.dump(ours) == ast.dump(theirs)
    constant = next(
        n for n in stub.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "STORE_DELAY_S"
    )
    assert ast.literal_eval(constant.value) == ex06.STORE_DELAY_S


# The grader's reading of the trace ----------------------------------------------------------------------


def event(pid: int, start: int, end: int | None, function: str = "fetch") -> TraceEvent:
    return TraceEvent(function, pid, float(start), None if end is None else float(end), start, end)


def test_most_at_once_counts_overlapping_calls_of_one_process_and_touching_ones_apart():
    assert grader.most_at_once([event(1, 1, 4), event(1, 2, 5), event(1, 3, 6)]) == 3
    assert grader.most_at_once([event(1, 1, 2), event(1, 3, 4), event(1, 5, 6)]) == 1
    assert grader.most_at_once([event(1, 1, None), event(1, 5, 6)]) == 2
    assert grader.most_at_once([]) == 0


@pytest.mark.parametrize(
    ("events", "tasks", "cause"),
    [
        ([event(1, 1, 3), event(1, 2, 4)], 2, None),
        ([event(1, 1, 2), event(1, 3, 4)], 2, "threads_one_at_a_time"),
        ([event(7, 1, 3), event(8, 2, 4)], 2, "processes_for_io"),
        ([event(1, 1, 5), event(1, 2, 6), event(1, 3, 7), event(1, 4, 8)], 4, "too_many_threads"),
        ([event(1, 1, 3)], 2, "task_calls_missing"),
        ([event(1, i, i + 10) for i in range(1, 4)], 2, "task_calls_extra"),
        ([], 2, "task_never_called"),
    ],
)
def test_thread_evidence_names_the_first_thing_wrong(events, tasks, cause):
    evidence = grader.thread_evidence(events, 1, "fetch", tasks=tasks, fewest=tasks, workers=3)
    assert evidence.cause == cause
    assert grader.explain_threads(evidence, "fetch_all(...)")


def test_threads_for_the_primes_pass_only_without_a_gil():
    events = [event(1, 1, 4, "count_primes"), event(1, 2, 5, "count_primes")]
    processes = analyse(events, 1, 10.0, tasks=2, workers=2, fewest_tasks=2)
    threads = grader.thread_evidence(events, 1, "count_primes", 2, 2, 2)
    assert grader.primes_verdict(processes, threads, gil=False) is None
    cause, message = grader.primes_verdict(processes, threads, gil=True)
    assert cause == "threads_for_python" and "holds the GIL" in message
    serial = [event(1, 1, 2, "count_primes"), event(1, 3, 4, "count_primes")]
    looped = grader.thread_evidence(serial, 1, "count_primes", 2, 2, 2)
    assert grader.primes_verdict(analyse(serial, 1, 10.0, tasks=2, workers=2), looped, gil=False) == ("work_in_caller", "")


def test_gil_enabled_follows_the_interpreter(monkeypatch):
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    assert grader.gil_enabled() is False
    monkeypatch.delattr(sys, "_is_gil_enabled")
    assert grader.gil_enabled() is True


# In a real sandbox ------------------------------------------------------------------------------------------


def test_threads_of_the_sandbox_show_as_overlapping_calls_of_its_own_pid_and_deposits_come_back_as_data():
    solution = PROJECT / "solutions" / "06_threads"
    matrices = run_calls(
        solution, "workloads", [Call("largest_entry_all", ([1, 2, 3, 4], 700, 2))],
        timeout=60, trace=("largest_entry",), rendezvous=1,
    )
    assert matrices.outcomes[0].ok and len(matrices.outcomes[0].value) == 4
    assert len(matrices.events) == 4 and {e.pid for e in matrices.events} == {matrices.pid}
    assert grader.most_at_once(matrices.events) == 2
    deposits = run_calls(solution, "bank", [Call(deposit_rounds, ([[3, 4, 5]], 2), {"start_balance": 1})], timeout=60)
    runs = deposits.outcomes[0].value
    assert isinstance(runs, DepositRuns) and runs.rounds[0].balance_final == 13
    assert thread_calls.__name__ in __import__("graders.sandbox.codec", fromlist=["RESULT_MODULES"]).RESULT_MODULES
