"""Deciding from traced task calls whether the work really ran in parallel worker processes, as asked.

The events come from the grading process's trace channel (graders.sandbox.trace_channel): every traced call
of the task function, wherever it ran (the calling process included), stamped on arrival. The
verdict names one cause, the first that applies:

- ``task_never_called``: the task function was not called at all;
- ``work_in_caller``: some calls ran in the calling process itself (serial code, threads, or serial
  work hidden behind a pool that runs a token share);
- ``task_calls_missing`` / ``task_calls_extra``: fewer traced calls than the tasks asked (work done
  without calling the task function) or more (calls invented, or work done twice);
- ``one_worker``: every call ran in one worker process;
- ``pool_per_item``: more worker processes than asked, never two at once (a new pool per item);
- ``never_overlapping``: several workers, never two at once (waiting for each result);
- ``fewer_workers`` / ``more_workers``: the calls ran in another number of worker processes than
  the ``processes`` asked (``Pool()`` or ``os.cpu_count()`` instead of the argument).
"""
from __future__ import annotations

from dataclasses import dataclass

from graders.sandbox.trace_format import TraceEvent

# cause -> a short name of what went wrong, for messages ("not parallel", ...)
HEADINGS = {
    "task_never_called": "not parallel",
    "work_in_caller": "not parallel",
    "task_calls_missing": "work not accounted for",
    "task_calls_extra": "work not accounted for",
    "one_worker": "not parallel",
    "pool_per_item": "not one pool",
    "never_overlapping": "not parallel",
    "fewer_workers": "wrong number of workers",
    "more_workers": "wrong number of workers",
}
CAUSES = tuple(HEADINGS)


@dataclass(frozen=True)
class ParallelEvidence:
    calls: int
    worker_pids: frozenset[int]
    calls_in_caller: int
    max_processes_at_once: int
    # What was asked: the number of task calls the input implies (None: not checked), the fewest
    # that would still do the work (equal inputs computed once), and the pool size.
    tasks: int | None = None
    workers: int | None = None
    fewest_tasks: int | None = None

    @property
    def cause(self) -> str | None:
        """The first thing wrong with this run, as a cause name; None when it is parallel as asked."""
        workers = len(self.worker_pids)
        if self.calls == 0:
            return "task_never_called"
        if self.calls_in_caller:
            return "work_in_caller"
        if self.tasks is not None:
            fewest = self.fewest_tasks if self.fewest_tasks is not None else self.tasks
            if self.calls < fewest:
                return "task_calls_missing"
            if self.calls > self.tasks:
                return "task_calls_extra"
        if workers == 1:
            return "one_worker"
        if self.max_processes_at_once < 2:
            if self.workers is not None and workers > self.workers:
                return "pool_per_item"
            return "never_overlapping"
        if self.workers is not None and self.tasks is not None:
            wanted = min(self.workers, self.tasks)
            if workers < wanted:
                return "fewer_workers"
        if self.workers is not None and workers > self.workers:
            return "more_workers"
        return None

    @property
    def is_parallel(self) -> bool:
        return self.cause is None

    def summary(self) -> str:
        asked = f" (asked: {self.tasks} tasks" if self.tasks is not None else ""
        if self.workers is not None:
            asked += f"{', ' if asked else ' (asked: '}{self.workers} workers"
        asked += ")" if asked else ""
        return (
            f"{self.calls} calls traced, {self.calls_in_caller} of them in the calling process, "
            f"{len(self.worker_pids)} worker process(es), "
            f"at most {self.max_processes_at_once} process(es) working at once{asked}"
        )


def analyse(
    events: list[TraceEvent],
    caller_pid: int,
    finished_at: float,
    *,
    tasks: int | None = None,
    workers: int | None = None,
    fewest_tasks: int | None = None,
) -> ParallelEvidence:
    """``caller_pid`` is the process that called the learner's function: work there is not parallel."""
    in_workers = [e for e in events if e.pid != caller_pid]
    return ParallelEvidence(
        calls=len(events),
        worker_pids=frozenset(e.pid for e in in_workers),
        calls_in_caller=sum(e.pid == caller_pid for e in events),
        max_processes_at_once=_max_distinct_overlap(in_workers),
        tasks=tasks,
        workers=workers,
        fewest_tasks=fewest_tasks,
    )


def _max_distinct_overlap(events: list[TraceEvent]) -> int:
    """Most distinct processes with a call in progress at once.

    Ordered by the grading process's arrival numbers where there are any (exact: no ties, causal
    order kept by the acknowledgements); an unfinished call lasts until the end of the run.
    """
    if any(e.start_seq for e in events):
        def start(e): return e.start_seq
        def end(e): return e.end_seq if e.end_seq is not None else float("inf")
    else:
        def start(e): return e.start
        def end(e): return e.end if e.end is not None else float("inf")
    # Ends sort before starts at the same instant, so touching intervals do not overlap.
    boundaries = sorted([(start(e), 1, e.pid) for e in events] + [(end(e), 0, e.pid) for e in events])
    open_per_pid: dict[int, int] = {}
    best = 0
    for _, is_start, pid in boundaries:
        if is_start:
            open_per_pid[pid] = open_per_pid.get(pid, 0) + 1
        else:
            open_per_pid[pid] -= 1
            if not open_per_pid[pid]:
                del open_per_pid[pid]
        best = max(best, len(open_per_pid))
    return best


def explain(evidence: ParallelEvidence, task: str, caller: str) -> str:
    """Why ``evidence`` is not parallel as asked, in the learner's terms (one cause)."""
    cause = evidence.cause
    workers = len(evidence.worker_pids)
    if cause == "task_never_called":
        return (
            f"while {caller} ran, {task} was never called: the work has to be done by calling "
            f"{task} (in the worker processes)"
        )
    if cause == "work_in_caller":
        if not workers:
            return (
                f"all {evidence.calls} calls of {task} ran inside the calling process itself: the code is "
                "serial, or uses threads, which cannot run Python code in parallel (the GIL lets one "
                "thread run at a time)"
            )
        return (
            f"{evidence.calls_in_caller} of the {evidence.calls} calls of {task} ran inside the calling "
            f"process itself (the other {evidence.calls - evidence.calls_in_caller} in {workers} worker "
            "process(es)): every task must be done by the pool's workers, none by the caller or its threads"
        )
    if cause == "task_calls_missing":
        return (
            f"{task} was called {evidence.calls} times, but the input holds {evidence.tasks} tasks: the "
            f"rest of the work was done without calling {task} (every task must be one call of {task})"
        )
    if cause == "task_calls_extra":
        return (
            f"{task} was called {evidence.calls} times, but the input holds only {evidence.tasks} tasks: "
            "each task must be computed once"
        )
    if cause == "one_worker":
        return (
            f"all {evidence.calls} calls of {task} ran in one single worker process: a pool of one "
            "process, or one task holding all the work, gives no parallelism"
        )
    if cause == "pool_per_item":
        return (
            f"{task} ran in {workers} different worker processes, more than processes={evidence.workers}, "
            "and never in two at the same time: a new pool was made for each item; make one pool per "
            "call and give it all the tasks"
        )
    if cause == "never_overlapping":
        return (
            f"{task} ran in {workers} different processes, but never in two at the same time: the work "
            "was serialised (a new pool for every task, or waiting for each result before handing out "
            "the next task)"
        )
    if cause == "fewer_workers":
        return (
            f"{task} ran in {workers} worker processes, but processes={evidence.workers} were asked for "
            f"(and there were {evidence.tasks} tasks): size the pool with the `processes` argument, not "
            "Pool() or os.cpu_count(), and give every worker a share of the tasks"
        )
    if cause == "more_workers":
        return (
            f"{task} ran in {workers} worker processes, but processes={evidence.workers} were asked for: "
            "make one pool of `processes` workers per call (not Pool() or os.cpu_count(), not a new pool "
            "per item)"
        )
    return f"{task} ran in parallel as asked"
