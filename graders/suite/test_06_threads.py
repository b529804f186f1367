"""Grader for 06_threads: which executor for which work, races on shared data, threads handled with care.

Part 1 (workloads.py) has three workloads, and the learner picks threads or processes for each. The
verdict comes from where and when the grader's trace saw the task functions run (graders.sandbox.tracing:
each traced call is stamped by the grading process and filed under the pid the kernel names for its
connection, one connection per thread), never from the learner's account of it:
- downloads (``fetch``, blocking IO on a loopback HTTP server, graders.harnesses.thread_calls) and numpy
  products (``largest_entry``, which release the GIL): every call in the calling process, two or more
  in progress at once (threads), at most ``workers`` at once (the server's count of requests in
  flight too, for the downloads);
- pure-Python prime counting (``count_primes``): every call in worker processes, two at once, in
  exactly ``workers`` processes, as exercise 02 judges a pool (graders.grading.evidence).
Where a speedup can be had (processes for the primes, threads for numpy), it is measured with
graders.grading.speed's paired rounds against the grader's serial loop and its reference pool (of
processes, or of threads: graders.harnesses.thread_calls.thread_starmap). On a free-threaded build
running without the GIL, threads run pure Python in parallel too: the grader says so and accepts
threads for the primes; everything else holds as it is.

Part 2 (bank.py) provokes the race on purpose: the learner's ``run_deposits`` runs three times from
eight threads with a thread switch interval of 1 µs, on the grader's own Account (graders.given.ex06),
whose slow store pauses between reading the balance and handing it over: an unlocked read-modify-write,
or one whose read comes before the lock, loses deposits in every round (measured with this harness: 400
of 400 rounds each, idle and beside two CPU hogs), a locked one in none (0 of 400). ``approve`` is traced: a lock held around the approval too (the whole deposit, or the whole
run) shows as approvals that never overlap.

Part 3 (bank.py again): after each call the harness lists the threads it started that are still
running, and records exceptions that ended a thread unhandled; a round with declined deposits must
raise Declined once every thread has finished, with every approved deposit in the balance.

Expected values come from the grader's own copies of the given functions (graders.given.ex06).
"""
from __future__ import annotations

import math
import numbers
import os
import sys
from dataclasses import dataclass

import pytest

from graders.given import ex06 as given
# Imported by its full name: `from graders.grading import speed` would take the package's attribute, a
# module an earlier in-process pytest run (pytester) may have dropped from sys.modules, whose warm_up
# is then not the function pickle finds by name.
import graders.grading.speed as speed
from graders.grading.evidence import ParallelEvidence, analyse
from graders.grading.feedback import fail, show, value_of
from graders.grading.specification import README, Requirement
from graders.grading.target import RENDEZVOUS_WAIT_S, GradedTarget
from graders.harnesses.reference import pool_starmap, serial_starmap
from graders.harnesses.thread_calls import JOIN_WAIT_S, SWITCH_INTERVAL_S, deposit_rounds, fetch_served, thread_starmap
from graders.sandbox.calls import Call, Outcome, Status
from graders.sandbox.trace_format import TraceEvent

WORK = "workloads"
BANK = "bank"
FETCH, PRIMES, MATRIX, APPROVE = "fetch", "count_primes", "largest_entry", "approve"

PAGE_LATENCY_S = 0.15
SMALL_MATRIX = 700  # about 15 ms a product here: long enough for threads to be seen together
TIMED_MATRIX = 1000  # about 35 ms
TIMED_TASKS = 8
# How many times more limits the timed primes get than under fork: a spawn or forkserver worker imports
# workloads.py (httpx and numpy, 0.1 to 0.4 s here) before its first task, which twice the work does not
# yet hide. The numpy part runs in threads, which import nothing: the same 8 products everywhere.
PRIMES_SCALE = {"fork": 1, "spawn": 3, "forkserver": 3}
# Part 2: many threads, many deposits (a count the threads do not divide), several rounds.
DEPOSIT_WORKERS = 8
RACE_DEPOSITS = 50
RACE_ROUNDS = 3
DECLINED_DEPOSITS = 20
DECLINED_AT = (1, 10, 19)  # the second deposit, one in the middle and the last


SPECIFICATION = (
    Requirement(
        source="workloads.py:fetch",
        quote="Download one page with a blocking client; returns its size in bytes (IO-bound: it mostly waits).",
        checks=("downloads_results", "downloads_threads"),
        edges="given; pages of seeded sizes served on 127.0.0.1 after 0.15 s each; expected sizes are the "
        "grader's own",
    ),
    Requirement(
        source="workloads.py:count_primes",
        quote="How many primes are below `limit`, by trial division in pure Python (CPU-bound: it holds the GIL).",
        checks=("primes_results", "primes_processes"),
        edges="given; expected counts from the grader's own copy (graders/given/ex06.py)",
    ),
    Requirement(
        source="workloads.py:largest_entry",
        quote="The largest entry of A @ A, for a random size x size matrix A drawn from `seed` (numpy releases the GIL).",
        checks=("matrices_results", "matrices_threads"),
        edges="given; expected values from the grader's own copy, compared to a relative 1e-9",
    ),
    Requirement(
        source="workloads.py:fetch_all",
        quote="The size of every page, in the order of urls: downloaded by `workers` threads at once.",
        checks=("downloads_results", "downloads_threads"),
        edges="2 * workers + 1 pages (no thread count divides them) of unsorted sizes; workers = 3 here, unlike "
        "the machine's cores and ThreadPoolExecutor()'s default",
    ),
    Requirement(
        source="workloads.py:fetch_all",
        quote="Each URL is one call of fetch, made in a thread of the calling process, and at most `workers` "
        "downloads run at once.",
        checks=("downloads_threads",),
        edges="fetch traced: calls in other processes (a process pool) fail; the traced overlap must be 2 or more "
        "and at most workers, and the server may never see more than workers requests at once",
    ),
    Requirement(
        source="workloads.py:count_primes_all",
        quote="count_primes(limit) for every limit, in order: counted by `workers` worker processes at once.",
        checks=("primes_results", "primes_processes", "primes_speedup"),
        edges="2 * workers + 1 limits, the first given again at index 3; timed: 8 limits near 80 000 (three times "
        "as many under spawn and forkserver, whose workers import httpx and numpy first)",
    ),
    Requirement(
        source="workloads.py:count_primes_all",
        quote="Each limit is one call of count_primes, made in a worker process (none in the calling process); "
        "one pool of exactly `workers` processes per call, closed before the function returns.",
        checks=("primes_processes", "no_leftover_processes"),
        edges="count_primes traced in every process: threads show every call in the calling process; Pool() or "
        "ProcessPoolExecutor() shows another number of workers",
    ),
    Requirement(
        source="workloads.py:largest_entry_all",
        quote="largest_entry(seed, size) for every seed, in order: computed by `workers` threads at once.",
        checks=("matrices_results", "matrices_threads", "matrices_speedup"),
        edges="2 * workers + 1 seeds of 700 x 700 matrices, the first seed again at index 3; timed: 8 of "
        "1000 x 1000 under every start method (threads import nothing), against the grader's reference thread pool",
    ),
    Requirement(
        source="workloads.py:largest_entry_all",
        quote="Each seed is one call of largest_entry, made in a thread of the calling process, and at most "
        "`workers` run at once.",
        checks=("matrices_threads",),
        edges="largest_entry traced: a process pool shows calls in other processes; a loop never two at once",
    ),
    Requirement(
        source="bank.py:approve",
        quote="The payment network's approval of one deposit: a blocking wait that shares nothing.",
        checks=("approvals_overlap",),
        edges="traced in the race rounds: the approvals must run in two threads at once",
    ),
    Requirement(
        source="bank.py:approve",
        quote="Raises Declined for an amount of 0 or less.",
        checks=("declined_reported",),
        edges="the declined round holds a 0 and two negative amounts, at the second, a middle and the last place",
    ),
    Requirement(
        source="bank.py:deposit_unsafe",
        quote="Approve one deposit, then add it to the balance: read, add, write back, with nothing to stop "
        "another thread in between.",
        checks=("deposits_balance",),
        edges="given, as the mistake to fix: its read-modify-write from several threads loses deposits in every round",
    ),
    Requirement(
        source="bank.py:run_deposits_unsafe",
        quote="The threaded version without a lock: fast, and it loses deposits.",
        checks=("deposits_balance",),
        edges="handed in as run_deposits, it fails deposits_balance on every seed",
    ),
    Requirement(
        source="bank.py:run_deposits",
        quote="Deposit every amount into `account` from `workers` threads at once; returns None.",
        checks=("deposits_balance", "approvals_overlap"),
        edges="an account that starts with a seeded balance (not 0); 50 amounts from 8 threads, three rounds",
    ),
    Requirement(
        source="bank.py:run_deposits",
        quote="The approvals run at the same time, at most `workers` at once; only the update of the balance "
        "(read, add, write back) is done by one thread at a time, under one lock shared by every thread (or "
        "not shared at all: tallies of each thread's own, added up at the end).",
        checks=("deposits_balance", "approvals_overlap"),
        edges="switch interval 1 µs and the slow store's pause: an unlocked update, a lock per thread or a read "
        "outside the lock loses deposits; a lock around the approval too never lets two approvals overlap",
    ),
    Requirement(
        source="bank.py:run_deposits",
        quote="Every thread is joined before the function returns: the balance is then final, and no thread is "
        "left running.",
        checks=("threads_joined",),
        edges="threads started by the call and still alive when it returns are listed; the balance is read "
        "at the return and again once they have ended",
    ),
    Requirement(
        source="bank.py:run_deposits",
        quote="A declined deposit (approve raises Declined) adds nothing, and all the other deposits still go "
        "through; once every thread has finished, run_deposits raises Declined (one of them): an exception "
        "in a thread must reach the caller, never vanish.",
        checks=("declined_reported",),
        edges="three of 20 deposits declined, the first at the second place, so executor.map's cancellation of the "
        "deposits not yet started shows; exceptions that end a thread unhandled are recorded",
    ),
    Requirement(
        source=README,
        quote="the calls of fetch and largest_entry must all run in threads of the calling process, at least "
        "two at the same time and at most workers",
        checks=("downloads_threads", "matrices_threads"),
        edges="traced calls filed by the kernel's pid for each connection; overlap counted from the grading "
        "process's own arrival order",
    ),
    Requirement(
        source=README,
        quote="the calls of count_primes must all run in worker processes, at least two at the same time, in "
        "exactly workers processes",
        checks=("primes_processes",),
        edges="the trace channel holds each start until workers processes are working at once",
    ),
    Requirement(
        source=README,
        quote="Where threads or processes can make the work faster (processes for the primes, threads for "
        "numpy), the grader times your function against its own serial loop",
        checks=("primes_speedup", "matrices_speedup"),
        edges="paired rounds against the grader's reference (a process pool, a thread pool); a too-slow verdict "
        "needs three paired rounds; not timed when the results or the structure check failed",
    ),
    Requirement(
        source=README,
        quote="threads run pure Python in parallel too: the grader says so and accepts threads for the primes",
        checks=("primes_processes", "primes_speedup"),
        edges="read from sys._is_gil_enabled() where it exists; on an ordinary build threads fail primes_processes",
    ),
    Requirement(
        source=README,
        quote="no process left running after any of the three calls",
        checks=("no_leftover_processes",),
        edges="judged on the calls that returned",
    ),
    Requirement(
        source=README,
        quote="Your run_deposits runs three times, from 8 threads, with the thread switch interval set to a "
        "microsecond",
        checks=("deposits_balance",),
        edges="every round's final balance must be the start balance plus every amount",
    ),
    Requirement(
        source=README,
        quote="a lock held around the approval too (around the whole deposit, or the whole run) passes the "
        "balance check and fails this one",
        checks=("approvals_overlap",),
        edges="approve traced in the calling process: the most calls in progress at once must be 2 to workers",
    ),
    Requirement(
        source=README,
        quote="executor.map stops at the first exception and cancels the tasks that have not started",
        checks=("declined_reported",),
        edges="the first declined deposit is the second one: with map, the deposits after it are never made",
    ),
)


def gil_enabled() -> bool:
    """False on a free-threaded build running without the GIL (the sandbox runs this interpreter)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def note_free_threading(target: GradedTarget) -> None:
    if not gil_enabled():
        target.once(
            "free-threaded",
            lambda: target.record(
                "this Python is a free-threaded build running without the GIL: threads run pure Python in "
                "parallel here, so threads are accepted for the primes too; the other checks hold as they are"
            ),
        )


def part1_workers(target: GradedTarget) -> int:
    """The `workers` of part 1: at least 3, and unlike every core count here and both executors' defaults.

    ThreadPoolExecutor() takes min(32, cpu_count + 4) threads and ProcessPoolExecutor() cpu_count
    processes, so an executor sized by anything but the argument shows.
    """
    cpus = os.cpu_count() or 1
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    avoid = {cpus, affinity, target.settings.usable_cores, min(32, cpus + 4)}
    workers = 3
    while workers in avoid:
        workers += 1
    return workers


# Evidence for threads -------------------------------------------------------------------------------


def most_at_once(events: list[TraceEvent]) -> int:
    """Most traced calls in progress at once, whatever process or thread made them.

    Ordered by the grading process's arrival numbers (exact); a call that never ended lasts until the end.
    """
    boundaries = []
    for event in events:
        boundaries.append((event.start_seq, 1))
        boundaries.append((event.end_seq if event.end_seq is not None else math.inf, -1))
    running = best = 0
    for _, step in sorted(boundaries, key=lambda b: (b[0], b[1])):
        running += step
        best = max(best, running)
    return best


# Cause names by part, for work that ran in other processes where threads were asked.
ELSEWHERE = {FETCH: "processes_for_io", MATRIX: "processes_for_numpy"}


@dataclass(frozen=True)
class ThreadEvidence:
    """How the traced calls of one task function ran, judged as the work of threads of the calling process."""

    task: str
    calls: int
    calls_elsewhere: int  # made in other processes
    processes: int  # how many other processes made calls
    most_at_once: int  # most calls in progress at once in the calling process
    tasks: int
    fewest_tasks: int
    workers: int

    @property
    def cause(self) -> str | None:
        if self.calls == 0:
            return "task_never_called"
        if self.calls_elsewhere:
            return ELSEWHERE.get(self.task, "processes_instead_of_threads")
        if self.calls < self.fewest_tasks:
            return "task_calls_missing"
        if self.calls > self.tasks:
            return "task_calls_extra"
        if self.most_at_once < 2:
            return "threads_one_at_a_time"
        if self.most_at_once > self.workers:
            return "too_many_threads"
        return None

    def summary(self) -> str:
        return (
            f"{self.calls} calls of {self.task} traced, {self.calls_elsewhere} of them in {self.processes} other "
            f"process(es), at most {self.most_at_once} at once in the calling process (asked: {self.tasks} tasks, "
            f"{self.workers} threads)"
        )


def thread_evidence(events: list[TraceEvent], caller_pid: int, task: str, tasks: int, fewest: int, workers: int) -> ThreadEvidence:
    mine = [e for e in events if e.function == task]
    here = [e for e in mine if e.pid == caller_pid]
    elsewhere = [e for e in mine if e.pid != caller_pid]
    return ThreadEvidence(
        task, len(mine), len(elsewhere), len({e.pid for e in elsewhere}), most_at_once(here), tasks, fewest, workers
    )


WHY_THREADS = {
    FETCH: "downloading is waiting, and a waiting thread holds no GIL: threads of the calling process overlap "
    "their downloads, where a process per worker only adds the cost of starting interpreters",
    MATRIX: "numpy releases the GIL while it multiplies, so threads of the calling process compute at the same "
    "time on arrays they share, where processes pickle every argument and result",
}


def explain_threads(evidence: ThreadEvidence, caller: str) -> str:
    task = evidence.task
    cause = evidence.cause
    if cause == "task_never_called":
        return f"while {caller} ran, {task} was never called: every item must be one call of {task}"
    if cause in ("processes_for_io", "processes_for_numpy", "processes_instead_of_threads"):
        return (
            f"{evidence.calls_elsewhere} of the {evidence.calls} calls of {task} ran in {evidence.processes} other "
            f"process(es), not in threads of the calling process: {WHY_THREADS.get(task, 'this work asks for threads')}"
        )
    if cause == "task_calls_missing":
        return (
            f"{task} was called {evidence.calls} times for {evidence.tasks} items: every item must be one call of "
            f"{task} (equal items may be computed once)"
        )
    if cause == "task_calls_extra":
        return f"{task} was called {evidence.calls} times for only {evidence.tasks} items: compute each item once"
    if cause == "threads_one_at_a_time":
        return (
            f"the {evidence.calls} calls of {task} ran one at a time, never two at once: the items were handled one "
            f"after another instead of by `workers` threads together"
        )
    if cause == "too_many_threads":
        return (
            f"{evidence.most_at_once} calls of {task} ran at once, more than workers={evidence.workers}: use exactly "
            "`workers` threads (ThreadPoolExecutor(workers)), not a thread per item or the executor's default"
        )
    return f"{task} ran in threads as asked"


def require_threads(call: Call, evidence: ThreadEvidence) -> None:
    if evidence.cause is not None:
        fail(
            f"not in threads as asked: {explain_threads(evidence, call.describe())}. Measured: {evidence.summary()}.",
            cause=evidence.cause,
        )


# Part 1 runs ------------------------------------------------------------------------------------------


def page_list(target: GradedTarget) -> list[tuple[str, bytes]]:
    """2 * workers + 1 pages of distinct seeded sizes, in no sorted order."""
    count = 2 * part1_workers(target) + 1
    rng = target.rng("pages")
    sizes = rng.sample(range(1_000, 60_000), count)
    return [(f"/pages/page-{index}-{size}.html", rng.randbytes(size)) for index, size in enumerate(sizes)]


def small_seeds(target: GradedTarget) -> list[int]:
    count = 2 * part1_workers(target) + 1
    seeds = target.rng("seeds").sample(range(10**6), count - 1)
    seeds.insert(3, seeds[0])
    return seeds


def small_limits(target: GradedTarget) -> list[int]:
    count = 2 * part1_workers(target) + 1
    limits = target.rng("limits").sample(range(3_000, 12_000), count - 1)
    limits.insert(3, limits[0])
    return limits


def thread_runs(target: GradedTarget) -> dict[str, tuple[Call, Outcome, ThreadEvidence]]:
    """The downloads and the matrices, in one sandbox with fetch and largest_entry traced.

    No start is held back (a rendezvous of one process): threads all report from the calling process,
    and overlap shows by itself for work that waits or runs without the GIL.
    """
    workers = part1_workers(target)
    pages = page_list(target)
    seeds = small_seeds(target)
    downloads = Call(
        fetch_served, (pages, PAGE_LATENCY_S, workers),
        label=f"fetch_all([{len(pages)} URLs, each answered after {PAGE_LATENCY_S:g} s], workers={workers})",
    )
    matrices = Call(
        "largest_entry_all", (seeds, SMALL_MATRIX, workers),
        label=f"largest_entry_all(seeds={show(seeds)}, size={SMALL_MATRIX}, workers={workers})",
    )

    def compute():
        run = target.run(WORK, [downloads, matrices], trace=(FETCH, MATRIX), rendezvous=1, trace_wait_s=1.0)
        return run.outcomes, run.events, run.pid

    (fetch_outcome, matrix_outcome), events, pid = target.once("threads", compute)
    return {
        FETCH: (downloads, fetch_outcome, thread_evidence(events, pid, FETCH, len(pages), len(pages), workers)),
        MATRIX: (
            matrices, matrix_outcome, thread_evidence(events, pid, MATRIX, len(seeds), len(set(seeds)), workers)
        ),
    }


def fetched(target: GradedTarget):
    """(call, the harness's FetchRun, its evidence); fails only when the harness itself could not run."""
    call, outcome, evidence = thread_runs(target)[FETCH]
    served = value_of(outcome, call.describe(), WORK)
    if served.network:
        fail(f"called {call.describe()}: it tried to reach the real network: {served.network[0]}", cause="network")
    return call, served, evidence


def primes_run(target: GradedTarget) -> tuple[Call, Outcome, ParallelEvidence, ThreadEvidence]:
    """count_primes traced in every process, with the starts held until `workers` processes work at once."""
    workers = part1_workers(target)
    limits = small_limits(target)
    call = Call("count_primes_all", (limits, workers), label=f"count_primes_all(limits={show(limits)}, workers={workers})")

    def compute():
        wait = RENDEZVOUS_WAIT_S.get(target.settings.start_method, 10.0)
        run = target.run(
            WORK, [call], trace=(PRIMES,), rendezvous=workers,
            trace_wait_s=min(wait, target.settings.call_timeout / 3),
        )
        return run.outcomes[0], run.events, run.pid, run.finished_at

    outcome, events, pid, finished = target.once("primes", compute)
    processes = analyse(events, pid, finished, tasks=len(limits), workers=workers, fewest_tasks=len(set(limits)))
    threads = thread_evidence(events, pid, PRIMES, len(limits), len(set(limits)), workers)
    return call, outcome, processes, threads


def expected_sizes(pages) -> list[int]:
    return [len(body) for _, body in pages]


def expected_primes(target: GradedTarget, limits: list[int]) -> list[int]:
    return target.once(("primes-expected", tuple(limits)), lambda: [given.count_primes(limit) for limit in limits])


def expected_entries(target: GradedTarget, seeds: list[int], size: int) -> list[float]:
    return target.once(("entries-expected", tuple(seeds), size), lambda: [given.largest_entry(seed, size) for seed in seeds])


def same_list(got, expected: list, what: str, close: bool = False) -> str | None:
    if not isinstance(got, list):
        return f"got {show(got)} (a {type(got).__name__}), expected a list of {len(expected)} {what}"
    if len(got) != len(expected):
        return f"got {len(got)} {what}, expected {len(expected)} (one per item, in order, an item given twice included)"
    for index, (value, wanted) in enumerate(zip(got, expected)):
        numeric = isinstance(value, numbers.Real) and not isinstance(value, bool)
        equal = numeric and (math.isclose(value, wanted, rel_tol=1e-9) if close else value == wanted)
        if not equal:
            return f"item {index} is {show(value)}, expected {show(wanted)}"
    return None


def primes_problem(target: GradedTarget) -> str | None:
    call, outcome, _, _ = primes_run(target)
    got = value_of(outcome, call.describe(), WORK)
    return same_list(got, expected_primes(target, small_limits(target)), "counts")


def matrices_problem(target: GradedTarget) -> str | None:
    call, outcome, _ = thread_runs(target)[MATRIX]
    got = value_of(outcome, call.describe(), WORK)
    return same_list(got, expected_entries(target, small_seeds(target), SMALL_MATRIX), "values", close=True)


# Part 1 checks ------------------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_downloads_results(target):
    call, served, _ = fetched(target)
    got = value_of(served.outcome, call.describe(), WORK)
    problem = same_list(got, expected_sizes(page_list(target)), "sizes")
    if problem:
        fail(f"called {call.describe()}: {problem}", cause="wrong_result")


@pytest.mark.points(2)
def test_downloads_threads(target):
    call, served, evidence = fetched(target)
    if evidence.calls == 0:
        value_of(served.outcome, call.describe(), WORK)
    require_threads(call, evidence)
    workers = part1_workers(target)
    if served.peak_in_flight > workers:
        fail(
            f"called {call.describe()}: the server saw {served.peak_in_flight} downloads at once, more than "
            f"workers={workers}: use exactly `workers` threads",
            cause="too_many_threads",
        )
    target.record(f"{call.describe()}: {evidence.summary()}; at most {served.peak_in_flight} requests in flight")


@pytest.mark.points(1)
def test_primes_results(target):
    call, _, _, _ = primes_run(target)
    problem = primes_problem(target)
    if problem:
        fail(f"called {call.describe()}: {problem}", cause="wrong_result")


def primes_verdict(processes: ParallelEvidence, threads: ThreadEvidence, gil: bool) -> tuple[str, str] | None:
    """None when count_primes ran as asked, else (cause, message); an empty message: the pool's own cause.

    Threads of the calling process pass only where there is no GIL (a free-threaded build).
    """
    if processes.cause is None:
        return None
    in_threads = processes.cause == "work_in_caller" and not processes.worker_pids
    if in_threads and not gil and threads.cause is None:
        return None
    if in_threads and threads.most_at_once >= 2:
        return (
            "threads_for_python",
            f"not parallel: the {threads.calls} calls of {PRIMES} ran in threads of the calling process (up to "
            f"{threads.most_at_once} at once): pure-Python work holds the GIL, so the threads take turns and gain "
            "nothing; count the primes in `workers` worker processes, each with an interpreter (and a GIL) of its "
            f"own. Measured: {processes.summary()}.",
        )
    return (processes.cause, "")


def primes_structure_problem(target: GradedTarget) -> tuple[str, str] | None:
    _, _, processes, threads = primes_run(target)
    return primes_verdict(processes, threads, gil_enabled())


@pytest.mark.points(2)
def test_primes_processes(target):
    note_free_threading(target)
    call, outcome, processes, threads = primes_run(target)
    value_of(outcome, call.describe(), WORK)
    problem = primes_structure_problem(target)
    if problem is None:
        target.record(f"{call.describe()}: {processes.summary() if processes.cause is None else threads.summary()}")
        return
    cause, message = problem
    if message:
        fail(message, cause=cause)
    target.require_parallel(WORK, call, processes, outcome, PRIMES)


@pytest.mark.points(1)
def test_primes_speedup(target):
    note_free_threading(target)
    call, outcome, processes, threads = primes_run(target)
    value_of(outcome, call.describe(), WORK)
    cores = target.settings.usable_cores
    count = TIMED_TASKS * PRIMES_SCALE.get(target.settings.start_method, 3)
    limits = target.rng("limits-timed").sample(range(75_000, 85_000), count)
    tasks = [(limit,) for limit in limits]
    calls = {
        "serial": Call(serial_starmap, (PRIMES, tasks), label=f"{PRIMES}(...) in a loop"),
        "learner": Call("count_primes_all", (limits, cores), label=f"count_primes_all({count} limits near 80 000, workers={cores})"),
        "reference": Call(pool_starmap, (PRIMES, tasks, cores), label="the grader's reference pool"),
    }
    # On a free-threaded build, threads of the calling process that passed primes_processes are timed too.
    evidence = threads if processes.cause is not None and primes_structure_problem(target) is None else processes
    speed.check(
        target, WORK, calls, f"count_primes_all on {cores} cores",
        compare=lambda values: same_list(values["learner"], expected_primes(target, limits), "counts"),
        parallel=(evidence, PRIMES),
        results_problem=primes_problem(target),
        parallel_check="the primes_processes check",
        results_check="the primes_results check",
    )


@pytest.mark.points(1)
def test_matrices_results(target):
    call, _, _ = thread_runs(target)[MATRIX]
    problem = matrices_problem(target)
    if problem:
        fail(f"called {call.describe()}: {problem}", cause="wrong_result")


@pytest.mark.points(2)
def test_matrices_threads(target):
    call, outcome, evidence = thread_runs(target)[MATRIX]
    value_of(outcome, call.describe(), WORK)
    require_threads(call, evidence)
    target.record(f"{call.describe()}: {evidence.summary()}")


@pytest.mark.points(1)
def test_matrices_speedup(target):
    call, outcome, evidence = thread_runs(target)[MATRIX]
    value_of(outcome, call.describe(), WORK)
    cores = target.settings.usable_cores
    results_problem = matrices_problem(target)
    if cores >= 2 and not results_problem and evidence.cause is not None:
        # speed.check names a process pool's causes; this part's are the threads' own.
        fail(
            f"not timed: in the traced run {explain_threads(evidence, 'largest_entry_all')}. Code that does not "
            "run its tasks in threads as asked gets no speedup credited: the matrices_threads check decides this part",
            cause="not_timed_parallel",
        )
    count = TIMED_TASKS
    seeds = target.rng("seeds-timed").sample(range(10**6), count)
    tasks = [(seed, TIMED_MATRIX) for seed in seeds]
    calls = {
        "serial": Call(serial_starmap, (MATRIX, tasks), label=f"{MATRIX}(...) in a loop"),
        "learner": Call(
            "largest_entry_all", (seeds, TIMED_MATRIX, cores),
            label=f"largest_entry_all({count} seeds, size={TIMED_MATRIX}, workers={cores})",
        ),
        "reference": Call(thread_starmap, (MATRIX, tasks, cores), label="the grader's reference thread pool"),
    }
    speed.check(
        target, WORK, calls, f"largest_entry_all on {cores} threads",
        compare=lambda values: same_list(values["learner"], expected_entries(target, seeds, TIMED_MATRIX), "values", close=True),
        parallel=(evidence, MATRIX),
        results_problem=results_problem,
        parallel_check="the matrices_threads check",
        results_check="the matrices_results check",
    )


@pytest.mark.points(1)
def test_no_leftover_processes(target):
    # Judged on the calls that returned: one that crashed or is not written yet is charged by its own
    # checks, not again here; with none returned there is nothing to judge.
    fetch_call, fetch_outcome, _ = thread_runs(target)[FETCH]
    matrix_call, matrix_outcome, _ = thread_runs(target)[MATRIX]
    primes_call, primes_outcome, _, _ = primes_run(target)
    runs = [
        (fetch_call, fetch_outcome, fetch_outcome.ok and fetch_outcome.value.outcome.ok),
        (primes_call, primes_outcome, primes_outcome.ok),
        (matrix_call, matrix_outcome, matrix_outcome.ok),
    ]
    returned = [(call, outcome) for call, outcome, ok in runs if ok]
    if not returned:
        call, outcome, _ = runs[1]
        value_of(outcome, call.describe(), WORK)
    for call, outcome in returned:
        if outcome.leftovers:
            fail(f"{call.describe()} left processes behind: " + "; ".join(outcome.leftovers), cause="leftover_processes")


# Parts 2 and 3: bank.py -----------------------------------------------------------------------------------


def start_balance(target: GradedTarget) -> int:
    return target.rng("start-balance").randrange(1_000, 10_000)


def race_amounts(target: GradedTarget) -> list[list[int]]:
    rng = target.rng("race")
    return [[rng.randint(1, 1000) for _ in range(RACE_DEPOSITS)] for _ in range(RACE_ROUNDS)]


def declined_amounts(target: GradedTarget) -> list[int]:
    rng = target.rng("declined")
    amounts = [rng.randint(1, 1000) for _ in range(DECLINED_DEPOSITS)]
    amounts[DECLINED_AT[0]] = 0
    for position in DECLINED_AT[1:]:
        amounts[position] = -rng.randint(1, 500)
    return amounts


def race_call(target: GradedTarget) -> Call:
    return Call(
        deposit_rounds, (race_amounts(target), DEPOSIT_WORKERS), {"start_balance": start_balance(target)},
        label=f"run_deposits(<an account holding {start_balance(target)}>, [{RACE_DEPOSITS} amounts], workers={DEPOSIT_WORKERS})",
    )


def race_run(target: GradedTarget):
    """(call, the harness's DepositRuns, the traced approve calls, the calling pid); approve traced, nothing held."""
    call = race_call(target)

    def compute():
        run = target.run(BANK, [call], trace=(APPROVE,), rendezvous=1, trace_wait_s=1.0)
        return run.outcomes[0], run.events, run.pid

    outcome, events, pid = target.once("race", compute)
    runs = value_of(outcome, call.describe(), BANK)
    return call, runs, [e for e in events if e.function == APPROVE], pid


def declined_run(target: GradedTarget):
    amounts = declined_amounts(target)
    call = Call(
        deposit_rounds, ([amounts], DEPOSIT_WORKERS), {"start_balance": start_balance(target)},
        label=(
            f"run_deposits(<an account holding {start_balance(target)}>, {show(amounts)}, workers={DEPOSIT_WORKERS}) "
            f"where the deposits of {', '.join(str(amounts[i]) for i in DECLINED_AT)} are declined"
        ),
    )
    outcome = target.once("declined", lambda: target.run(BANK, [call]).outcomes[0])
    runs = value_of(outcome, call.describe(), BANK)
    return call, runs.rounds[0]


def race_lost_updates(target: GradedTarget) -> bool:
    """Whether a race round ended with a wrong balance (deposits_balance's charge, not to be made again)."""
    _, runs, _, _ = race_run(target)
    return any(r.outcome.ok and r.balance_final != r.start_balance + sum(r.amounts) for r in runs.rounds)


def threads_outlived_the_call(round_) -> bool:
    return bool(round_.threads_left) or round_.balance_at_return != round_.balance_final


def race_threads_outlived(target: GradedTarget) -> bool:
    """Whether a race round returned with its threads still running (threads_joined's charge, not to be made again)."""
    _, runs, _, _ = race_run(target)
    return any(r.outcome.ok and threads_outlived_the_call(r) for r in runs.rounds)


@pytest.mark.points(2)
def test_deposits_balance(target):
    call, runs, _, _ = race_run(target)
    for index, round_ in enumerate(runs.rounds, start=1):
        value_of(round_.outcome, call.describe(), BANK)
        expected = round_.start_balance + sum(round_.amounts)
        final = round_.balance_final
        if final == expected:
            continue
        where = (
            f"called {call.describe()} {len(runs.rounds)} times, with the thread switch interval set to "
            f"{SWITCH_INTERVAL_S * 1e6:g} µs: in round {index}, the balance ended at {show(final)}"
        )
        if isinstance(final, (int, float)) and final < expected:
            fail(
                f"{where}, expected {expected} ({round_.start_balance} + the {len(round_.amounts)} amounts): "
                f"{expected - final} went missing. Two threads read the same balance and the later write "
                "overwrote the earlier deposit: the read, the addition and the write back must happen under "
                "one lock that every thread shares",
                cause="lost_updates",
            )
        fail(
            f"{where}, expected {expected} ({round_.start_balance} + the {len(round_.amounts)} amounts): every "
            "amount must be added to the balance exactly once",
            cause="wrong_balance",
        )
    target.record(
        f"{call.describe()}, {len(runs.rounds)} rounds with a switch interval of {SWITCH_INTERVAL_S * 1e6:g} µs: "
        "the balance was right in every round"
    )


@pytest.mark.points(2)
def test_approvals_overlap(target):
    call, runs, approvals, pid = race_run(target)
    failed = next((r.outcome for r in runs.rounds if not r.outcome.ok), None)
    if failed is not None and not approvals:
        value_of(failed, call.describe(), BANK)
    total = sum(len(r.amounts) for r in runs.rounds)
    elsewhere = [e for e in approvals if e.pid != pid]
    if elsewhere:
        fail(
            f"called {call.describe()}: {len(elsewhere)} approvals ran in other processes: processes do not share "
            "the account; the deposits belong in threads of the calling process",
            cause="processes_for_deposits",
        )
    if len(approvals) != total:
        fail(
            f"called {call.describe()}: approve was called {len(approvals)} times for {total} deposits: approve each "
            "deposit exactly once, with the given approve(amount)",
            cause="approvals_missing" if len(approvals) < total else "approvals_repeated",
        )
    most = most_at_once(approvals)
    workers = DEPOSIT_WORKERS
    started = max(r.threads_started for r in runs.rounds)
    if most < 2:
        if started < 2:
            fail(
                f"called {call.describe()}: the approvals ran one at a time and the call started "
                f"{started} thread(s): run the deposits in `workers` threads",
                cause="no_threads",
            )
        fail(
            f"called {call.describe()}: the {len(approvals)} approvals never ran two at once, although the call "
            f"started {started} threads: the lock was held around the approval too (around the whole deposit, or "
            "the whole run), so the threads took turns at everything. Hold the lock around the read-add-write "
            "of the balance only",
            cause="lock_too_wide",
        )
    if most > workers:
        fail(
            f"called {call.describe()}: {most} approvals ran at once, more than workers={workers}: use exactly "
            "`workers` threads, not one per deposit",
            cause="too_many_threads",
        )
    target.record(f"{call.describe()}: at most {most} approvals at once, {started} threads started per round")


@pytest.mark.points(1)
def test_threads_joined(target):
    call, runs, _, _ = race_run(target)
    for index, round_ in enumerate(runs.rounds, start=1):
        value_of(round_.outcome, call.describe(), BANK)
        if not threads_outlived_the_call(round_):
            continue
        left = round_.threads_left
        if left:
            running = f"{len(left)} thread(s) it started were still running ({', '.join(left[:3])}{'...' if len(left) > 3 else ''})"
        else:
            running = "the balance was still changing"
        if round_.balance_at_return != round_.balance_final:
            after = (
                f"; the balance was {show(round_.balance_at_return)} then and {show(round_.balance_final)} once "
                "they had ended"
            )
        elif round_.threads_unfinished:
            after = (
                f"; {len(round_.threads_unfinished)} of them were still alive {JOIN_WAIT_S:g} s later, waiting for "
                "work (an executor that is never shut down keeps its threads)"
            )
        else:
            after = ""
        fail(
            f"called {call.describe()}: in round {index}, when run_deposits returned, {running}{after}. Join every "
            "thread you start (or leave the executor's `with` block) before returning",
            cause="threads_not_joined",
        )


@pytest.mark.points(2)
def test_declined_reported(target):
    call, round_ = declined_run(target)
    outcome = round_.outcome
    if outcome.status not in (Status.OK, Status.ERROR):
        value_of(outcome, call.describe(), BANK)
    declined = [round_.amounts[i] for i in DECLINED_AT]
    expected = round_.start_balance + sum(a for a in round_.amounts if a > 0)
    balance = round_.balance_at_return
    if outcome.ok:
        escaped = (
            f" ({len(round_.escaped)} exception(s) ended a thread and were only printed, e.g. {round_.escaped[0]})"
            if round_.escaped
            else ""
        )
        fail(
            f"called {call.describe()}: {len(declined)} deposits were declined (approve raised Declined in a "
            f"thread), but run_deposits returned normally{escaped}: an exception raised in a thread never reaches "
            "the caller by itself. Keep each thread's exception (future.result() re-raises it) and raise it once "
            "every thread has finished",
            cause="exception_swallowed",
        )
    if outcome.raised != "Declined":
        fail(
            f"called {call.describe()}: it raised {outcome.error}{f' ({outcome.where})' if outcome.where else ''}; "
            "expected the Declined that approve raised, once every deposit was done",
            cause="wrong_exception",
        )
    if round_.threads_left and not race_threads_outlived(target):
        fail(
            f"called {call.describe()}: it raised Declined while {len(round_.threads_left)} of its threads were "
            f"still running (the balance was {show(balance)} then, {show(round_.balance_final)} once they had ended): "
            "wait for every deposit before raising",
            cause="raised_before_joined",
        )
    if round_.threads_left:
        # Threads left running are threads_joined's charge: the balance is judged once they had ended.
        balance = round_.balance_final
    if balance == expected:
        target.record(f"{call.describe()}: raised {outcome.error}; the balance held every approved deposit")
        return
    if isinstance(balance, (int, float)) and balance == expected + sum(declined):
        fail(
            f"called {call.describe()}: the balance is {balance}, expected {expected}: the declined amounts "
            f"{show(declined)} were added too. A declined deposit adds nothing",
            cause="declined_added",
        )
    if race_lost_updates(target):
        # Lost updates are deposits_balance's charge: the balance here says nothing more.
        target.record(f"{call.describe()}: raised {outcome.error}; the balance is judged by deposits_balance")
        return
    fail(
        f"called {call.describe()}: it raised Declined, but the balance was {show(balance)}, expected {expected} "
        f"({round_.start_balance} + every approved amount): deposits that were not declined were never made. "
        "executor.map stops at the first exception and cancels the deposits not yet started: submit every "
        "deposit, wait for them all, then raise",
        cause="deposits_lost_after_decline",
    )
