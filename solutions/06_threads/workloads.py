"""Part 1: threads or processes? It depends on what the work does while it runs.

CPython runs the Python code of one process in one thread at a time: a thread must hold the global
interpreter lock (GIL) to run bytecode. A thread gives the lock up while it waits (for the network,
a file, a sleep) and while it runs C code that does not touch Python objects, such as numpy's
matrix products, sorts and most of its array arithmetic. So:
- downloading is waiting: threads overlap their waits, and cost far less than processes;
- counting primes in pure Python is bytecode from start to end: threads take turns on the GIL and
  gain nothing, worker processes (each with its own interpreter and GIL) run at the same time;
- multiplying numpy matrices happens in C with the GIL released: threads run at the same time, on
  arrays they share, with nothing pickled or copied to another process.

Each function below takes the number of `workers` to use; which kind of worker is the question.
"""
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import httpx
import numpy as np

TIMEOUT_S = 10.0


def fetch(url):
    """Download one page with a blocking client; returns its size in bytes (IO-bound: it mostly waits)."""
    response = httpx.get(url, timeout=TIMEOUT_S)
    response.raise_for_status()
    return len(response.content)


def count_primes(limit):
    """How many primes are below `limit`, by trial division in pure Python (CPU-bound: it holds the GIL)."""
    count = 0
    for number in range(2, limit):
        divisor = 2
        while divisor * divisor <= number:
            if number % divisor == 0:
                break
            divisor += 1
        else:
            count += 1
    return count


def largest_entry(seed, size):
    """The largest entry of A @ A, for a random size x size matrix A drawn from `seed` (numpy releases the GIL)."""
    matrix = np.random.default_rng(seed).random((size, size))
    return float((matrix @ matrix).max())


def fetch_all(urls, workers):
    """The size of every page, in the order of urls: downloaded by `workers` threads at once.

    Waiting for a server needs no GIL, so threads overlap their downloads; a process per download
    would only add the cost of starting processes. Each URL is one call of fetch, made in a thread of
    the calling process, and at most `workers` downloads run at once.
    """
    # TODO: the right kind of executor for waiting on the network, with `workers` workers; keep the
    # order of urls.
    ### BEGIN SOLUTION
    with ThreadPoolExecutor(workers) as executor:
        return list(executor.map(fetch, urls))
    ### END SOLUTION


def count_primes_all(limits, workers):
    """count_primes(limit) for every limit, in order: counted by `workers` worker processes at once.

    Pure-Python work holds the GIL, so threads would take turns; processes each have their own.
    Each limit is one call of count_primes, made in a worker process (none in the calling process);
    one pool of exactly `workers` processes per call, closed before the function returns.
    """
    # TODO: the right kind of executor for pure-Python computing, with `workers` workers; keep the
    # order of limits.
    ### BEGIN SOLUTION
    with ProcessPoolExecutor(workers) as executor:
        return list(executor.map(count_primes, limits))
    ### END SOLUTION


def largest_entry_all(seeds, size, workers):
    """largest_entry(seed, size) for every seed, in order: computed by `workers` threads at once.

    numpy releases the GIL while it multiplies, so threads compute at the same time and share the
    arrays; processes would pickle every argument and result and start an interpreter each. Each
    seed is one call of largest_entry, made in a thread of the calling process, and at most
    `workers` run at once.
    """
    # TODO: the right kind of executor for numpy work that releases the GIL, with `workers` workers;
    # keep the order of seeds.
    ### BEGIN SOLUTION
    with ThreadPoolExecutor(workers) as executor:
        return list(executor.map(largest_entry, seeds, [size] * len(seeds)))
    ### END SOLUTION
