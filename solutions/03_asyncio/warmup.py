"""Part 1: coroutines that wait together.

`count` notes "1", sleeps, then notes "2". Awaited one after another, three of them take the sum
of their sleeps and their notes come in pairs (a 1, a 2, b 1, b 2, ...). Started together, they
take as long as the longest sleep and all the "1"s come before any "2": while one coroutine
sleeps, the event loop runs the others.

Run it as a script: python warmup.py
In a notebook cell, where an event loop is already running, write `await count_together(...)`
instead of asyncio.run(...).
"""
import asyncio
import time


async def count(name, seconds, log):
    """Note "<name> 1", sleep `seconds` without blocking, note "<name> 2"; returns the name."""
    log.append(f"{name} 1")
    await asyncio.sleep(seconds)
    log.append(f"{name} 2")
    return name


async def count_one_by_one(sleeps, log):
    """The sequential version: each count is awaited before the next starts. `sleeps` maps name -> seconds."""
    names = []
    for name, seconds in sleeps.items():
        names.append(await count(name, seconds, log))
    return names


async def count_together(sleeps, log):
    """The same names, in the same order, but all the counts run at once: as long as the longest sleep."""
    # TODO: start one count(...) per entry of `sleeps` and wait for all of them at once
    # (asyncio.gather keeps the results in the order of its arguments).
    ### BEGIN SOLUTION
    return list(await asyncio.gather(*(count(name, seconds, log) for name, seconds in sleeps.items())))
    ### END SOLUTION


if __name__ == "__main__":
    for version in (count_one_by_one, count_together):
        log = []
        started = time.perf_counter()
        asyncio.run(version({"a": 1, "b": 1, "c": 1}, log))
        print(f"{version.__name__}: {time.perf_counter() - started:.2f} s, {log}")
