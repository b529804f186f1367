"""The mock web server: latency, in-flight counts, error replies, and both httpx clients."""
from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
import respx

from graders.instruments.http_mock import MockServer, Reply

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


def test_each_exchange_names_the_client_object_that_sent_it():
    async def shared(urls):
        async with httpx.AsyncClient() as client:
            await asyncio.gather(*(client.get(url) for url in urls))

    async def one_each(urls):
        async def get(url):
            async with httpx.AsyncClient() as client:
                await client.get(url)

        await asyncio.gather(*(get(url) for url in urls))

    with MockServer(replies(3)) as server:
        asyncio.run(shared(list(server.replies)))
    assert [e.client for e in server.exchanges] == [1, 1, 1] and server.clients == 1
    with MockServer(replies(3)) as server:
        asyncio.run(one_each(list(server.replies)))
    assert sorted(e.client for e in server.exchanges) == [1, 2, 3] and server.clients == 3
    assert httpx.AsyncClient.send.__qualname__ == "AsyncClient.send"  # the real one, restored


def test_the_grader_knows_httpx_default_timeout():
    from graders.given import ex03

    assert httpx.AsyncClient().timeout.read == ex03.HTTPX_DEFAULT_TIMEOUT_S > ex03.TIMEOUT_S


def test_on_a_virtual_clock_latencies_and_timeouts_are_exact_loop_times():
    from graders.instruments import virtual_clock

    served = {URL.format(i): Reply(b"x", latency=latency) for i, latency in enumerate([0.3, 0.7, 0.2, 9.0])}
    with MockServer(served) as server, virtual_clock.virtual_loops():
        results = asyncio.run(fetch_all(list(served), limit=2, timeout=1.0))
    assert isinstance(results[3], httpx.ReadTimeout)
    spans = {e.url: (e.start, e.end) for e in server.exchanges}
    assert all(e.loop_clock for e in server.exchanges)
    # Two slots: 0.3 and 0.7 start at 0; 0.2 takes the first free slot at 0.3; the slow one at 0.5, timed out at 1.5.
    expected = [(0.0, 0.3), (0.0, 0.7), (0.3, 0.5), (0.5, 1.5)]
    assert [spans[URL.format(i)] == pytest.approx(span, abs=1e-9) for i, span in enumerate(expected)] == [True] * 4
