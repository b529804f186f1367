"""Deciding from traced task intervals whether work really ran in parallel processes."""
from __future__ import annotations

from dataclasses import dataclass

from graders.tracing import TraceEvent


@dataclass(frozen=True)
class ParallelEvidence:
    calls: int
    worker_pids: frozenset[int]
    calls_in_caller: int
    max_processes_at_once: int

    @property
    def is_parallel(self) -> bool:
        return len(self.worker_pids) >= 2 and self.max_processes_at_once >= 2

    def summary(self) -> str:
        return (
            f"{self.calls} calls traced, {len(self.worker_pids)} worker process(es), "
            f"at most {self.max_processes_at_once} process(es) working at once"
        )


def analyse(events: list[TraceEvent], caller_pid: int, finished_at: float) -> ParallelEvidence:
    """``caller_pid`` is the process that called the learner's function: work there is not parallel."""
    in_workers = [e for e in events if e.pid != caller_pid]
    return ParallelEvidence(
        calls=len(events),
        worker_pids=frozenset(e.pid for e in in_workers),
        calls_in_caller=sum(e.pid == caller_pid for e in events),
        max_processes_at_once=_max_distinct_overlap(in_workers, finished_at),
    )


def _max_distinct_overlap(events: list[TraceEvent], finished_at: float) -> int:
    # Sweep over interval boundaries, counting distinct pids with an open interval; ends sort
    # before starts at the same instant so touching intervals do not count as overlapping.
    boundaries = []
    for e in events:
        boundaries.append((e.start, 1, e.pid))
        boundaries.append((e.end if e.end is not None else finished_at, 0, e.pid))
    boundaries.sort()
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
    """Why ``evidence`` is not parallel, in the learner's terms."""
    if evidence.calls == 0:
        return (
            f"while {caller} ran, {task} was never called: the work has to be done by calling "
            f"{task} (in the worker processes)"
        )
    if not evidence.worker_pids:
        return (
            f"all {evidence.calls} calls of {task} ran inside the calling process itself: the code is "
            "serial, or uses threads, which cannot run Python code in parallel (the GIL lets one "
            "thread run at a time)"
        )
    if len(evidence.worker_pids) == 1:
        return (
            f"all {evidence.calls - evidence.calls_in_caller} worker calls of {task} ran in one single "
            "worker process: a pool of one process, or one task holding all the work, gives no "
            "parallelism"
        )
    return (
        f"{task} ran in {len(evidence.worker_pids)} different processes, but never in two at the "
        "same time: the work was serialised (a new pool for every task, or waiting for each result "
        "before handing out the next task)"
    )
