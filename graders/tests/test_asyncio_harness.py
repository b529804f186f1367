"""Running async code as a script and as a notebook cell, on a virtual clock, with blocking calls watched."""
from __future__ import annotations

import asyncio
import os
import time
import types
from pathlib import Path

import aiofiles
import pytest

from graders.harnesses import asyncio_calls
from graders.instruments import virtual_clock
from graders.instruments.blocking import BlockingMonitor

HERE = os.path.dirname(os.path.abspath(__file__))


async def double(x):
    await asyncio.sleep(0)
    return 2 * x


def runs_its_own_loop(x):
    return asyncio.run(double(x))


@pytest.mark.parametrize("style", [asyncio_calls.call_as_script, asyncio_calls.call_in_notebook])
def test_a_coroutine_function_works_in_both_styles(style):
    assert style(double, 21) == 42


def test_asyncio_run_works_in_a_script_but_not_in_a_notebook_cell_and_is_located():
    with asyncio_calls.RunWatch(HERE) as watch:
        assert asyncio_calls.call_as_script(runs_its_own_loop, 2) == 4
    assert watch.misuse is None
    with asyncio_calls.RunWatch(HERE) as watch:
        with pytest.raises(RuntimeError) as raised:
            asyncio_calls.call_in_notebook(runs_its_own_loop, 2)
    assert asyncio_calls.is_nested_loop_error(str(raised.value))
    assert watch.misuse.startswith("test_asyncio_harness.py, line ")


def test_an_alias_imported_before_the_watch_is_watched_too():
    learner = types.ModuleType("learner")
    learner.run = asyncio.run
    with asyncio_calls.RunWatch(HERE, modules=[learner]) as watch:
        with pytest.raises(RuntimeError):
            asyncio_calls.call_in_notebook(lambda: learner.run(double(1)))
        assert learner.run is not asyncio_calls._real_run
    assert watch.misuse is not None
    assert learner.run is asyncio_calls._real_run


def test_the_virtual_clock_takes_the_longest_sleep_for_gathered_sleeps_and_the_sum_for_serial_ones():
    delays = [1.5, 4.0, 2.5]

    async def together():
        await asyncio.gather(*(asyncio.sleep(d) for d in delays))

    async def one_by_one():
        for d in delays:
            await asyncio.sleep(d)

    assert virtual_clock.run(together)[1] == pytest.approx(4.0)
    assert virtual_clock.run(one_by_one)[1] == pytest.approx(8.0)


def test_the_virtual_clock_still_waits_for_real_work_in_threads():
    async def with_thread():
        return await asyncio.to_thread(sum, range(10))

    assert virtual_clock.run(with_thread) == (45, 0.0)


def test_blocking_sleep_and_writes_on_the_loop_are_recorded_with_their_place(tmp_path):
    async def blocking():
        time.sleep(0.001)
        Path(tmp_path, "a.bin").write_bytes(b"a")
        with open(tmp_path / "b.txt", "w") as handle:
            handle.write("b")

    with BlockingMonitor(HERE) as monitor:
        asyncio.run(blocking())
    assert [c.kind for c in monitor.calls] == ["sleep", "open", "open"]
    assert monitor.calls[1].detail == "open('a.bin', 'wb')"
    assert all(c.where.startswith("test_asyncio_harness.py, line ") for c in monitor.calls)


def test_the_same_calls_off_the_loop_or_through_aiofiles_are_not_blocking(tmp_path):
    async def non_blocking():
        await asyncio.to_thread(time.sleep, 0.001)
        await asyncio.to_thread(Path(tmp_path, "a.bin").write_bytes, b"a")
        async with aiofiles.open(tmp_path / "b.bin", "wb") as handle:
            await handle.write(b"b")
        with open(tmp_path / "a.bin", "rb") as handle:  # reading is not watched
            handle.read()

    with BlockingMonitor(HERE) as monitor:
        time.sleep(0.001)  # no loop running here
        asyncio.run(non_blocking())
    assert monitor.calls == []


def test_a_sleep_imported_by_name_is_watched_and_everything_is_restored(tmp_path):
    learner = types.ModuleType("learner")
    learner.sleep = time.sleep
    real = (time.sleep, open)

    async def blocking():
        learner.sleep(0.001)

    with BlockingMonitor(HERE, modules=[learner]) as monitor:
        asyncio.run(blocking())
    assert [c.detail for c in monitor.calls] == ["time.sleep(0.001)"]
    assert (time.sleep, open, learner.sleep) == (*real, real[0])


def test_the_virtual_clock_stands_still_while_a_thread_works_for_the_loop():
    async def write_while_sleeping():
        sleeper = asyncio.ensure_future(asyncio.sleep(1.0))
        await asyncio.to_thread(time.sleep, 0.05)  # a slow file write, say
        during = asyncio.get_running_loop().time()
        await sleeper
        return during

    during, took = virtual_clock.run(write_while_sleeping)
    assert during == 0.0 and took == pytest.approx(1.0)


def test_inside_virtual_loops_asyncio_run_itself_runs_on_a_virtual_clock():
    async def long_sleep():
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    started = time.monotonic()
    with virtual_clock.virtual_loops():
        assert asyncio.run(long_sleep()) == pytest.approx(3600)
    assert time.monotonic() - started < 60
    assert not isinstance(asyncio.new_event_loop(), virtual_clock.VirtualClockLoop)


def test_the_warm_up_runs_with_the_graders_own_count(tmp_path):
    learner = types.ModuleType("warmup")
    learner.__file__ = str(tmp_path / "warmup.py")

    async def count(name, seconds, log):  # "optimised": no sleep at all
        return name

    async def count_together(sleeps, log):
        return list(await asyncio.gather(*(learner.count(n, s, log) for n, s in sleeps.items())))

    learner.count, learner.count_together = count, count_together
    run = asyncio_calls.count_together_clocked(learner, {"a": 2.0, "b": 3.0, "c": 1.0})
    assert run.outcome.ok and run.outcome.value == ["a", "b", "c"]
    assert run.loop_seconds == pytest.approx(3.0)
    assert [entry for entry, _ in run.log][:3] == ["a 1", "b 1", "c 1"]


@pytest.mark.skipif(not hasattr(asyncio, "TaskGroup"), reason="TaskGroup and ExceptionGroup are Python 3.11+")
def test_an_exception_group_is_unwrapped_into_the_errors_it_holds():
    import httpx

    from graders.harnesses.http_calls import raised_errors

    async def two_failures():
        async def fails(error):
            raise error

        async with asyncio.TaskGroup() as group:
            group.create_task(fails(httpx.ReadError("dropped")))
            group.create_task(fails(ValueError("bad")))

    with pytest.raises(BaseException) as raised:
        asyncio.run(two_failures())
    errors = raised_errors(raised.value, HERE)
    assert [(e.type, e.http_error) for e in errors] == [("ReadError", True), ("ValueError", False)]
    assert all(e.where.startswith("test_asyncio_harness.py, line ") for e in errors)
