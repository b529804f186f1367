"""Grader for 03_asyncio: coroutines that wait together, and concurrent downloads on mocked HTTP.

The warm-up runs on a virtual clock (graders.virtual_clock): sleeps take no real time, and the
loop time the coroutines took is exact, so "the longest sleep, not the sum" is checked exactly.

The downloads are served by graders.http_mock inside the sandbox, with the real network out of
reach. The mock's own counts decide concurrency (how many requests were in flight at once, never
a clock); wall time is checked only against a bound halfway between the concurrent and the serial
time, which the mock's latency makes wide. A separate run serves failing URLs (404, 500, a server
that never answers, a connection that drops mid-body), another calls the code from inside a
running event loop, as a notebook cell would.
"""
from __future__ import annotations

import hashlib
import math

import pytest

from graders.async_feedback import nested_loop_problem, served_value
from graders.calls import Call
from graders.feedback import fail, mismatch, show, value_of
from graders.http_harness import ServedRun
from graders.http_mock import Reply
from graders.netguard import offline
from graders.target import GradedTarget
from fixtures.images import image_bytes, image_url

WARMUP = "warmup"
DOWNLOADS = "downloads"
RUN_TIMEOUT_S = 20.0
# The exercise's TIMEOUT_S is 1 s: a server this slow never answers in time.
NEVER_ANSWERS_S = 30.0


@pytest.fixture(autouse=True)
def _offline():
    """The grading process has no business with the network either."""
    with offline():
        yield


# --- the warm-up ------------------------------------------------------------------------------


def warmup_sleeps(target: GradedTarget) -> dict[str, float]:
    rng = target.rng("warmup")
    names = rng.sample("abcdefgh", 4)
    seconds = rng.sample([0.5 * k for k in range(1, 9)], 4)
    return dict(zip(names, seconds))


def warmup_run(target: GradedTarget):
    sleeps = warmup_sleeps(target)
    call = Call("graders.exercise_runs:count_together", (sleeps,), label=f"count_together({sleeps}, log)")
    return call, target.once("warmup", lambda: target.call(WARMUP, call, timeout=RUN_TIMEOUT_S))


def warmup_value(target: GradedTarget):
    call, run = warmup_run(target)
    problem = nested_loop_problem(call.describe(), run.asyncio_run_misuse, run.outcome.error)
    if problem:
        fail(problem)
    return call, run, value_of(run.outcome, call.describe(), WARMUP)


@pytest.mark.points(1)
def test_warmup_results(target):
    call, run, value = warmup_value(target)
    expected = list(warmup_sleeps(target))
    if value != expected:
        fail(mismatch(call.describe(), value, expected, "the names, in the order of sleeps"))


@pytest.mark.points(2)
def test_warmup_together(target):
    call, run, _ = warmup_value(target)
    sleeps = warmup_sleeps(target)
    longest, total = max(sleeps.values()), sum(sleeps.values())
    entries = [entry for entry, _ in run.log]
    if sorted(entries) != sorted(f"{name} {step}" for name in sleeps for step in (1, 2)):
        fail(f"called {call.describe()}: the log holds {show(entries)}, expected one count(...) per name")
    if math.isclose(run.loop_seconds, total) and not math.isclose(total, longest):
        fail(
            f"called {call.describe()}: the counts ran one after another, taking {total:g} s (the sum of "
            f"the sleeps) instead of {longest:g} s (the longest): start them all, then wait for them all "
            "(asyncio.gather)"
        )
    if not math.isclose(run.loop_seconds, longest, abs_tol=1e-6):
        fail(
            f"called {call.describe()}: it took {run.loop_seconds:g} s of event-loop time, expected "
            f"{longest:g} s (the longest sleep): every count must be awaited on this event loop"
        )
    first_two = next(i for i, entry in enumerate(entries) if entry.endswith(" 2"))
    if first_two < len(sleeps):
        fail(
            f"called {call.describe()}: the log reads {entries}: some count finished before all had "
            "started, so they did not all wait together"
        )
    if run.real_seconds > max(1.0, longest / 2):
        fail(
            f"called {call.describe()}: {run.real_seconds:.2f} s of real time passed although the sleeps "
            "were on the event loop's clock: something blocked, e.g. time.sleep instead of await asyncio.sleep"
        )
    target.record(f"{call.describe()}: {run.loop_seconds:g} s of loop time, log {entries}")


# --- the downloads ----------------------------------------------------------------------------


class Downloads:
    """The graded download runs: what is served, and what each check expects of the result."""

    MAIN = dict(count=12, limit=3, latency=0.25)
    NOTEBOOK = dict(count=6, limit=3, latency=0.25)
    ERRORS_LIMIT = 5

    def __init__(self, target: GradedTarget):
        self.target = target
        self.seed = target.settings.seed

    def good_replies(self, count: int, latency: float, first: int = 0) -> dict[str, Reply]:
        sizes = self.target.rng(f"sizes-{first}")
        return {
            image_url(i): Reply(image_bytes(self.seed, i, sizes.randrange(20_000, 80_000)), latency=latency)
            for i in range(first, first + count)
        }

    def failing_replies(self) -> dict[str, tuple[Reply, str]]:
        body = image_bytes(self.seed, 99, 40_000)
        return {
            image_url(90, "-missing"): (Reply(b"not found", status=404, latency=0.1), "HTTP 404"),
            image_url(91, "-broken"): (Reply(b"server error", status=500, latency=0.1), "HTTP 500"),
            image_url(92, "-slow"): (Reply(body, latency=NEVER_ANSWERS_S), "timed out"),
            image_url(93, "-dropped"): (Reply(body, latency=0.1, break_after=len(body) // 3), "network error"),
        }

    def run(self, name: str, replies: dict[str, Reply], limit: int, style: str = "script"):
        urls = list(replies)
        label = f"download_all({len(urls)} URLs, folder, limit={limit})"
        call = Call("graders.exercise_runs:download_images", (replies, limit, style), label=label)
        outcome = self.target.once(
            ("downloads", name),
            lambda: self.target.run(DOWNLOADS, [call], timeout=RUN_TIMEOUT_S).outcomes[0],
        )
        served: ServedRun = value_of(outcome, label, DOWNLOADS)
        return label, served, replies, outcome.seconds

    def main(self):
        spec = self.MAIN
        return self.run("main", self.good_replies(spec["count"], spec["latency"]), spec["limit"])

    def errors(self):
        replies = self.good_replies(6, 0.1, first=20)
        replies.update({url: reply for url, (reply, _) in self.failing_replies().items()})
        return self.run("errors", replies, self.ERRORS_LIMIT)

    def notebook(self):
        spec = self.NOTEBOOK
        return self.run("notebook", self.good_replies(spec["count"], spec["latency"], first=40), spec["limit"], "notebook")


def file_problems(served: ServedRun, replies: dict[str, Reply], failed: set[str]) -> list[str]:
    """What is wrong with the files a run left, compared with the images it should have saved."""
    problems = []
    files = dict(served.files)
    for url, reply in replies.items():
        name = url.rsplit("/", 1)[-1]
        found = files.pop(name, None)
        if url in failed:
            if found is not None:
                kind = "an empty" if found[0] == 0 else "a partial"
                problems.append(
                    f"{kind} file {name} ({found[0]} bytes) was left behind for {url}, which failed: write a "
                    "file only once its whole body has arrived, and never for a failed download"
                )
        elif found is None:
            problems.append(f"{name} was not saved (from {url})")
        elif found != (len(reply.body), hashlib.sha256(reply.body).hexdigest()):
            problems.append(f"{name} holds {found[0]} bytes that differ from the {len(reply.body)} bytes served at {url}")
    problems += [f"an unexpected file {name} was written" for name in files]
    return problems


def require_files(label: str, served: ServedRun, replies: dict[str, Reply], failed: set[str] = frozenset()) -> None:
    problems = file_problems(served, replies, failed)
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        fail(f"called {label}: {problems[0]}{more}")


@pytest.mark.points(1)
def test_downloads_files(target):
    label, served, replies, _ = Downloads(target).main()
    failures = served_value(served, label, DOWNLOADS)
    if failures != {}:
        fail(mismatch(label, failures, {}, "every URL answered: nothing failed"))
    require_files(label, served, replies)


@pytest.mark.points(2)
def test_downloads_concurrent(target):
    label, served, _, _ = Downloads(target).main()
    served_value(served, label, DOWNLOADS)
    if served.peak_in_flight < 2:
        advice = (
            "the blocking httpx.Client holds up the event loop until each answer comes, so gathered "
            "coroutines still take turns: use httpx.AsyncClient"
            if served.blocking_requests
            else "start them all as tasks (asyncio.gather) instead of awaiting each in turn"
        )
        fail(f"called {label}: the downloads ran one at a time: never more than one request was in flight; {advice}")
    target.record(f"{label}: at most {served.peak_in_flight} requests in flight")


@pytest.mark.points(1)
def test_downloads_limit(target):
    downloads = Downloads(target)
    for label, served, replies, _ in (downloads.main(), downloads.errors()):
        served_value(served, label, DOWNLOADS)
        limit = int(label.rsplit("limit=", 1)[1].rstrip(")"))
        if served.peak_in_flight > limit:
            fail(
                f"called {label}: up to {served.peak_in_flight} requests were in flight at once, above the "
                f"limit of {limit}: hold an asyncio.Semaphore(limit) around each request"
            )
        if served.peak_in_flight < min(limit, len(replies)):
            fail(
                f"called {label}: never more than {served.peak_in_flight} request(s) in flight at once, though "
                f"limit={limit} allows {limit}: use the limit argument itself"
            )


@pytest.mark.points(1)
def test_downloads_fast(target):
    spec = Downloads.MAIN
    label, served, _, seconds = Downloads(target).main()
    served_value(served, label, DOWNLOADS)
    ideal = math.ceil(spec["count"] / spec["limit"]) * spec["latency"]
    serial = spec["count"] * spec["latency"]
    bound = ideal + (serial - ideal) / 2
    target.record(f"{label}: {seconds:.2f} s (ideal {ideal:.2f} s, one at a time {serial:.2f} s)")
    if seconds > bound:
        fail(
            f"called {label}: it took {seconds:.2f} s for {spec['count']} images that each take "
            f"{spec['latency']:g} s to arrive. With {spec['limit']} at a time that is about {ideal:.2f} s "
            f"(at most {bound:.2f} s is accepted); one at a time takes {serial:.2f} s"
        )


@pytest.mark.points(2)
def test_downloads_errors(target):
    downloads = Downloads(target)
    label, served, replies, _ = downloads.errors()
    if not served.outcome.ok and "HTTP" in served.outcome.error + served.raised:
        fail(
            f"called {label}: it stopped with {served.outcome.error}. A failing URL must not stop the "
            "others: catch httpx.HTTPError for each download and record describe_failure(error) in the "
            "returned dict"
        )
    failures = served_value(served, label, DOWNLOADS)
    expected = {url: reason for url, (_, reason) in downloads.failing_replies().items()}
    if not isinstance(failures, dict) or failures != expected:
        fail(mismatch(label, failures, expected, "{url: describe_failure(error)} for each URL that failed"))
    require_files(label, served, replies, failed=set(expected))


@pytest.mark.points(2)
def test_downloads_nonblocking(target):
    label, served, _, _ = Downloads(target).main()
    served_value(served, label, DOWNLOADS)
    problems = []
    requests = served.blocking_requests
    in_loop = [e for e in requests if e.loop_in_thread]
    in_threads = {e.where or "?" for e in requests if not e.loop_in_thread and not e.main_thread}
    if in_loop:
        problems.append(
            f"the blocking httpx.Client was used inside async code ({in_loop[0].where or 'your code'}): each "
            "request held up the whole event loop until its answer came. Use httpx.AsyncClient and await "
            "its requests"
        )
    if in_threads:
        threads = sum(1 for e in requests if not e.main_thread)
        problems.append(
            f"the requests ran as blocking httpx.Client calls in a thread pool ({threads} requests from "
            f"worker threads, {', '.join(sorted(in_threads))}). Threads can wait together, but this "
            "exercise is about the event loop doing the waiting: use httpx.AsyncClient"
        )
    if requests and not in_loop and not in_threads:
        problems.append(
            f"the blocking httpx.Client was used ({requests[0].where or 'your code'}): download_all must be "
            "an async def using httpx.AsyncClient"
        )
    for kind, advice in (
        ("sleep", "it stops the whole event loop: use await asyncio.sleep(...)"),
        ("open", "a blocking file write holds up the event loop: use aiofiles.open"),
    ):
        found = [c for c in served.blocking if c.kind == kind]
        if found:
            problems.append(f"{found[0].detail} was called inside async code ({found[0].where or 'your code'}): {advice}")
    if problems:
        fail(f"called {label}: " + "; ".join(problems))


@pytest.mark.points(1)
def test_downloads_in_notebook(target):
    label, served, replies, _ = Downloads(target).notebook()
    label = f"await {label} from a notebook cell (inside a running event loop)"
    failures = served_value(served, label, DOWNLOADS)
    if failures != {}:
        fail(mismatch(label, failures, {}, "every URL answered: nothing failed"))
    require_files(label, served, replies)
