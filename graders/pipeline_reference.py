"""The grader's own pipelines for exercise 04: a serial baseline and a reference to judge the machine by.

Called in the sandbox with the learner's module first; both use the learner's ``process_archive``
(the work to do) but the grader's own loop, so a slowed-down serial version cannot inflate a
speedup, and the reference tells a busy machine from a slow pipeline (see graders.speed).
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ProcessPoolExecutor

import httpx
import pandas as pd

from graders.exercise_runs import archive_replies
from graders.http_mock import MockServer
from graders.netguard import NetGuard


def serial_pipeline(module, archives: list[tuple[str, bytes, float]]) -> pd.DataFrame:
    """Download an archive (blocking), process it, then the next."""
    replies = archive_replies(archives)
    with NetGuard(), MockServer(replies), httpx.Client() as client:
        return pd.concat([module.process_archive(client.get(url).content) for url in replies])


def reference_pipeline(module, archives: list[tuple[str, bytes, float]], processes: int) -> pd.DataFrame:
    """Concurrent downloads, each archive processed in a pool of ``processes`` as soon as it arrives."""
    replies = archive_replies(archives)

    async def pipeline():
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(processes) as pool:
            async with httpx.AsyncClient() as client:

                async def one(url):
                    response = await client.get(url)
                    return await loop.run_in_executor(pool, module.process_archive, response.content)

                return pd.concat(await asyncio.gather(*(one(url) for url in replies)))

    with NetGuard(), MockServer(replies):
        return asyncio.run(pipeline())
