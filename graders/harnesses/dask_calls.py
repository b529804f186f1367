"""Running a learner's Dask code against a real cluster that the grader starts, watches and stops.

:func:`run_on_cluster` is the sandbox side of exercise 05's cluster checks. Inside the sandbox it

1. serves the archives from a real HTTP server on 127.0.0.1 (graders.instruments.loopback_http): Dask workers
   are separate processes, which respx's in-process mock cannot reach;
2. starts a ``LocalCluster`` of separate worker processes, listening on loopback only, without a
   dashboard, with Dask's logging silenced; a scheduler plugin (:class:`TaskRecorder`) records every
   task's transitions: the worker that ran it, when, and the tasks it took its input from; and the
   scheduler's ``gather`` handler is wrapped to record which results were sent to a client;
3. puts the scheduler's address in ``DASK_SCHEDULER_ADDRESS`` (and in Dask's configuration, as that
   variable would have done had it been set before Dask was imported) and calls the learner's
   function, with the real network out of reach in the sandbox and in every worker;
4. notes which of the learner's clients are still connected once the function has returned, closes
   them and the cluster, and returns it all as one picklable :class:`ClusterRun`.

Everything the grader concludes comes from the scheduler's own records and the server's, never
from what the learner's code reports. Should the learner's code hang, the sandbox's deadline kills
the sandbox's whole session, the cluster's processes included (graders.sandbox.parent).

Dask is imported lazily, so the grading process can unpickle a ClusterRun without importing it.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field

from graders.sandbox.calls import BAD_RETURN, NOT_RUN, Outcome
from graders.sandbox import learner
from graders.instruments.loopback_http import ArchiveServer, Request, Route
from graders.instruments.netguard import NetGuard

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
# Seconds a Client may take to connect: a wrong address fails quickly and says so.
CONNECT_TIMEOUT_S = 10
# After the learner's function returns, how long a Client it closed may take to leave the scheduler.
CLIENT_CLOSE_GRACE_S = 1.0
CLUSTER_CLOSE_TIMEOUT_S = 10
MAX_WORKERS = 4
_QUIET = {
    "logging.distributed": "error",
    "distributed.admin.tick.limit": "1h",  # no "event loop unresponsive" warnings on a busy machine
}


@dataclass
class TaskRecord:
    key: str
    name: str  # the task's prefix: the name of the function it ran ("download", "process_archive")
    state: str = "released"  # how far it got: released (never sent to a worker), processing, memory or erred
    worker: str | None = None  # the worker that computed it
    start: float | None = None  # compute start and stop, time.time() on the worker
    stop: float | None = None
    dependencies: tuple[str, ...] = ()  # keys of the tasks whose results it took as input
    error: str = ""


@dataclass
class Gather:
    """A client asked the scheduler for these results."""

    keys: tuple[str, ...]
    at: float  # time.time()


@dataclass
class ClusterRun:
    outcome: Outcome  # the learner's call: its value, or what went wrong
    urls: list[str] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)  # the cluster's worker addresses
    tasks: list[TaskRecord] = field(default_factory=list)  # in the order they were first seen
    gathers: list[Gather] = field(default_factory=list)
    clients_connected: int = 0  # clients that connected during the call
    clients_left_open: int = 0  # of those, still connected once the call had returned
    requests: list[Request] = field(default_factory=list)
    peak_in_flight: int = 0
    network: list[str] = field(default_factory=list)  # attempts to reach the real network (sandbox side)
    cluster_start_s: float = 0.0
    call_s: float = 0.0
    cluster_closed: bool = False
    address: str = ""

    def named(self, name: str) -> list[TaskRecord]:
        return [t for t in self.tasks if t.name == name]

    def by_key(self) -> dict[str, TaskRecord]:
        return {t.key: t for t in self.tasks}


def _key_text(key) -> str:
    return key if isinstance(key, str) else str(key)


class TaskRecorder:
    """The records of a scheduler's tasks, kept from inside it (see graders.instruments.dask_plugins.RecordingPlugin).

    The scheduler's event loop writes them; the learner's thread reads them once the call returned.
    """

    def __init__(self, scheduler) -> None:
        self.scheduler = scheduler
        self.tasks: dict[str, TaskRecord] = {}
        self.clients: list[str] = []
        self.lock = threading.Lock()

    def add_client(self, client: str) -> None:
        with self.lock:
            self.clients.append(client)

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        text = _key_text(key)
        with self.lock:
            record = self.tasks.get(text)
            ts = self.scheduler.tasks.get(key)
            if record is None:
                name = ts.prefix.name if ts is not None else text.rsplit("-", 1)[0]
                record = self.tasks[text] = TaskRecord(text, name)
            if ts is not None and ts.dependencies and not record.dependencies:
                record.dependencies = tuple(_key_text(d.key) for d in ts.dependencies)
            if finish in ("memory", "erred") and start == "processing":
                record.worker = kwargs.get("worker") or record.worker
                for period in kwargs.get("startstops") or ():
                    if period.get("action") == "compute":
                        record.start, record.stop = period["start"], period["stop"]
                if finish == "erred":
                    record.error = _one_line(kwargs.get("exception_text") or kwargs.get("exception") or "")
            if finish in ("processing", "memory", "erred"):
                record.state = finish

    def snapshot(self) -> list[TaskRecord]:
        with self.lock:
            return [TaskRecord(**vars(record)) for record in self.tasks.values()]


def _one_line(text) -> str:
    lines = str(text).strip().splitlines()
    return lines[-1] if lines else ""


def _quiet_dask() -> None:
    import dask

    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")  # read by the workers as they start
    dask.config.set(_QUIET)
    for name in ("distributed", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def start_cluster(workers: int):
    """A LocalCluster of ``workers`` worker processes (one thread each), on loopback, with no dashboard."""
    from distributed import LocalCluster

    _quiet_dask()
    cluster = LocalCluster(
        n_workers=max(1, min(workers, MAX_WORKERS)),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    )
    deadline = time.monotonic() + 60
    while len(cluster.scheduler.workers) < len(cluster.workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    return cluster


def _watch_gathers(scheduler, gathers: list[Gather]) -> None:
    original = scheduler.handlers["gather"]

    async def gather(*args, **kwargs):
        keys = kwargs.get("keys", args[0] if args else ())
        gathers.append(Gather(tuple(_key_text(k) for k in keys), time.time()))
        return await original(*args, **kwargs)

    scheduler.handlers["gather"] = gather


def _install_plugins(cluster) -> TaskRecorder:
    from distributed import Client

    from graders.instruments.dask_plugins import NetGuardPlugin, RecordingPlugin

    with Client(cluster, set_as_default=False) as client:
        client.register_plugin(NetGuardPlugin())
    recorder = TaskRecorder(cluster.scheduler)
    cluster.scheduler.add_plugin(RecordingPlugin(recorder))
    return recorder


def _learner_clients(scheduler, before: set[str]) -> set[str]:
    # A copy first: the scheduler's event loop, in another thread, adds and removes clients.
    return {c for c in list(scheduler.clients) if c not in before and c != "fire-and-forget"}


def run_on_cluster(
    module,
    archives: list[tuple[str, bytes, float]],
    workers: int,
    function: str = "run_on_cluster",
) -> ClusterRun:
    """Call ``module.function(urls)`` against a fresh cluster of ``workers`` worker processes.

    ``archives`` are (path, data, latency): each is served at http://127.0.0.1:PORT/path after its
    latency, and the URLs are passed in that order.
    """
    absent = learner.missing_function(module, function)
    if absent is not None:
        return ClusterRun(absent)
    import dask
    from distributed import Client

    folder = learner.folder_of(module)
    routes = {path: Route(data, latency=latency) for path, data, latency in archives}
    run = ClusterRun(Outcome(NOT_RUN))
    gathers: list[Gather] = []
    with ExitStack() as stack:
        server = stack.enter_context(ArchiveServer(routes))
        run.urls = [server.url(path) for path, _, _ in archives]
        started = time.monotonic()
        cluster = start_cluster(workers)
        stack.callback(_close_cluster, cluster, run)
        run.cluster_start_s = time.monotonic() - started
        run.address = cluster.scheduler_address
        run.workers = sorted(list(cluster.scheduler.workers))
        scheduler = cluster.scheduler
        recorder = _install_plugins(cluster)
        _watch_gathers(scheduler, gathers)
        before = set(list(scheduler.clients))
        os.environ[SCHEDULER_ENV] = run.address
        stack.callback(os.environ.pop, SCHEDULER_ENV, None)
        stack.enter_context(
            dask.config.set({"scheduler-address": run.address, "distributed.comm.timeouts.connect": CONNECT_TIMEOUT_S})
        )
        with NetGuard() as guard:
            started = time.monotonic()
            run.outcome = _plain(learner.call(lambda: getattr(module, function)(list(run.urls)), folder), function)
            run.call_s = time.monotonic() - started
        run.network = list(guard.attempts)
        deadline = time.monotonic() + CLIENT_CLOSE_GRACE_S
        while _learner_clients(scheduler, before) and time.monotonic() < deadline:
            time.sleep(0.02)
        run.clients_left_open = len(_learner_clients(scheduler, before))
        run.clients_connected = len([c for c in recorder.clients if c not in before])
        run.tasks = recorder.snapshot()
        run.gathers = list(gathers)
        _close_clients(Client)
    # The server stopped with the stack: its log is complete.
    run.requests = server.requests
    run.peak_in_flight = server.peak_in_flight
    return run


def _plain(outcome: Outcome, function: str) -> Outcome:
    """The learner's outcome, unless its value still holds Dask objects (futures, delayed), which only mean something on the cluster."""
    if not outcome.ok:
        return outcome
    value = outcome.value
    inside = list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, (list, tuple)) else []
    lazy = [type(v).__name__ for v in [value, *inside[:100]] if type(v).__module__.split(".")[0] in ("dask", "distributed")]
    if lazy:
        return Outcome(
            BAD_RETURN,
            error=f"{function} returned Dask objects ({lazy[0]}): gather or compute them and return the data itself",
        )
    return outcome


def _close_clients(client_class) -> None:
    """Close the clients the learner left open, so they do not try to reconnect to a closed cluster."""
    for client in list(client_class._instances):
        try:
            client.close(timeout=2)
        except Exception:  # noqa: BLE001 - a client already half-closed
            pass


def _close_cluster(cluster, run: ClusterRun) -> None:
    try:
        cluster.close(timeout=CLUSTER_CLOSE_TIMEOUT_S)
        run.cluster_closed = True
    except Exception:  # noqa: BLE001 - the sandbox kills whatever is left
        run.cluster_closed = False
