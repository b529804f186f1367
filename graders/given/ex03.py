"""The grader's copies of what exercise 03 gives the learner (warmup.py, downloads.py).

The warm-up is graded with this ``count``, put in the learner's module for the graded call: a
learner's ``count_together`` is judged on its own, whatever their copy of ``count`` became. The
expected file names and failure reasons of the downloads come from ``image_name`` and
``describe_failure`` here, never from the learner's module.
"""
import asyncio

import httpx

STUB_FUNCTIONS = {"warmup": ("count",), "downloads": ("image_name", "describe_failure")}

TIMEOUT_S = 1.0  # give up on an image when its server has not answered within this many seconds
# What httpx.AsyncClient() waits for without a timeout of its own: a reply slower than TIMEOUT_S
# but faster than this one tells the exercise's timeout from the library's default.
HTTPX_DEFAULT_TIMEOUT_S = 5.0  # graders/tests/test_http_mock.py checks it against httpx


async def count(name, seconds, log):
    """Note "<name> 1", sleep `seconds` without blocking, note "<name> 2"; returns the name."""
    log.append(f"{name} 1")
    await asyncio.sleep(seconds)
    log.append(f"{name} 2")
    return name


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
