"""Keeping graded code off the real network: only loopback and Unix sockets may be reached.

Graded downloads are served by a mock (graders.instruments.http_mock), so any real connection means the code
went around httpx (``urllib``, ``requests``, a raw socket) or around the URLs it was given. The
guard refuses such a connection with :class:`NetworkBlocked`, which is not an ``OSError`` on
purpose: an ``except OSError`` or ``except httpx.HTTPError`` in the learner's code must not turn
it into an ordinary failed download. Every attempt is also recorded, so the grader can report it
even when the learner's code swallowed the exception.

Unix sockets stay open because asyncio's event loop wakes itself up through a socket pair, and
multiprocessing's forkserver listens on one.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
from contextlib import contextmanager

from graders.instruments.patching import Patches

_LOCAL_NAMES = {None, "", "localhost", "localhost.localdomain", "ip6-localhost"}


class NetworkBlocked(RuntimeError):
    """Raised instead of reaching the real network from a graded run."""


class NetGuard(Patches):
    """While active, refuses DNS look-ups of other hosts and connections to non-loopback addresses."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._lock = threading.Lock()
        super().__init__()

    def __enter__(self) -> "NetGuard":
        guard = self
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_sendto = socket.socket.sendto
        real_getaddrinfo = socket.getaddrinfo

        def connect(sock, address):
            guard._check_address(sock, address, "connect to")
            return real_connect(sock, address)

        def connect_ex(sock, address):
            guard._check_address(sock, address, "connect to")
            return real_connect_ex(sock, address)

        def sendto(sock, data, *rest):
            guard._check_address(sock, rest[-1], "send a datagram to")
            return real_sendto(sock, data, *rest)

        def getaddrinfo(host, *args, **kwargs):
            name = host.decode() if isinstance(host, bytes) else host
            if name not in _LOCAL_NAMES and not _is_ip_literal(name):
                guard._refuse(f"look up the address of {name!r} (DNS)")
            return real_getaddrinfo(host, *args, **kwargs)

        self._replace(socket.socket, "connect", connect)
        self._replace(socket.socket, "connect_ex", connect_ex)
        self._replace(socket.socket, "sendto", sendto)
        self._replace(socket, "getaddrinfo", getaddrinfo)
        return self

    def _check_address(self, sock: socket.socket, address, action: str) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, bytes):
            host = host.decode()
        if host in _LOCAL_NAMES or (_is_ip_literal(host) and ipaddress.ip_address(host).is_loopback):
            return
        port = address[1] if isinstance(address, tuple) and len(address) > 1 else "?"
        self._refuse(f"{action} {host}:{port}")

    def _refuse(self, action: str) -> None:
        with self._lock:
            self.attempts.append(action)
        raise NetworkBlocked(
            f"blocked an attempt to {action}: graded runs are offline. Every download must go through "
            "httpx (which the grader serves itself), to the URLs you were given"
        )


def _is_ip_literal(host) -> bool:
    try:
        ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    return True


@contextmanager
def offline():
    """``with offline() as guard:`` – the real network is out of reach inside the block."""
    with NetGuard() as guard:
        yield guard
