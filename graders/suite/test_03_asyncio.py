"""Grader for 03_asyncio: coroutines that wait together, and concurrent downloads on mocked HTTP.

Nothing here reads a wall clock. The warm-up and the main download runs are on a virtual clock
(graders.instruments.virtual_clock): sleeps and the mock server's delays take no real time, and the loop times
they took are exact, so "the longest sleep, not the sum" and "`limit` requests kept in flight" are
decided exactly, whatever the machine's load. The downloads are served by graders.instruments.http_mock inside
the sandbox with the real network out of reach; the mock's own counts decide concurrency (requests
in flight, which client sent each one).

Inputs mix fixed edges with seeded random values, so that a wrong rule fails on every seed: every
delay differs from the others and no list of delays is sorted either way (finishing order is never
the input order; batches of `limit` never look like a semaphore), the URL counts do not divide by
the limits, and one server answers later than TIMEOUT_S but sooner than httpx's default timeout.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import pytest

from graders.grading.async_feedback import nested_loop_problem, served_value
from graders.sandbox.calls import Call
from graders.grading.feedback import fail, mismatch, show, value_of
from graders.given import ex03
from graders.harnesses.http_calls import ServedRun
from graders.instruments.http_mock import Exchange, Reply
from graders.instruments.netguard import offline
from graders.grading.specification import README, Requirement
from graders.grading.target import GradedTarget
from graders.harnesses.asyncio_calls import count_together_clocked
from graders.harnesses.http_calls import download_into_folder
from fixtures.images import image_bytes, image_url

WARMUP = "warmup"
DOWNLOADS = "downloads"
RUN_TIMEOUT_S = 20.0
# A server that never answers in time, whatever the timeout (the exercise's or httpx's default).
NEVER_ANSWERS_S = 30.0
# A server that answers after the exercise's TIMEOUT_S but before httpx's default timeout.
LATE_S = (ex03.TIMEOUT_S + ex03.HTTPX_DEFAULT_TIMEOUT_S) / 2
# A server slow, but in time: a timeout shorter than TIMEOUT_S gives up on it.
SLOW_IN_TIME_S = 0.8 * ex03.TIMEOUT_S
# Loop-time slack for float sums on the virtual clock (it is otherwise exact).
CLOCK_SLACK_S = 1e-6


SPECIFICATION = (
    Requirement(
        "warmup.py:count_together",
        "The same names, in the same order",
        ("warmup_results",),
        "sleeps of distinct lengths, never sorted (a fixed middle-longest-shortest pattern plus seeded "
        "random ones): the finishing order is never the order of sleeps",
    ),
    Requirement(
        README,
        "return the names in the order of sleeps, whatever order the sleeps end in",
        ("warmup_results",),
        "as above: names returned in finishing order fail on every seed",
    ),
    Requirement(
        "warmup.py:count_together",
        "all the counts run at once: as long as the longest sleep",
        ("warmup_together",),
        "5 counts on a virtual clock: the loop time must be exactly the longest sleep, not the sum",
    ),
    Requirement(
        README,
        "It should take as long as the longest sleep, not the sum",
        ("warmup_together",),
        "the loop time equals the sum exactly for counts awaited one after another",
    ),
    Requirement(
        "warmup.py",
        'Started together, they take as long as the longest sleep and all the "1"s come before any "2": '
        "while one coroutine sleeps, the event loop runs the others.",
        ("warmup_together",),
        "the log is read in order: every count's \"1\" must come before the first \"2\"; one count per name",
    ),
    Requirement(
        "warmup.py",
        "Awaited one after another, three of them take the sum of their sleeps and their notes come in pairs",
        ("warmup_together",),
        "the sum of the sleeps is named when the loop time equals it",
    ),
    Requirement(
        "warmup.py:count",
        'Note "<name> 1", sleep `seconds` without blocking, note "<name> 2"; returns the name.',
        ("warmup_together",),
        "the grader's own copy of count (graders/given/ex03.py) is the module's count for the graded call; "
        "real time is measured too: a blocking sleep in count_together shows",
    ),
    Requirement(
        "warmup.py:count_one_by_one",
        "The sequential version: each count is awaited before the next starts.",
        ("warmup_together",),
        "what the loop time of a sequential count_together is compared with (the sum of the sleeps)",
    ),
    Requirement(
        "warmup.py",
        "In a notebook cell, where an event loop is already running, write `await count_together(...)` "
        "instead of asyncio.run(...).",
        ("warmup_results", "warmup_together"),
        "count_together is awaited from inside a running loop; asyncio.run there is named",
    ),
    Requirement(
        "downloads.py:image_name",
        "The file name an image is saved under: the last part of its URL.",
        ("downloads_files",),
        "URLs with suffixes after the number (photo-093-dropped.jpg); names from the grader's own image_name",
    ),
    Requirement(
        "downloads.py",
        "Both versions save each image in `folder` under the last part of its URL",
        ("downloads_files", "downloads_in_notebook"),
        "every byte of every file is compared (size and SHA-256) with what was served; extra files are named",
    ),
    Requirement(
        "downloads.py:download_all",
        "The same files and failures as download_all_blocking",
        ("downloads_files", "downloads_errors"),
        "11 good URLs (files, and {} returned); 12 URLs of which 5 fail in every way the blocking version "
        "reports (expected reasons from the grader's own describe_failure)",
    ),
    Requirement(
        "downloads.py:download_all_blocking",
        "The serial version: one request at a time with the blocking client. Returns {url: reason} of failures.",
        ("downloads_errors", "downloads_concurrent"),
        "its failures are the expected ones; one request at a time is what the concurrent check fails",
    ),
    Requirement(
        "downloads.py",
        "return a dict {url: reason} of the URLs that failed (an HTTP error status, no answer within "
        "TIMEOUT_S, a dropped connection)",
        ("downloads_errors",),
        "404 and 500; a server that never answers; one that answers after TIMEOUT_S but before httpx's "
        "default timeout (5 s); one slow but within TIMEOUT_S (must succeed); a body cut off part-way",
    ),
    Requirement(
        "downloads.py:describe_failure",
        "Why a download failed, as reported in the returned dict.",
        ("downloads_errors",),
        "the expected reasons are the grader's own describe_failure of each failure",
    ),
    Requirement(
        README,
        "A server that has not answered within TIMEOUT_S is a failure (\"timed out\"), even if httpx on its "
        "own would wait longer.",
        ("downloads_errors",),
        "a server answering after (TIMEOUT_S + 5 s) / 2: saved only by a client on httpx's default timeout",
    ),
    Requirement(
        "downloads.py",
        "A failed URL must not stop the other downloads, and must leave no file behind, not even an empty "
        "or half-written one.",
        ("downloads_errors",),
        "failing URLs at seeded places among good ones; an exception group from a TaskGroup is judged by "
        "the exceptions it holds; a connection dropped after a third of the body",
    ),
    Requirement(
        "downloads.py",
        "the requests wait together, at most `limit` at a time",
        ("downloads_concurrent", "downloads_limit"),
        "limit=3 with 11 URLs and limit=5 with 12 URLs (neither divides): the peak in flight must be the "
        "limit passed, never above it",
    ),
    Requirement(
        README,
        "at most `limit` requests in flight (`asyncio.Semaphore`)",
        ("downloads_limit",),
        "as above: a hard-coded limit fails one of the two runs",
    ),
    Requirement(
        "downloads.py:download_all",
        "with up to `limit` requests in flight at once",
        ("downloads_limit",),
        "as above",
    ),
    Requirement(
        "downloads.py:download_all",
        "All the requests of a call go through one shared httpx.AsyncClient(timeout=TIMEOUT_S).",
        ("downloads_one_client", "downloads_errors"),
        "the mock counts the client objects that sent the 11 requests; the late server catches a client "
        "without the exercise's timeout",
    ),
    Requirement(
        README,
        "one `httpx.AsyncClient(timeout=TIMEOUT_S)` shared by all the requests of a call",
        ("downloads_one_client",),
        "as above",
    ),
    Requirement(
        "downloads.py:download_all",
        "As soon as one request ends, the next waiting URL's request starts: `limit` requests stay in flight "
        "as long as URLs are waiting",
        ("downloads_fast",),
        "11 distinct delays, never sorted, on the virtual clock: any time with fewer than the limit in flight "
        "while URLs wait is counted exactly; batches of `limit` leave slots idle on every seed",
    ),
    Requirement(
        README,
        "as soon as one request ends, the next waiting URL's request starts, so `limit` requests stay in "
        "flight for as long as URLs are waiting, and never more than `limit`.",
        ("downloads_fast", "downloads_limit"),
        "as above",
    ),
    Requirement(
        "downloads.py",
        "each file is written without blocking the event loop (aiofiles)",
        ("downloads_nonblocking",),
        "open() for writing, time.sleep and the blocking httpx.Client on the loop's thread are each named",
    ),
    Requirement(
        README,
        "files written with `aiofiles`",
        ("downloads_nonblocking",),
        "as above",
    ),
    Requirement(
        "downloads.py",
        "Write `download_all`, its asyncio version",
        ("downloads_nonblocking", "downloads_concurrent"),
        "blocking requests, on the loop or in a pool of threads, are named",
    ),
    Requirement(
        "downloads.py",
        "in a notebook cell, where an event loop is already running, write `await download_all(...)`.",
        ("downloads_in_notebook",),
        "5 URLs, limit=2, awaited from inside a running loop beside other work of the 'kernel'",
    ),
    Requirement(
        README,
        "It must also work when awaited from a notebook cell, where an event loop is already running (so "
        "no `asyncio.run` inside it).",
        ("downloads_in_notebook",),
        "as above; asyncio.run inside it is named with its line",
    ),
)


@pytest.fixture(autouse=True)
def _offline():
    """The grading process has no business with the network either."""
    with offline():
        yield


def _not_monotonic(values: list[float]) -> bool:
    pairs = list(zip(values, values[1:]))
    return any(a < b for a, b in pairs) and any(a > b for a, b in pairs)


# --- the warm-up ------------------------------------------------------------------------------

# Middle, longest, shortest: with these three in this order, no list of sleeps is sorted.
WARMUP_PATTERN = (1.5, 4.0, 0.5)
WARMUP_OTHERS = (1.0, 2.0, 2.5, 3.0, 3.5)


def warmup_sleeps(target: GradedTarget) -> dict[str, float]:
    rng = target.rng("warmup")
    seconds = list(WARMUP_PATTERN)
    for extra in rng.sample(WARMUP_OTHERS, 2):
        seconds.insert(rng.randrange(len(seconds) + 1), extra)
    names = rng.sample("abcdefgh", len(seconds))
    return dict(zip(names, seconds))


def warmup_run(target: GradedTarget):
    sleeps = warmup_sleeps(target)
    call = Call(count_together_clocked, (sleeps,), label=f"count_together({sleeps}, log)")
    return call, target.once("warmup", lambda: target.run(WARMUP, [call], timeout=RUN_TIMEOUT_S).outcomes[0])


def warmup_value(target: GradedTarget):
    call, outcome = warmup_run(target)
    run = value_of(outcome, "count_together(...)", WARMUP)  # the grader's own helper ran: its value is the run
    problem = nested_loop_problem(call.describe(), run.asyncio_run_misuse, run.outcome.error)
    if problem:
        fail(problem, cause="nested_loop")
    return call, run, value_of(run.outcome, call.describe(), WARMUP)


@pytest.mark.points(1)
def test_warmup_results(target):
    call, run, value = warmup_value(target)
    sleeps = warmup_sleeps(target)
    expected = list(sleeps)
    if value == expected:
        return
    if value == sorted(sleeps, key=sleeps.get):
        fail(
            mismatch(call.describe(), value, expected, "the names in the order their sleeps ended, not in the order of sleeps"),
            cause="finishing_order",
        )
    fail(mismatch(call.describe(), value, expected, "the names, in the order of sleeps"), cause="wrong_names")


@pytest.mark.points(2)
def test_warmup_together(target):
    call, run, _ = warmup_value(target)
    sleeps = warmup_sleeps(target)
    longest, total = max(sleeps.values()), sum(sleeps.values())
    entries = [str(entry) for entry, _ in run.log]
    if sorted(entries) != sorted(f"{name} {step}" for name in sleeps for step in (1, 2)):
        fail(
            f"called {call.describe()}: the log holds {show(entries)}, expected one count(name, seconds, log) "
            "per entry of sleeps, each awaited once",
            cause="counts_missing",
        )
    if math.isclose(run.loop_seconds, total) and not math.isclose(total, longest):
        fail(
            f"called {call.describe()}: the counts ran one after another, taking {total:g} s (the sum of "
            f"the sleeps) instead of {longest:g} s (the longest): start them all, then wait for them all",
            cause="one_after_another",
        )
    if not math.isclose(run.loop_seconds, longest, abs_tol=CLOCK_SLACK_S):
        fail(
            f"called {call.describe()}: it took {run.loop_seconds:g} s of event-loop time, expected "
            f"{longest:g} s (the longest sleep): every count must be awaited on this event loop, together",
            cause="not_together",
        )
    first_two = next(i for i, entry in enumerate(entries) if entry.endswith(" 2"))
    if first_two < len(sleeps):
        fail(
            f"called {call.describe()}: the log reads {entries}: some count finished before all had "
            "started, so they did not all wait together",
            cause="started_late",
        )
    if run.real_seconds > max(1.0, longest / 2):
        fail(
            f"called {call.describe()}: {run.real_seconds:.2f} s of real time passed although the sleeps "
            "were on the event loop's clock: something blocked, e.g. time.sleep instead of await asyncio.sleep",
            cause="blocking_sleep",
        )
    target.record(f"{call.describe()}: {run.loop_seconds:g} s of loop time, log {entries}")


# --- the downloads ----------------------------------------------------------------------------

# Delays of the main run: a middle, a long and a short one first (no list is sorted then), the
# others distinct and seeded; all well within TIMEOUT_S.
MAIN_PATTERN = (0.3, 0.45, 0.1)
MAIN_GRID = tuple(round(0.1 + 0.025 * k, 3) for k in range(15))  # 0.1 .. 0.45


@dataclass(frozen=True)
class Spec:
    count: int
    limit: int


class Downloads:
    """The graded download runs: what is served, and what each check expects of the result."""

    MAIN = Spec(count=11, limit=3)  # 11 divides by neither limit
    ERRORS_LIMIT = 5  # 12 URLs in that run
    NOTEBOOK = Spec(count=5, limit=2)

    def __init__(self, target: GradedTarget):
        self.target = target
        self.seed = target.settings.seed

    def _image(self, index: int, rng) -> bytes:
        return image_bytes(self.seed, index, rng.randrange(20_000, 80_000))

    def main_latencies(self) -> list[float]:
        rng = self.target.rng("main-latencies")
        others = [value for value in MAIN_GRID if value not in MAIN_PATTERN]
        return list(MAIN_PATTERN) + rng.sample(others, self.MAIN.count - len(MAIN_PATTERN))

    def main_replies(self) -> dict[str, Reply]:
        sizes = self.target.rng("sizes-main")
        return {image_url(i): Reply(self._image(i, sizes), latency=latency) for i, latency in enumerate(self.main_latencies())}

    def failing(self) -> dict[str, tuple[Reply, str]]:
        """The URLs of the errors run that must fail, with the reason the grader's describe_failure gives."""
        body = image_bytes(self.seed, 99, 40_000)
        return {
            image_url(90, "-missing"): (Reply(b"not found", status=404, latency=0.1), "HTTP 404"),
            image_url(91, "-broken"): (Reply(b"server error", status=500, latency=0.15), "HTTP 500"),
            image_url(92, "-silent"): (Reply(body, latency=NEVER_ANSWERS_S), "timed out"),
            image_url(93, "-dropped"): (Reply(body, latency=0.1, break_after=len(body) // 3), "network error"),
            image_url(94, "-late"): (Reply(body, latency=LATE_S), "timed out"),
        }

    def errors_replies(self) -> dict[str, Reply]:
        rng = self.target.rng("errors")
        sizes = self.target.rng("sizes-errors")
        good = [(image_url(20 + i), Reply(self._image(20 + i, sizes), latency=latency))
                for i, latency in enumerate(rng.sample(MAIN_GRID, 6))]
        good.append((image_url(26, "-slow"), Reply(self._image(26, sizes), latency=SLOW_IN_TIME_S)))
        items = good + [(url, reply) for url, (reply, _) in self.failing().items()]
        rng.shuffle(items)
        return dict(items)

    def notebook_replies(self) -> dict[str, Reply]:
        rng = self.target.rng("notebook")
        sizes = self.target.rng("sizes-notebook")
        latencies = [0.1, 0.25, 0.05] + rng.sample([0.15, 0.2, 0.3], 2)
        return {image_url(40 + i): Reply(self._image(40 + i, sizes), latency=latency) for i, latency in enumerate(latencies)}

    def run(self, name: str, replies: dict[str, Reply], limit: int, style: str = "script", clock: str = "virtual"):
        label = f"download_all({len(replies)} URLs, folder, limit={limit})"
        call = Call(download_into_folder, (replies, limit, style, clock), label=label)
        outcome = self.target.once(
            ("downloads", name),
            lambda: self.target.run(DOWNLOADS, [call], timeout=RUN_TIMEOUT_S).outcomes[0],
        )
        served: ServedRun = value_of(outcome, "download_all(...)", DOWNLOADS)
        return label, served, replies

    def main(self):
        return self.run("main", self.main_replies(), self.MAIN.limit)

    def errors(self):
        return self.run("errors", self.errors_replies(), self.ERRORS_LIMIT)

    def notebook(self):
        return self.run("notebook", self.notebook_replies(), self.NOTEBOOK.limit, style="notebook", clock="real")


def file_problems(served: ServedRun, replies: dict[str, Reply], failed: set[str]) -> list[tuple[str, str]]:
    """What is wrong with the files a run left, as (cause, sentence), compared with what was served."""
    problems = []
    files = dict(served.files)
    for url, reply in replies.items():
        name = ex03.image_name(url)
        found = files.pop(name, None)
        if url in failed:
            if found is not None:
                kind = "an empty" if found[0] == 0 else "a partial" if found[0] < len(reply.body) else "a"
                problems.append((
                    "file_of_failed_url",
                    f"{kind} file {name} ({found[0]} bytes) was left behind for {url}, which failed: write a "
                    "file only once its whole body has arrived, and never for a failed download",
                ))
        elif found is None:
            problems.append(("missing_file", f"{name} was not saved (from {url})"))
        elif found != (len(reply.body), hashlib.sha256(reply.body).hexdigest()):
            problems.append((
                "wrong_bytes", f"{name} holds {found[0]} bytes that differ from the {len(reply.body)} bytes served at {url}"
            ))
    problems += [("unexpected_file", f"an unexpected file {name} was written") for name in files]
    return problems


def require_files(label: str, served: ServedRun, replies: dict[str, Reply], failed: set[str] = frozenset()) -> None:
    problems = file_problems(served, replies, failed)
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        cause, sentence = problems[0]
        fail(f"called {label}: {sentence}{more}", cause=cause)


def loop_exchanges(served: ServedRun) -> list[Exchange]:
    """The requests the event loop waited for (httpx.AsyncClient), timed on its clock."""
    return [e for e in served.exchanges if e.loop_clock and not e.blocking and e.end is not None]


def idle_slots(exchanges: list[Exchange], slots: int, total: int) -> tuple[float, tuple[float, float, int] | None]:
    """Loop time x slots left idle while URLs were still waiting to be requested.

    Between the first and the last request's start, at each moment ``min(slots, in flight + waiting)``
    requests should be in flight. Returns the idle slot-seconds and the first idle stretch
    (from, to, requests in flight then).
    """
    if not exchanges:
        return 0.0, None
    times = sorted({t for e in exchanges for t in (e.start, e.end)})
    last_start = max(e.start for e in exchanges)
    idle, first = 0.0, None
    for begin, end in zip(times, times[1:]):
        if begin >= last_start:
            break
        in_flight = sum(1 for e in exchanges if e.start <= begin < e.end)
        waiting = total - sum(1 for e in exchanges if e.start <= begin)
        missing = min(slots, in_flight + waiting) - in_flight
        if missing > 0 and end - begin > CLOCK_SLACK_S:
            idle += missing * (end - begin)
            first = first or (begin, end, in_flight)
    return idle, first


def ideal_seconds(latencies: list[float], limit: int) -> float:
    """How long `limit` slots, each taking the next URL as soon as it is free, take for these delays."""
    slots = [0.0] * limit
    for latency in latencies:
        slots.sort()
        slots[0] += latency
    return max(slots)


def batches_seconds(latencies: list[float], limit: int) -> float:
    return sum(max(latencies[i:i + limit]) for i in range(0, len(latencies), limit))


@pytest.mark.points(1)
def test_downloads_files(target):
    label, served, replies = Downloads(target).main()
    failures = served_value(served, label, DOWNLOADS)
    if not isinstance(failures, dict):
        fail(mismatch(label, failures, {}, "a dict {url: reason}, empty when nothing failed"), cause="not_a_dict")
    if failures != {}:
        fail(mismatch(label, failures, {}, "every URL answered in time: nothing failed"), cause="reported_failures")
    require_files(label, served, replies)


@pytest.mark.points(2)
def test_downloads_concurrent(target):
    label, served, _ = Downloads(target).main()
    served_value(served, label, DOWNLOADS)
    if served.peak_in_flight < 2:
        if served.blocking_requests:
            fail(
                f"called {label}: the downloads ran one at a time: never more than one request was in flight; "
                "the blocking httpx.Client holds up the event loop until each answer comes, so gathered "
                "coroutines still take turns: use httpx.AsyncClient",
                cause="blocking_client",
            )
        fail(
            f"called {label}: the downloads ran one at a time: never more than one request was in flight; "
            "start them all as tasks (asyncio.gather, a TaskGroup) instead of awaiting each in turn",
            cause="one_at_a_time",
        )
    target.record(f"{label}: at most {served.peak_in_flight} requests in flight")


@pytest.mark.points(1)
def test_downloads_limit(target):
    downloads = Downloads(target)
    for (label, served, replies), limit, whole in (
        (downloads.main(), Downloads.MAIN.limit, True),
        (downloads.errors(), Downloads.ERRORS_LIMIT, False),
    ):
        if whole:
            served_value(served, label, DOWNLOADS)
        if served.peak_in_flight > limit:
            fail(
                f"called {label}: up to {served.peak_in_flight} requests were in flight at once, above the "
                f"limit of {limit}: hold one asyncio.Semaphore(limit), made once per call, around each request",
                cause="above_limit",
            )
        # The errors run is judged on its peak only when it ran to the end (downloads_errors charges a stop).
        if (whole or served.outcome.ok) and served.peak_in_flight < min(limit, len(replies)):
            fail(
                f"called {label}: never more than {served.peak_in_flight} request(s) in flight at once, though "
                f"limit={limit} allows {limit}: use the limit argument itself",
                cause="below_limit",
            )


@pytest.mark.points(1)
def test_downloads_one_client(target):
    label, served, _ = Downloads(target).main()
    served_value(served, label, DOWNLOADS)
    clients = {e.client for e in served.exchanges if not e.blocking}
    if not clients:
        fail(f"called {label}: no request was made with httpx.AsyncClient", cause="no_async_client")
    if len(clients) > 1:
        fail(
            f"called {label}: {len(clients)} different httpx.AsyncClient objects sent its "
            f"{len(served.exchanges)} requests; create one client per call and share it with every task",
            cause="client_per_request",
        )
    target.record(f"{label}: one httpx.AsyncClient sent all {len(served.exchanges)} requests")


@pytest.mark.points(1)
def test_downloads_fast(target):
    downloads = Downloads(target)
    spec = Downloads.MAIN
    label, served, _ = downloads.main()
    served_value(served, label, DOWNLOADS)
    latencies = downloads.main_latencies()
    ideal, batched, serial = ideal_seconds(latencies, spec.limit), batches_seconds(latencies, spec.limit), sum(latencies)
    timed = loop_exchanges(served)
    if not timed:
        fail(
            f"called {label}: none of its requests was made with httpx.AsyncClient, so the event loop waited for "
            "none of them: there is nothing of asyncio to time",
            cause="no_async_client",
        )
    took = max(e.end for e in timed) - min(e.start for e in timed)
    figures = (
        f"the server's delays took {took:.2f} s of loop time; {spec.limit} at a time, each slot taking the next "
        f"URL at once, takes {ideal:.2f} s; batches of {spec.limit} take {batched:.2f} s; one at a time {serial:.2f} s"
    )
    target.record(f"{label}: {figures}")
    if served.peak_in_flight < 2:
        fail(f"called {label}: one request at a time: {figures}", cause="one_at_a_time")
    slots = min(spec.limit, served.peak_in_flight)
    idle, first = idle_slots(timed, slots, spec.count)
    if idle > CLOCK_SLACK_S * len(timed):
        begin, end, in_flight = first
        fail(
            f"called {label}: {figures}. While URLs were still waiting, only {in_flight} request(s) were in "
            f"flight from {begin:.2f} s to {end:.2f} s (slots idle for {idle:.2f} s in all): a new request must "
            "start as soon as one ends, not when a whole batch has ended",
            cause="idle_slots",
        )


@pytest.mark.points(2)
def test_downloads_errors(target):
    downloads = Downloads(target)
    label, served, replies = downloads.errors()
    stopped = [e for e in served.errors if e.http_error or e.timeout]
    if not served.outcome.ok and stopped:
        inside = "an exception group (from a TaskGroup) holding " if served.group else ""
        fail(
            f"called {label}: it stopped with {inside}{stopped[0].describe()}. A failing URL must not stop the "
            "others: catch httpx.HTTPError inside each download's own task and record describe_failure(error) "
            "for its URL",
            cause="failing_url_stops",
        )
    failures = served_value(served, label, DOWNLOADS)
    expected = {url: reason for url, (_, reason) in downloads.failing().items()}
    if not isinstance(failures, dict):
        fail(mismatch(label, failures, expected, "a dict {url: reason}"), cause="not_a_dict")
    late = next(url for url in expected if url.endswith("-late.jpg"))
    slow = next(url for url in replies if url.endswith("-slow.jpg"))
    if late not in failures and all(failures.get(u) == r for u, r in expected.items() if u != late):
        fail(
            f"called {label}: {late} answered after {LATE_S:g} s, later than TIMEOUT_S = {ex03.TIMEOUT_S:g} s, "
            "yet it did not fail: the client waited longer than the exercise's timeout (httpx's own default is "
            f"{ex03.HTTPX_DEFAULT_TIMEOUT_S:g} s); create it with httpx.AsyncClient(timeout=TIMEOUT_S)",
            cause="library_default_timeout",
        )
    if slow in failures:
        fail(
            f"called {label}: {slow} answered after {SLOW_IN_TIME_S:g} s, within TIMEOUT_S = "
            f"{ex03.TIMEOUT_S:g} s, but was reported as {failures[slow]!r}: give up only after TIMEOUT_S",
            cause="timeout_too_short",
        )
    if failures != expected:
        fail(mismatch(label, failures, expected, "{url: describe_failure(error)} for each URL that failed"), cause="wrong_reasons")
    require_files(label, served, replies, failed=set(expected))


@pytest.mark.points(2)
def test_downloads_nonblocking(target):
    label, served, _ = Downloads(target).main()
    served_value(served, label, DOWNLOADS)
    problems = []
    requests = served.blocking_requests
    in_loop = [e for e in requests if e.loop_in_thread]
    in_threads = {e.where or "?" for e in requests if not e.loop_in_thread and not e.main_thread}
    if in_loop:
        problems.append((
            "blocking_client",
            f"the blocking httpx.Client was used inside async code ({in_loop[0].where or 'your code'}): each "
            "request held up the whole event loop until its answer came. Use httpx.AsyncClient and await "
            "its requests",
        ))
    if in_threads:
        threads = sum(1 for e in requests if not e.main_thread)
        problems.append((
            "thread_pool",
            f"the requests ran as blocking httpx.Client calls in a thread pool ({threads} requests from "
            f"worker threads, {', '.join(sorted(in_threads))}). Threads can wait together, but this "
            "exercise is about the event loop doing the waiting: use httpx.AsyncClient",
        ))
    if requests and not in_loop and not in_threads:
        problems.append((
            "blocking_client",
            f"the blocking httpx.Client was used ({requests[0].where or 'your code'}): download_all must be "
            "an async def using httpx.AsyncClient",
        ))
    for kind, cause, advice in (
        ("sleep", "blocking_sleep", "it stops the whole event loop: use await asyncio.sleep(...)"),
        ("open", "blocking_open", "a blocking file write holds up the event loop: use aiofiles.open"),
    ):
        found = [c for c in served.blocking if c.kind == kind]
        if found:
            problems.append((cause, f"{found[0].detail} was called inside async code ({found[0].where or 'your code'}): {advice}"))
    if problems:
        fail(f"called {label}: " + "; ".join(sentence for _, sentence in problems), cause=problems[0][0])


@pytest.mark.points(1)
def test_downloads_in_notebook(target):
    label, served, replies = Downloads(target).notebook()
    label = f"await {label} from a notebook cell (inside a running event loop)"
    failures = served_value(served, label, DOWNLOADS)
    if failures != {}:
        fail(mismatch(label, failures, {}, "every URL answered in time: nothing failed"), cause="reported_failures")
    require_files(label, served, replies)
