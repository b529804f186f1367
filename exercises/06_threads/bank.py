"""Parts 2 and 3: threads that share data, and threads handled with care.

Threads share the memory of their process: every thread sees the same `account`. That is what makes
them cheap, and what makes them dangerous. `account.balance = account.balance + amount` is three
steps (read, add, write back), and a thread can be switched out between any two of them: two threads
that both read 100 and both write back 100 + their amount lose one of the two deposits. The GIL does
not prevent that: it makes single bytecodes atomic, not a read followed by a write.

The balance here lives in a slow store (think of a database): reading it takes a moment, during
which other threads run. Real code has the same race; the pause only makes it show every time
instead of once in a million runs.

The cure is a lock around the read-modify-write, and around nothing else: a lock held while a thread
waits for its approval would make the threads take turns at everything, and they might as well be
one. The other cure is not to share: each thread keeps a tally of its own, and the tallies are
added up once the threads are done.
"""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

APPROVAL_S = 0.01
STORE_DELAY_S = 0.001


class Declined(Exception):
    """A deposit the payment network refused."""


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


def approve(amount):
    """The payment network's approval of one deposit: a blocking wait that shares nothing.

    Raises Declined for an amount of 0 or less.
    """
    time.sleep(APPROVAL_S)
    if amount <= 0:
        raise Declined(f"a deposit of {amount} was declined")


def deposit_unsafe(account, amount):
    """Approve one deposit, then add it to the balance: read, add, write back, with nothing to stop another thread in between."""
    approve(amount)
    account.balance = account.balance + amount


def run_deposits_unsafe(account, amounts, workers):
    """The threaded version without a lock: fast, and it loses deposits. Run it a few times and compare the balances."""
    with ThreadPoolExecutor(workers) as executor:
        list(executor.map(deposit_unsafe, [account] * len(amounts), amounts))


def run_deposits(account, amounts, workers):
    """Deposit every amount into `account` from `workers` threads at once; returns None.

    Each deposit is approved first (approve(amount), a blocking wait that shares nothing), then added
    to the balance. The approvals run at the same time, at most `workers` at once; only the update of
    the balance (read, add, write back) is done by one thread at a time, under one lock shared by
    every thread (or not shared at all: tallies of each thread's own, added up at the end).
    Every thread is joined before the function returns: the balance is then final, and no thread is
    left running.
    A declined deposit (approve raises Declined) adds nothing, and all the other deposits still go
    through; once every thread has finished, run_deposits raises Declined (one of them): an exception
    in a thread must reach the caller, never vanish.
    """
    # TODO: one threading.Lock for the call; in each thread, approve outside the lock, then
    # read-add-write the balance inside it. Wait for every deposit before you look at the results,
    # then raise the first error, if any.
    raise NotImplementedError


if __name__ == "__main__":
    amounts = list(range(1, 101))
    for name, run in (("without a lock", run_deposits_unsafe), ("run_deposits", run_deposits)):
        account = Account()
        run(account, amounts, 8)
        print(f"{name}: balance {account.balance}, expected {sum(amounts)}")
