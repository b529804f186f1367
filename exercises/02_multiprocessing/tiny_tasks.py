"""Part 3: fixed versus variable cost, when each task is tiny.

Handing a task to a worker process costs about as much as computing one Collatz sequence, so a pool
that sends the numbers one by one is slower than the plain loop. Give each worker a large chunk of
numbers at a time and the fixed cost is paid once per chunk instead of once per number.
"""
from multiprocessing import Pool


def collatz_steps(n):
    """How many steps the Collatz sequence takes from n down to 1."""
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def total_steps_loop(numbers):
    """The serial version: the total number of Collatz steps over all the numbers."""
    return sum(map(collatz_steps, numbers))


def total_steps_one_by_one(numbers, processes):
    """A pool that sends one number per task: correct, parallel, and slower than the loop."""
    with Pool(processes) as pool:
        return sum(pool.imap(collatz_steps, numbers))


def total_steps_parallel(numbers, processes):
    """The same total as total_steps_loop, faster than it: the numbers go to the workers in chunks.

    Every number counts, a number given twice twice, whether or not the count divides by
    `processes`. Each number is one call of collatz_steps, made in a worker process. One pool per
    call, of exactly `processes` workers, closed before the function returns.
    """
    # TODO: send the numbers in a few large chunks, e.g. pool.imap(..., chunksize=...) or a function
    # that sums one chunk; the total must be the same as the loop's.
    raise NotImplementedError
