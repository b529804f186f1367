"""The mock web server: latency, in-flight counts, error replies, and both httpx clients."""
from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
import respx

from graders.http_mock import MockServer, Reply

URL = "https://images.example.test/gallery/photo-{}.jpg"
LATENCY = 0.05


def replies(count: int, **options) -> dict[str, Reply]:
    return {URL.format(i): Reply(f"image {i}".encode(), latency=LATENCY, **options) for i in range(count)}


async def fetch_all(urls, limit: int | None = None, timeout: float | None = 5.0):
    semaphore = asyncio.Semaphore(limit or len(urls))

    async def fetch(client, url):
        async with semaphore:
            try:
                response = await client.get(url)
                response.raise_for_status()
                return response.content
            except httpx.HTTPError as error:
                return error

    async with httpx.AsyncClient(timeout=timeout) as client:
        return await asyncio.gather(*(fetch(client, url) for url in urls))


@pytest.mark.parametrize("limit, peak", [(None, 6), (2, 2), (1, 1)])
def test_peak_in_flight_is_counted_exactly(limit, peak):
    with MockServer(replies(6)) as server:
        bodies = asyncio.run(fetch_all(list(server.replies), limit))
    assert bodies == [f"image {i}".encode() for i in range(6)]
    assert server.peak_in_flight == peak
    assert server.in_flight == 0


def test_each_exchange_is_logged_with_its_interval_and_lasts_at_least_the_latency():
    with MockServer(replies(3)) as server:
        asyncio.run(fetch_all(list(server.replies), limit=1))
    assert [e.url for e in server.exchanges] == list(server.replies)
    assert all(e.status == 200 and not e.blocking and e.loop_in_thread for e in server.exchanges)
    assert all(e.end - e.start >= LATENCY for e in server.exchanges)
    # One at a time: each request starts after the previous one ended.
    assert all(b.start >= a.end for a, b in zip(server.exchanges, server.exchanges[1:]))


def test_error_statuses_reach_the_client():
    served = {URL.format("missing"): Reply(b"", status=404), URL.format("broken"): Reply(b"", status=500)}
    with MockServer(served):
        errors = asyncio.run(fetch_all(list(served)))
    assert [e.response.status_code for e in errors] == [404, 500]


def test_a_server_slower_than_the_read_timeout_times_out_after_the_timeout():
    slow = URL.format("slow")
    with MockServer({slow: Reply(b"late", latency=30)}) as server:
        (error,) = asyncio.run(fetch_all([slow], timeout=0.1))
    assert isinstance(error, httpx.ReadTimeout)
    (exchange,) = server.exchanges
    assert exchange.status is None and 0.1 <= exchange.end - exchange.start < 30


def test_a_dropped_connection_delivers_part_of_the_body_then_a_read_error():
    url = URL.format("dropped")

    async def stream():
        received = b""
        async with httpx.AsyncClient() as client, client.stream("GET", url) as response:
            with pytest.raises(httpx.ReadError):
                async for chunk in response.aiter_bytes():
                    received += chunk
        return received

    with MockServer({url: Reply(b"0123456789", break_after=4)}):
        assert asyncio.run(stream()) == b"0123"


def test_urls_without_a_reply_are_refused():
    with MockServer(replies(1)):
        with pytest.raises(respx.models.AllMockedAssertionError):
            asyncio.run(fetch_all([URL.format("elsewhere")]))


def test_the_blocking_client_inside_async_code_is_served_and_marked_with_where_it_was_called():
    async def blocking_inside_async(urls):
        with httpx.Client() as client:
            return [client.get(url).content for url in urls]

    with MockServer(replies(2), learner_folder=__file__.rsplit("/", 1)[0]) as server:
        assert asyncio.run(blocking_inside_async(list(server.replies))) == [b"image 0", b"image 1"]
    assert all(e.blocking and e.loop_in_thread and e.main_thread for e in server.exchanges)
    assert all(e.where.startswith("test_http_mock.py, line ") for e in server.exchanges)
    assert server.peak_in_flight == 1


def test_blocking_requests_from_worker_threads_are_marked_as_such():
    results = []
    with MockServer(replies(3)) as server:
        threads = [threading.Thread(target=lambda u=url: results.append(httpx.get(u).content)) for url in server.replies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(results) == [b"image 0", b"image 1", b"image 2"]
    assert all(e.blocking and not e.loop_in_thread and not e.main_thread for e in server.exchanges)


def test_the_real_client_send_is_restored_afterwards():
    before = httpx.Client.send
    with MockServer(replies(1)):
        assert httpx.Client.send is not before
    assert httpx.Client.send is before


def test_a_reply_with_a_ready_condition_is_held_until_it_holds_and_no_longer():
    held = URL.format("held")
    released = threading.Event()

    async def release_soon_then_fetch():
        asyncio.get_running_loop().call_later(0.05, released.set)
        return await fetch_all([held])

    with MockServer({held: Reply(b"late", latency=30, ready=released.is_set)}) as server:
        assert asyncio.run(release_soon_then_fetch()) == [b"late"]
    (exchange,) = server.exchanges
    assert released.is_set() and exchange.status == 200 and exchange.end - exchange.start < 30
