"""Part 2: downloading images concurrently with httpx.AsyncClient and aiofiles.

`download_all_blocking` fetches the images one after another with the blocking `httpx.Client`:
while it waits for one server, nothing else happens, so N images take N times the wait. Write
`download_all`, its asyncio version: the requests wait together, at most `limit` at a time (a
server, or your network, should not get hundreds of requests at once), and each file is written
without blocking the event loop (aiofiles).

Both versions save each image in `folder` under the last part of its URL, and return a dict
{url: reason} of the URLs that failed (an HTTP error status, no answer within TIMEOUT_S, a
dropped connection). A failed URL must not stop the other downloads, and must leave no file
behind, not even an empty or half-written one.

Call it from a script with asyncio.run(download_all(...)); in a notebook cell, where an event
loop is already running, write `await download_all(...)`.
"""
import asyncio
from pathlib import Path

import aiofiles
import httpx

TIMEOUT_S = 1.0  # give up on an image when its server has not answered within this many seconds


def image_name(url):
    """The file name an image is saved under: the last part of its URL."""
    return url.rsplit("/", 1)[-1]


def describe_failure(error):
    """Why a download failed, as reported in the returned dict."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return "network error"


def download_all_blocking(urls, folder):
    """The serial version: one request at a time with the blocking client. Returns {url: reason} of failures."""
    failures = {}
    with httpx.Client(timeout=TIMEOUT_S) as client:
        for url in urls:
            try:
                response = client.get(url)
                response.raise_for_status()
            except httpx.HTTPError as error:
                failures[url] = describe_failure(error)
                continue
            Path(folder, image_name(url)).write_bytes(response.content)
    return failures


async def download_all(urls, folder, limit=6):
    """The same files and failures as download_all_blocking, with up to `limit` requests in flight at once.

    All the requests of a call go through one shared httpx.AsyncClient(timeout=TIMEOUT_S). As soon as
    one request ends, the next waiting URL's request starts: `limit` requests stay in flight as long as
    URLs are waiting (batches of `limit` URLs, each waiting for its slowest image, are slower).
    """
    # TODO: share one httpx.AsyncClient(timeout=TIMEOUT_S); start one task per URL and gather them;
    # an asyncio.Semaphore(limit) keeps at most `limit` requests in flight. Write each file with
    # aiofiles only once its whole body has arrived, and record failures with describe_failure.
    ### BEGIN SOLUTION
    semaphore = asyncio.Semaphore(limit)
    failures = {}

    async def download(client, url):
        async with semaphore:
            try:
                response = await client.get(url)
                response.raise_for_status()
            except httpx.HTTPError as error:
                failures[url] = describe_failure(error)
                return
        async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
            await file.write(response.content)

    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        await asyncio.gather(*(download(client, url) for url in urls))
    return failures
    ### END SOLUTION
