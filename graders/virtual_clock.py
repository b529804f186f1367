"""An event loop on a virtual clock: when nothing is ready to run, time jumps to the next timer.

``await asyncio.sleep(3)`` then takes no real time but exactly 3 s of loop time, so a grader can
tell "finished in the longest sleep" from "finished in the sum of the sleeps" exactly, quickly,
and whatever the machine's load. Only timers move the clock: I/O and other threads are waited
for in real time, as usual.
"""
from __future__ import annotations

import asyncio
import selectors


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0


class _JumpingSelector(selectors.DefaultSelector):
    """Polls without waiting; a wait for a timer becomes a jump of the clock instead."""

    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout=None):
        ready = super().select(0)
        if ready:
            return ready
        if timeout is None:
            # No timer pending: only I/O or another thread can wake the loop, so wait for real.
            return super().select(None)
        self._clock.now += max(timeout, 0.0)
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._virtual_clock = _Clock()
        super().__init__(_JumpingSelector(self._virtual_clock))

    def time(self) -> float:
        return self._virtual_clock.now


def run(main):
    """Run the coroutine function ``main()`` on a fresh virtual-clock loop: (its result, loop time taken)."""
    loop = VirtualClockLoop()
    try:
        asyncio.set_event_loop(loop)
        start = loop.time()
        result = loop.run_until_complete(main())
        return result, loop.time() - start
    finally:
        asyncio.set_event_loop(None)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
