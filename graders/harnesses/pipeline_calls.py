"""Sandbox-side entry point of exercise 04's grader: the learner's ``run_pipeline`` on the mock server.

Called inside the sandbox with the learner's module first (see graders.sandbox.calls); returns plain data
for the grader (:class:`PipelineRun`): the learner's outcome, what the mock server saw, the read
timeout of every request, and whether the held-back archive was released because processing had
begun (process_archive handed to a process pool, or a traced call of it started: see _Processing).

Two things are read here because only the sandbox can see them:
- what the learner's call raised, as exception objects: an unpicklable task (a lambda, a local
  function) or a worker that died comes back from a ProcessPoolExecutor wrapped in whatever the
  learner's code raised around it (an ArchiveError "could not be read: Can't pickle..."), which the
  sandbox would report as an ordinary error. Found anywhere in the chain, it is reported as what it
  is (graders.sandbox.calls.UNPICKLABLE, BROKEN_POOL), with the advice that goes with it;
- the timeout each request was sent with (httpx puts it on the request), so "the exercise's
  TIMEOUT_S, not httpx's 5 s default" is read from what was sent, with no 5-second wait; and
  whether each client that sent requests was closed by the time the call returned.
"""
from __future__ import annotations

import functools
import inspect
import os
import pickle
from dataclasses import dataclass, field

import httpx

from graders.sandbox import learner, tracing
from graders.sandbox.calls import BROKEN_POOL, UNPICKLABLE, Outcome
from graders.harnesses.http_calls import ServedRun, serve_and_call
from graders.instruments.http_mock import Reply


@dataclass
class PipelineRun:
    served: ServedRun
    # The read timeout of each request, in the order they were sent (None: no timeout at all).
    timeouts: list = field(default_factory=list)
    # The held-back archive was answered because processing had begun (False: its latency ran out
    # first; None: nothing was held).
    released_by_processing: bool | None = None
    # httpx clients that sent requests and were still open when the call returned.
    clients_left_open: int = 0
    # For each request, in the order they ended: whether processing (a traced task) had begun by then.
    ended_after_processing: list = field(default_factory=list)

    @property
    def processing_before_last_download(self) -> bool:
        """Processing had begun when the last download to finish ended."""
        return bool(self.ended_after_processing) and bool(self.ended_after_processing[-1])


class _Processing:
    """Whether processing has begun: process_archive handed to a process pool, or a traced call started.

    A pipeline that hands each archive to the pool as it arrives counts from the hand-over, so the
    seconds spawn and forkserver workers take to start (importing pandas, more on a loaded machine)
    are not held against it; anything else (a worker function of the learner's own, threads, the
    calling process) counts once the grader has seen a traced call of process_archive start.
    """

    def __init__(self, module) -> None:
        self.module = module
        self.submitted = False
        self._begun = False
        self._real_submit = None

    def begun(self) -> bool:
        if not self._begun:
            self._begun = self.submitted or tracing.task_started()
        return self._begun

    def __enter__(self) -> "_Processing":
        from concurrent.futures import ProcessPoolExecutor

        watch, real_submit = self, ProcessPoolExecutor.submit
        self._real_submit = real_submit

        def submit(pool, fn, /, *args, **kwargs):
            if watch._is_task(fn):
                watch.submitted = True
            return real_submit(pool, fn, *args, **kwargs)

        ProcessPoolExecutor.submit = submit
        return self

    def __exit__(self, *exc_info) -> None:
        from concurrent.futures import ProcessPoolExecutor

        ProcessPoolExecutor.submit = self._real_submit

    def _is_task(self, fn) -> bool:
        while isinstance(fn, functools.partial):
            fn = fn.func
        return fn is getattr(self.module, "process_archive", None) or getattr(fn, "__name__", None) == "process_archive"


class _Held:
    """The ``ready`` of the held-back reply: true once processing has begun."""

    def __init__(self, processing: _Processing) -> None:
        self.processing = processing
        self.released = False

    def __call__(self) -> bool:
        if not self.released and self.processing.begun():
            self.released = True
        return self.released


def archive_replies(
    archives: list[tuple[str, bytes, float]], held: str | None = None, ready=None
) -> dict[str, Reply]:
    """Each archive served after its latency; ``held`` (a URL) earlier only once ``ready()`` is true."""
    return {url: Reply(data, latency=latency, ready=ready if url == held else None) for url, data, latency in archives}


def run_pipeline(module, archives: list[tuple[str, bytes, float]], processes: int, held: str | None = None) -> PipelineRun:
    """``run_pipeline(urls, processes)`` with each archive served after its own latency.

    The ``held`` archive is held back, up to its latency, until processing of another archive has
    begun: pipelines that process archives as they arrive are never kept waiting for it, while
    one that waits for every download (or for this one) before processing waits out the whole
    latency first.
    """
    processing = _Processing(module)
    ready = _Held(processing) if held is not None else None
    replies = archive_replies(archives, held, ready)
    raised: list[BaseException] = []
    sent = _RequestsSent(processing)
    original = getattr(module, "run_pipeline", None)
    if callable(original):
        setattr(module, "run_pipeline", _recording(original, raised))
    try:
        with processing, sent:
            served = serve_and_call(module, "run_pipeline", replies, (list(replies), processes))
    finally:
        if callable(original):
            setattr(module, "run_pipeline", original)
    if not served.outcome.ok and raised:
        served.outcome = _pool_outcome(raised[0], os.path.dirname(os.path.abspath(module.__file__))) or served.outcome
    return PipelineRun(
        served,
        sent.timeouts,
        ready.released if ready is not None else None,
        clients_left_open=sum(not client.is_closed for client in sent.clients),
        ended_after_processing=sent.ended_after_processing,
    )


def _recording(function, raised: list):
    """``function``, noting what it raises (the exception object itself) in ``raised``."""
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def recorded(*args, **kwargs):
            try:
                return await function(*args, **kwargs)
            except BaseException as exc:
                raised.append(exc)
                raise

        return recorded

    @functools.wraps(function)
    def recorded(*args, **kwargs):
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:
            raised.append(exc)
            raise
        return _awaited(result, raised) if inspect.isawaitable(result) else result

    return recorded


async def _awaited(awaitable, raised: list):
    try:
        return await awaitable
    except BaseException as exc:
        raised.append(exc)
        raise


class _RequestsSent:
    """While active, notes for every request either httpx client sends its read timeout, its client, and
    whether processing had begun when it ended."""

    def __init__(self, processing: _Processing) -> None:
        self.processing = processing
        self.timeouts: list = []
        self.clients: list = []  # kept alive until the end, so no two clients are ever confused
        self.ended_after_processing: list = []
        self._saved: list[tuple[type, object]] = []

    def __enter__(self) -> "_RequestsSent":
        notes, clients, ended = self.timeouts, self.clients, self.ended_after_processing
        processing = self.processing

        def note(client, request: httpx.Request) -> None:
            notes.append((request.extensions.get("timeout") or {}).get("read"))
            if not any(known is client for known in clients):
                clients.append(client)

        real_send, real_async_send = httpx.Client.send, httpx.AsyncClient.send

        def send(client, request, **kwargs):
            note(client, request)
            try:
                return real_send(client, request, **kwargs)
            finally:
                ended.append(processing.begun())

        async def async_send(client, request, **kwargs):
            note(client, request)
            try:
                return await real_async_send(client, request, **kwargs)
            finally:
                ended.append(processing.begun())

        self._saved = [(httpx.Client, real_send), (httpx.AsyncClient, real_async_send)]
        httpx.Client.send = send
        httpx.AsyncClient.send = async_send
        return self

    def __exit__(self, *exc_info) -> None:
        for owner, original in self._saved:
            owner.send = original


def _pool_outcome(exc: BaseException, folder: str) -> Outcome | None:
    """The outcome for a pool that could not take a task or lost a worker, wherever it is in ``exc``."""
    for inner in _everything_in(exc):
        if _is_pickling_error(inner):
            return Outcome(UNPICKLABLE, error=learner.one_line(inner), where=learner.where(inner, folder) or learner.where(exc, folder))
        if type(inner).__name__ == "BrokenProcessPool":
            return Outcome(BROKEN_POOL, error=learner.one_line(inner), where=learner.where(exc, folder))
    return None


def _everything_in(exc: BaseException) -> list[BaseException]:
    """``exc``, its causes and contexts, and what the exception groups among them hold."""
    found: list[BaseException] = []
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or any(current is seen for seen in found):
            continue
        found.append(current)
        pending += list(getattr(current, "exceptions", ()) or ())
        pending += [current.__cause__, current.__context__]
    return found


def _is_pickling_error(exc: BaseException) -> bool:
    if isinstance(exc, pickle.PicklingError):
        return True
    text = str(exc)
    return isinstance(exc, (AttributeError, TypeError)) and (
        "pickle" in text.lower() or "Can't get local object" in text
    )
