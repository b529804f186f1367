"""A real HTTP server on 127.0.0.1 for graded downloads that happen in other processes.

respx (graders.instruments.http_mock) only answers requests made in the process that installed it. Exercise
05 downloads inside Dask workers and pool threads, so its archives are served by a small real
server instead: it listens on the loopback interface only, on a free port, answers each path after
a latency of its own, and logs every request. As with the mock, the counts come from the server
itself: how many requests were in flight at once is read from what happened, not from a clock.

Unknown paths get a 404. Any client works (httpx, urllib, requests), in any process on this
machine, which is the point; nothing here can reach, or be reached from, the real network.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Route:
    body: bytes = b""
    status: int = 200
    latency: float = 0.1


@dataclass
class Request:
    path: str
    start: float  # time.time(), comparable with Dask workers' task timings on this machine
    end: float | None = None
    status: int | None = None


@dataclass
class _State:
    routes: dict[str, Route]
    requests: list[Request] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    state: _State  # set on a subclass per server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server looks for
        state = self.state
        path = self.path.split("?", 1)[0]
        request = Request(path, time.time())
        route = state.routes.get(path, Route(b"not found", 404, 0.0))
        with state.lock:
            state.requests.append(request)
            state.in_flight += 1
            state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
        try:
            time.sleep(route.latency)
            self.send_response(route.status)
            self.send_header("Content-Type", "application/zip" if route.status == 200 else "text/plain")
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)
            request.status = route.status
        finally:
            request.end = time.time()
            with state.lock:
                state.in_flight -= 1

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
        """Silent: the sandbox's output is no place for an access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A client that gives up half-way (a learner's timeout, a killed worker) is not an error here.
    def handle_error(self, request, client_address) -> None:
        pass


class ArchiveServer:
    """``with ArchiveServer({"/a.zip": Route(data, latency=0.2)}) as server: server.url("/a.zip")``."""

    def __init__(self, routes: dict[str, Route]) -> None:
        for path in routes:
            if not path.startswith("/"):
                raise ValueError(f"route paths start with '/': {path!r}")
        self._state = _State(dict(routes))
        handler = type("Handler", (_Handler,), {"state": self._state})
        self._server = _Server((HOST, 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="archive-server", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.address + path

    @property
    def requests(self) -> list[Request]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def peak_in_flight(self) -> int:
        return self._state.peak_in_flight

    def __enter__(self) -> "ArchiveServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
