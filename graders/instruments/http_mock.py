"""A mock web server for graded downloads: respx routes that answer after a latency and keep count.

Each URL gets a :class:`Reply`: a body, a status, a latency, and optionally a connection that
drops part-way through the body. Every request is logged as an :class:`Exchange` (when it
started and ended, which thread made it, whether with the blocking client), and the server keeps
the number of requests in flight and its peak. Those counts come from the mock itself, so they are
exact whatever the machine's load: a grader reads concurrency from them rather than from a clock.

Both clients are served:
- ``httpx.AsyncClient``: the latency is an ``await asyncio.sleep``, so other requests proceed;
- ``httpx.Client`` (blocking): the latency is a real sleep, as a blocking client would wait. respx
  on its own calls an async side effect from the blocking path and fails with an empty
  ``AssertionError``; here ``httpx.Client.send`` marks its requests so they are answered in kind,
  and records where they were made so a grader can name the mistake.

The client's read timeout is honoured like a real server's: a reply slower than the timeout
raises ``httpx.ReadTimeout`` once the timeout has passed. URLs without a reply are refused by
respx (``assert_all_mocked``).

Each exchange also names the client object that sent it (a serial number per ``httpx.Client`` or
``httpx.AsyncClient`` instance, in the order they first sent), so a grader can tell one shared
client from a client per request. Requests of the async client are timed on the running loop's
clock (``loop.time()``, the monotonic clock on an ordinary loop): on a virtual-clock loop
(graders.instruments.virtual_clock) their latencies and timeouts are then exact whatever the machine's load.
"""
from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from dataclasses import dataclass
from typing import Callable

import httpx
import respx

from graders.instruments.frames import learner_location, loop_running_here, real_sleep


@dataclass(frozen=True)
class Reply:
    body: bytes = b""
    status: int = 200
    latency: float = 0.1
    # Send only this many bytes of the body, then fail as a dropped connection would.
    break_after: int | None = None
    # Answer as soon as this returns True (polled), instead of after the whole latency (async clients).
    ready: Callable[[], bool] | None = None


@dataclass
class Exchange:
    url: str
    start: float
    end: float | None = None
    status: int | None = None  # None when no response came (timeout, refused)
    blocking: bool = False  # made with the blocking httpx.Client
    loop_in_thread: bool = False  # an event loop was running in the requesting thread
    main_thread: bool = True
    where: str = ""  # where the learner's code made the request, for blocking requests
    client: int = 0  # which client object sent it: 1 for the first one seen, 2 for the next...; 0 unknown
    loop_clock: bool = False  # start and end are times of the running loop's clock (async requests)


_POLL_S = 0.01
# The serial number of the client whose send() is running in this context (task or thread).
_sender: contextvars.ContextVar[int] = contextvars.ContextVar("graders_http_sender", default=0)


class _DroppedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that stops part-way with a network error."""

    def __init__(self, head: bytes, url: str) -> None:
        self.head = head
        self.url = url

    def _error(self) -> httpx.ReadError:
        return httpx.ReadError(f"the connection dropped after {len(self.head)} bytes of {self.url}")

    def __iter__(self):
        yield self.head
        raise self._error()

    async def __aiter__(self):
        yield self.head
        raise self._error()


class MockServer:
    """``with MockServer(replies) as server:`` – httpx requests to those URLs are answered by the mock."""

    def __init__(self, replies: dict[str, Reply], learner_folder: str | None = None) -> None:
        self.replies = dict(replies)
        self.learner_folder = learner_folder
        self.exchanges: list[Exchange] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._router = respx.mock(assert_all_mocked=True, assert_all_called=False)
        self._real_send = None
        self._real_async_send = None
        self._clients: list[object] = []  # every client that sent a request, kept until the end

    @property
    def clients(self) -> int:
        """How many client objects sent requests."""
        return len(self._clients)

    def _serial(self, client) -> int:
        with self._lock:
            for number, known in enumerate(self._clients, start=1):
                if known is client:
                    return number
            self._clients.append(client)
            return len(self._clients)

    def __enter__(self) -> "MockServer":
        self._router.__enter__()
        for url, reply in self.replies.items():
            self._router.get(url).mock(side_effect=self._answerer(reply))
        self._real_send = httpx.Client.send
        self._real_async_send = httpx.AsyncClient.send
        server = self

        def send(client, request, **kwargs):
            server._local.blocking_where = learner_location(server.learner_folder)
            server._local.blocking = True
            token = _sender.set(server._serial(client))
            try:
                return server._real_send(client, request, **kwargs)
            finally:
                _sender.reset(token)
                server._local.blocking = False

        async def async_send(client, request, **kwargs):
            token = _sender.set(server._serial(client))
            try:
                return await server._real_async_send(client, request, **kwargs)
            finally:
                _sender.reset(token)

        httpx.Client.send = send
        httpx.AsyncClient.send = async_send
        return self

    def __exit__(self, *exc_info) -> None:
        httpx.Client.send = self._real_send
        httpx.AsyncClient.send = self._real_async_send
        self._router.__exit__(*exc_info)

    def _answerer(self, reply: Reply):
        def answer(request: httpx.Request):
            if getattr(self._local, "blocking", False):
                return self._answer_blocking(request, reply)
            return self._answer_async(request, reply)

        return answer

    def _begin(self, request: httpx.Request, blocking: bool, now: Callable[[], float] = time.monotonic) -> Exchange:
        exchange = Exchange(
            url=str(request.url),
            start=now(),
            blocking=blocking,
            loop_in_thread=loop_running_here(),
            main_thread=threading.current_thread() is threading.main_thread(),
            where=getattr(self._local, "blocking_where", "") if blocking else "",
            client=_sender.get(),
            loop_clock=now is not time.monotonic,
        )
        with self._lock:
            self.exchanges.append(exchange)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return exchange

    def _end(self, exchange: Exchange, status: int | None, now: Callable[[], float] = time.monotonic) -> None:
        with self._lock:
            self.in_flight -= 1
            exchange.end = now()
            exchange.status = status

    async def _answer_async(self, request: httpx.Request, reply: Reply) -> httpx.Response:
        now = asyncio.get_running_loop().time
        exchange = self._begin(request, blocking=False, now=now)
        status = None
        try:
            timeout = _read_timeout(request)
            wait = reply.latency if timeout is None else min(reply.latency, timeout)
            deadline = now() + wait
            ready = False
            while not ready and now() < deadline:
                await asyncio.sleep(min(_POLL_S if reply.ready else wait, max(deadline - now(), 0)))
                ready = bool(reply.ready and reply.ready())
            if not ready and wait < reply.latency:
                raise httpx.ReadTimeout(f"no answer within {timeout:g} s", request=request)
            status = reply.status
            return _response(request, reply)
        finally:
            self._end(exchange, status, now)

    def _answer_blocking(self, request: httpx.Request, reply: Reply) -> httpx.Response:
        exchange = self._begin(request, blocking=True)
        status = None
        try:
            timeout = _read_timeout(request)
            if timeout is not None and reply.latency > timeout:
                real_sleep(timeout)
                raise httpx.ReadTimeout(f"no answer within {timeout:g} s", request=request)
            real_sleep(reply.latency)
            status = reply.status
            return _response(request, reply)
        finally:
            self._end(exchange, status)


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    return timeout.get("read")


def _response(request: httpx.Request, reply: Reply) -> httpx.Response:
    if reply.break_after is None:
        return httpx.Response(reply.status, content=reply.body)
    return httpx.Response(
        reply.status,
        headers={"Content-Length": str(len(reply.body))},
        stream=_DroppedStream(reply.body[: reply.break_after], str(request.url)),
    )
