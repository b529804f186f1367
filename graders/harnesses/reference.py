"""The grader's own ways of running a learner's task function: a serial baseline and a reference pool.

They are called inside the sandbox with the learner's module first (see graders.sandbox.calls). The serial
baseline is the grader's loop, not the learner's copy of it, so a slowed-down "serial" version
cannot inflate a speedup; the reference pool tells a busy machine from slow learner code.
"""
from __future__ import annotations

import multiprocessing


def serial_starmap(module, task: str, arg_tuples: list[tuple]) -> list:
    function = getattr(module, task)
    return [function(*args) for args in arg_tuples]


def pool_starmap(module, task: str, arg_tuples: list[tuple], processes: int) -> list:
    function = getattr(module, task)
    chunksize = max(1, len(arg_tuples) // (processes * 4))
    with multiprocessing.Pool(processes) as pool:
        return pool.starmap(function, arg_tuples, chunksize=chunksize)


def apply_twice(module, function: str, argument) -> tuple:
    """f(x) and f(f(x)): whether applying the learner's function again changes anything."""
    once = getattr(module, function)(argument)
    return once, getattr(module, function)(once)


def warm_up(module, processes: int) -> None:
    """Pay multiprocessing's once-per-process costs before anything is timed.

    The first pool of a process imports the pool machinery and, under spawn and forkserver, starts
    the resource tracker (and the fork server): whichever timed call came first would pay for all.
    """
    with multiprocessing.Pool(processes) as pool:
        pool.map(abs, range(processes))
