"""The grader's copies of what exercise 06 gives the learner (workloads.py, bank.py).

Expected values come from these functions, never from the learner's module; and every graded
deposit goes into the grader's own Account, so the slow store that makes a race show every time is
the one the exercise describes, whatever the learner's copy of the class became.
"""
import time

import httpx
import numpy as np

STUB_FUNCTIONS = {"workloads": ("fetch", "count_primes", "largest_entry")}

TIMEOUT_S = 10.0
STORE_DELAY_S = 0.001


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


class Account:
    """A bank account whose balance lives in a slow store: every read of the balance waits a moment."""

    def __init__(self, balance=0):
        self._balance = balance

    @property
    def balance(self):
        value = self._balance
        time.sleep(STORE_DELAY_S)  # the store's round trip: other threads run meanwhile
        return value

    @balance.setter
    def balance(self, value):
        self._balance = value
