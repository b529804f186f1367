"""The offline guard: the real network is refused loudly, loopback and Unix sockets keep working."""
from __future__ import annotations

import asyncio
import socket
import urllib.request

import pytest

from graders.instruments.netguard import NetworkBlocked, offline

# TEST-NET-1 (RFC 5737): never routed, and the guard refuses it before any packet is sent anyway.
DOCUMENTATION_ADDRESS = ("192.0.2.1", 80)


def test_connections_to_other_hosts_are_refused_and_recorded():
    with offline() as guard, socket.socket() as sock:
        with pytest.raises(NetworkBlocked, match="192.0.2.1:80.*offline"):
            sock.connect(DOCUMENTATION_ADDRESS)
        with pytest.raises(NetworkBlocked):
            sock.connect_ex(DOCUMENTATION_ADDRESS)
    assert guard.attempts == ["connect to 192.0.2.1:80"] * 2


def test_the_refusal_is_not_an_oserror_so_download_code_cannot_swallow_it_as_a_failed_request():
    assert not issubclass(NetworkBlocked, OSError)


def test_dns_lookups_of_other_hosts_are_refused_but_local_names_resolve():
    with offline() as guard:
        with pytest.raises(NetworkBlocked, match="images.example.test"):
            socket.getaddrinfo("images.example.test", 443)
        assert socket.getaddrinfo("localhost", 80)
        assert socket.getaddrinfo("127.0.0.1", 80)
    assert guard.attempts == ["look up the address of 'images.example.test' (DNS)"]


def test_urllib_is_caught_even_though_no_mock_covers_it():
    with offline() as guard:
        with pytest.raises(NetworkBlocked):
            urllib.request.urlopen("http://images.example.test/photo.jpg", timeout=1)
    assert guard.attempts


def test_loopback_connections_still_work():
    with socket.create_server(("127.0.0.1", 0)) as server, offline() as guard:
        with socket.create_connection(server.getsockname()) as client:
            peer, _ = server.accept()
            with peer:
                client.sendall(b"ping")
                assert peer.recv(4) == b"ping"
    assert guard.attempts == []


def test_unix_sockets_and_the_asyncio_event_loop_still_work():
    async def main():
        await asyncio.sleep(0)
        return "ran"

    with offline() as guard:
        left, right = socket.socketpair(socket.AF_UNIX)
        with left, right:
            left.sendall(b"x")
            assert right.recv(1) == b"x"
        assert asyncio.run(main()) == "ran"
    assert guard.attempts == []


def test_everything_is_restored_afterwards():
    before = (socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto, socket.getaddrinfo)
    with offline():
        assert socket.getaddrinfo is not before[3]
    assert (socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto, socket.getaddrinfo) == before
