"""The grader's own pipelines for exercise 04: a serial baseline and a reference to judge the machine by.

Called in the sandbox with the learner's module first (the helper convention of graders.sandbox.calls), but
neither uses it: both run the grader's own copies of the given functions (graders.given.ex04), so a
learner's changed process_archive or run_serial can neither inflate a speedup nor move the
expectation, and the reference tells a busy machine from a slow pipeline (see graders.grading.speed).
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ProcessPoolExecutor

import httpx
import pandas as pd

from graders.harnesses.pipeline_calls import archive_replies
from graders.given import ex04
from graders.instruments.http_mock import MockServer
from graders.instruments.netguard import NetGuard


def serial_pipeline(module, archives: list[tuple[str, bytes, float]]) -> pd.DataFrame:
    """The given run_serial (the grader's copy): download an archive (blocking), process it, then the next."""
    replies = archive_replies(archives)
    with NetGuard(), MockServer(replies):
        return ex04.run_serial(list(replies))


def reference_pipeline(module, archives: list[tuple[str, bytes, float]], processes: int) -> pd.DataFrame:
    """Concurrent downloads, each archive processed in a pool of ``processes`` as soon as it arrives."""
    replies = archive_replies(archives)

    async def pipeline():
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(processes) as pool:
            async with httpx.AsyncClient(timeout=ex04.TIMEOUT_S) as client:

                async def one(url):
                    response = await client.get(url)
                    return await loop.run_in_executor(pool, ex04.process_archive, response.content)

                return pd.concat(await asyncio.gather(*(one(url) for url in replies)))

    with NetGuard(), MockServer(replies):
        return asyncio.run(pipeline())
