"""Running a learner's Dask collections (dask.dataframe, dask.bag) on a cluster the grader starts and watches.

Exercise 07's sandbox side. A Dask collection's methods only build a graph; ``.compute()`` (or
``dask.compute``) hands the whole graph to the scheduler, which runs its tasks on the workers and
sends the results back. What the grader must know is therefore recorded at those two places:

- on the cluster: a ``LocalCluster`` of worker processes on loopback, started as exercise 05's is
  (graders.harnesses.dask_calls.start_cluster), with its scheduler plugin recording every task: the
  worker that ran it and the tasks it took its input from. Tasks that take no input are the
  partitions read (or made) at the start of a graph;
- in the program: while the learner's function runs, :class:`DaskCallWatch` wraps the client's
  public entry points (``Client.get``, which ``.compute()`` and ``dask.compute`` use, and
  ``Client.compute``, ``Client.persist``, ``Client.gather``, ``Future.result``) and notes each call
  once (not the calls Dask makes inside it), the learner's line that made it, and how much came back
  to the program (rows of a DataFrame, items of a list); :class:`FileOpenWatch` notes which of the
  data files were opened in the learner's process (dd.read_csv opens the first for a sample, the
  workers read the rest; pandas reading them all in the learner's program opens every one).

The harness connects a ``Client`` to the cluster as Dask's default before it calls the learner's
functions, so the learner's ``.compute()`` runs there with no setup of their own; the scheduler's
address is also in ``DASK_SCHEDULER_ADDRESS``, as in exercise 05. Between two calls it waits until
the scheduler holds no task, so each call's records are its own (Dask names tasks by their inputs:
the same graph computed twice reuses keys that are still in memory instead of running them).

Dask is imported lazily, so the grading process can unpickle a CollectionRun without importing it.
"""
from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field

from graders.harnesses.dask_calls import (
    SCHEDULER_ENV,
    TaskRecord,
    _close_clients,
    _close_cluster,
    _install_plugins,
    _plain,
    start_cluster,
)
from graders.instruments.netguard import NetGuard
from graders.instruments.patching import Patches
from graders.sandbox import learner
from graders.sandbox.calls import NOT_IMPLEMENTED, NOT_RUN, OK, Outcome

# Where frames_on_cluster writes the files, inside the sandbox's working folder.
DATA_FOLDER = "scada_files"
# How long the scheduler may take to forget the tasks of a call that returned.
IDLE_TIMEOUT_S = 5.0
COMPUTE, PERSIST, GATHER, RESULT = "compute", "persist", "gather", "result"


@dataclass
class DaskCall:
    """One call of Dask's client API made by the learner's code (the calls Dask makes inside it are not counted)."""

    kind: str  # COMPUTE: a graph run for its results; PERSIST: run and kept on the cluster; GATHER / RESULT: results fetched
    where: str = ""  # the learner's innermost line on the stack, "module.py, line N"; "" when none was
    items: int = 0  # how much came back to the program: rows of a DataFrame or Series, items of a list, dict or set, else 1
    received: str = ""  # what came back, in words: "a DataFrame of 2304 rows"


@dataclass
class CallRecord:
    """One call of the learner's function on the grader's cluster."""

    function: str
    outcome: Outcome
    dask_calls: list[DaskCall] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)  # the tasks the scheduler saw during the call
    opened: list[str] = field(default_factory=list)  # data files opened in the learner's process during the call
    seconds: float = 0.0

    @property
    def computes(self) -> list[DaskCall]:
        return [call for call in self.dask_calls if call.kind == COMPUTE]

    @property
    def received(self) -> int:
        """Items that came back to the program from the cluster during the call."""
        return sum(call.items for call in self.dask_calls)

    def repeated_lines(self) -> dict[str, int]:
        """Lines of the learner's that computed more than once in this one call: a loop, or a function called per item."""
        counts = Counter(call.where for call in self.computes if call.where)
        return {where: count for where, count in counts.items() if count > 1}

    @property
    def ran(self) -> list[TaskRecord]:
        """Tasks a worker computed (or tried to)."""
        return [task for task in self.tasks if task.worker]

    @property
    def roots(self) -> list[TaskRecord]:
        """Tasks a worker ran that took no other task's result: the partitions a graph starts from."""
        return [task for task in self.ran if not task.dependencies]

    @property
    def workers_used(self) -> list[str]:
        return sorted({task.worker for task in self.ran})


@dataclass
class FrameInspection:
    """What read_scada returned, as the harness saw it; its rows as the harness computed them."""

    kind: str  # the returned value's type: "dask.dataframe.DataFrame", "pandas.DataFrame"...
    dask_collection: bool = False
    partitions: int | None = None  # len(value.__dask_keys__()) for a Dask collection
    rows: int | None = None
    columns: list[str] = field(default_factory=list)
    row_kinds: list[str] = field(default_factory=list)  # the distinct values of its "I" column
    value_sum: float | None = None  # SCADAVALUE's sum
    dates: int | None = None  # distinct SETTLEMENTDATEs
    error: str = ""  # why its rows could not be had


@dataclass
class CollectionRun:
    outcome: Outcome  # OK once the cluster ran the calls; else why it could not (a missing function...)
    workers: list[str] = field(default_factory=list)  # the cluster's worker addresses
    calls: list[CallRecord] = field(default_factory=list)
    inspection: FrameInspection | None = None  # frames_on_cluster: what read_scada returned
    folder: str = ""  # frames_on_cluster: where the files were written
    network: list[str] = field(default_factory=list)  # attempts to reach the real network (sandbox side)
    cluster_start_s: float = 0.0
    cluster_closed: bool = False

    def named(self, function: str) -> list[CallRecord]:
        return [call for call in self.calls if call.function == function]


# ---------------------------------------------------------------- what comes back to the program


def size_of(value) -> int:
    """Rows of a DataFrame, Series or Index, items of a list, tuple, dict or set, the length of an array; else 1."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series, pandas.Index)):
        return len(value)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return len(value)
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape:
        return int(shape[0])
    return 1


def describe(value) -> str:
    """What came back, in words: "a DataFrame of 2304 rows", "a list of 40 items", "a float"."""
    kind = type(value).__name__
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape:
        count, unit = size_of(value), "row"
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        count, unit = len(value), "item"
    else:
        return f"a {kind}"
    return f"a {kind} of {count} {unit}{'' if count == 1 else 's'}"


def _key_leaves(keys, value) -> list:
    """The values of a Client.get result, one per key: lists nest, a tuple is a key."""
    if isinstance(keys, list) and isinstance(value, (list, tuple)) and len(keys) == len(value):
        return [leaf for k, v in zip(keys, value) for leaf in _key_leaves(k, v)]
    return [value]


def _future_leaves(futures, value) -> list:
    """The values of a Client.gather result, one per future: lists, tuples, sets and dicts nest."""
    if isinstance(futures, dict) and isinstance(value, dict):
        return [leaf for key in futures if key in value for leaf in _future_leaves(futures[key], value[key])]
    if isinstance(futures, (list, tuple)) and isinstance(value, (list, tuple)) and len(futures) == len(value):
        return [leaf for f, v in zip(futures, value) for leaf in _future_leaves(f, v)]
    if isinstance(futures, (set, frozenset)) and isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


class DaskCallWatch(Patches):
    """While active, notes each call of the client's public entry points that the learner's code makes.

    ``folder`` is the learner's: the innermost frame in it names the line that made the call. Calls
    made while :attr:`active` is false (the harness's own) and calls made inside a noted call
    (``Client.get`` gathers its results itself) are not noted.
    """

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = os.path.realpath(folder)
        self.calls: list[DaskCall] = []
        self.active = False
        self._inside = threading.local()

    def __enter__(self) -> "DaskCallWatch":
        from distributed import Client, Future

        self._wrap(Client, "get", COMPUTE, lambda args, kwargs, value: _key_leaves(_argument(args, kwargs, 2, "keys"), value))
        self._wrap(Client, "compute", COMPUTE, _synchronous_results)
        self._wrap(Client, "persist", PERSIST, lambda args, kwargs, value: [])
        self._wrap(Client, "gather", GATHER, lambda args, kwargs, value: _future_leaves(_argument(args, kwargs, 1, "futures"), value))
        self._wrap(Future, "result", RESULT, lambda args, kwargs, value: [value])
        return self

    def _wrap(self, owner, name: str, kind: str, leaves) -> None:
        original = getattr(owner, name)
        watch = self

        @functools.wraps(original)
        def noted(*args, **kwargs):
            if not watch.active or getattr(watch._inside, "depth", 0):
                return original(*args, **kwargs)
            watch._inside.depth = 1
            where = watch.where()
            try:
                value = original(*args, **kwargs)
            except BaseException:
                watch.calls.append(DaskCall(kind, where, 0, "nothing: it raised"))
                raise
            finally:
                watch._inside.depth = 0
            try:
                received = leaves(args, kwargs, value)
            except Exception:  # noqa: BLE001 - an odd structure is counted as one value
                received = [value]
            watch.calls.append(
                DaskCall(kind, where, sum(map(size_of, received)), "; ".join(describe(v) for v in received[:3]))
            )
            return value

        self._replace(owner, name, noted)

    def where(self) -> str:
        frame = sys._getframe(2)
        while frame is not None:
            path = os.path.realpath(frame.f_code.co_filename)
            if path.startswith(self.folder + os.sep):
                return f"{os.path.basename(path)}, line {frame.f_lineno}"
            frame = frame.f_back
        return ""

    def take(self) -> list[DaskCall]:
        calls, self.calls = self.calls, []
        return calls


def _argument(args: tuple, kwargs: dict, position: int, name: str):
    return args[position] if len(args) > position else kwargs.get(name)


def _synchronous_results(args: tuple, kwargs: dict, value) -> list:
    """Client.compute returns futures, unless called with sync=True: then the values came back."""
    if not kwargs.get("sync"):
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class FileOpenWatch(Patches):
    """While active, notes the files inside ``folder`` opened in this process (by pandas, fsspec, open()).

    dd.read_csv opens the first file here for a sample of its columns and leaves the rest to the
    workers; pandas reading every file in the learner's program opens them all here.
    """

    def __init__(self, folder: str = "") -> None:
        super().__init__()
        self.folder = os.path.realpath(folder) if folder else ""
        self.opened: list[str] = []
        self.active = False

    def __enter__(self) -> "FileOpenWatch":
        import builtins
        import io

        original = builtins.open
        watch = self

        @functools.wraps(original)
        def noted(file, *args, **kwargs):
            if watch.active and watch.folder and isinstance(file, (str, bytes, os.PathLike)):
                path = os.path.realpath(os.fsdecode(file))
                if path.startswith(watch.folder + os.sep):
                    watch.opened.append(os.path.basename(path))
            return original(file, *args, **kwargs)

        self._replace(builtins, "open", noted)
        self._replace(io, "open", noted)
        return self

    def take(self) -> list[str]:
        opened, self.opened = self.opened, []
        return opened


# ---------------------------------------------------------------- the cluster and the calls


class _Cluster:
    """The grader's cluster for one run, with a default Client, the task recorder and the call watch."""

    def __init__(self, module, workers: int, run: CollectionRun, stack: ExitStack, data_folder: str = "") -> None:
        import dask
        from distributed import Client

        self.module = module
        self.folder = learner.folder_of(module)
        started = time.monotonic()
        cluster = start_cluster(workers)
        stack.callback(_close_cluster, cluster, run)
        stack.callback(_close_clients, Client)
        run.cluster_start_s = time.monotonic() - started
        run.workers = sorted(list(cluster.scheduler.workers))
        self.scheduler = cluster.scheduler
        self.recorder = _install_plugins(cluster)
        address = cluster.scheduler_address
        os.environ[SCHEDULER_ENV] = address
        stack.callback(os.environ.pop, SCHEDULER_ENV, None)
        stack.enter_context(dask.config.set({"scheduler-address": address}))
        self.client = stack.enter_context(Client(cluster, set_as_default=True))
        self.guard = stack.enter_context(NetGuard())
        self.watch = stack.enter_context(DaskCallWatch(self.folder))
        self.files = stack.enter_context(FileOpenWatch(data_folder))
        self.run = run

    def call(self, function: str, args: tuple) -> tuple[CallRecord, object]:
        """Call the learner's ``function(*args)``: its record, and the value it returned (None if it raised)."""
        absent = learner.missing_function(self.module, function)
        if absent is not None:
            return CallRecord(function, absent), None
        self.idle()
        with self.recorder.lock:
            self.recorder.tasks.clear()
        self.watch.take()
        self.files.take()
        returned, raised = [], []

        def thunk():
            try:
                returned.append(getattr(self.module, function)(*args))
            except BaseException as exc:
                raised.append(exc)
                raise
            return returned[-1]

        self.watch.active = self.files.active = True
        started = time.monotonic()
        try:
            outcome = learner.call(thunk, self.folder)
        finally:
            self.watch.active = self.files.active = False
        if raised and outcome.error:
            outcome.error += _root_cause(raised[0])
        record = CallRecord(function, outcome, seconds=time.monotonic() - started)
        record.dask_calls = self.watch.take()
        record.opened = self.files.take()
        record.tasks = self.recorder.snapshot()
        return record, (returned[0] if returned else None)

    def idle(self) -> None:
        """Wait until the scheduler holds no task (the previous call's are released and forgotten)."""
        deadline = time.monotonic() + IDLE_TIMEOUT_S
        while self.scheduler.tasks and time.monotonic() < deadline:
            time.sleep(0.01)


def _root_cause(exc: BaseException) -> str:
    """The words " (from Type: message)" naming the exception at the bottom of ``exc``'s chain, when Dask wrapped it in one of its own."""
    root, seen = exc, {id(exc)}
    while (root.__cause__ or root.__context__) is not None and id(root.__cause__ or root.__context__) not in seen:
        root = root.__cause__ or root.__context__
        seen.add(id(root))
    return f" (from {learner.one_line(root)})" if root is not exc else ""


def frames_on_cluster(module, files: list[tuple[str, bytes]], workers: int) -> CollectionRun:
    """Write ``files`` into a folder of the working folder, then call ``read_scada(folder)`` and ``summarise(folder)``.

    read_scada's value is inspected here (a Dask collection cannot leave the sandbox): its type, its
    partitions, and its rows, which the harness computes itself on the same cluster, unrecorded.
    """
    unready = _not_ready(module, ["read_scada", "summarise"])
    if unready is not None:
        return unready
    folder = os.path.abspath(DATA_FOLDER)
    os.makedirs(folder, exist_ok=True)
    for name, data in files:
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(data)
    run = CollectionRun(Outcome(NOT_RUN), folder=folder)
    with ExitStack() as stack:
        cluster = _Cluster(module, workers, run, stack, data_folder=folder)
        record, frame = cluster.call("read_scada", (folder,))
        if record.outcome.ok:
            record.outcome = Outcome(OK)  # the value is described by the inspection instead
            run.inspection = inspect_frame(frame)
        run.calls.append(record)
        record, value = cluster.call("summarise", (folder,))
        record.outcome = _plain(record.outcome, "summarise")
        run.calls.append(record)
        run.network = list(cluster.guard.attempts)
        run.outcome = Outcome(OK)
    return run


def bags_on_cluster(module, calls: list[tuple[str, tuple]], workers: int) -> CollectionRun:
    """Call each ``(function, args)`` of the learner's module in turn, on one cluster."""
    unready = _not_ready(module, [function for function, _ in calls])
    if unready is not None:
        return unready
    run = CollectionRun(Outcome(NOT_RUN))
    with ExitStack() as stack:
        cluster = _Cluster(module, workers, run, stack)
        for function, args in calls:
            record, _ = cluster.call(function, args)
            record.outcome = _plain(record.outcome, function)
            run.calls.append(record)
        run.network = list(cluster.guard.attempts)
        run.outcome = Outcome(OK)
    return run


def _not_ready(module, functions: list[str]) -> CollectionRun | None:
    """The run's records when no function asked for is written yet (each missing, or only raising
    NotImplementedError): every call reported so, without starting a cluster for nothing."""
    outcomes = [learner.missing_function(module, function) or _unwritten(getattr(module, function)) for function in functions]
    if any(outcome is None for outcome in outcomes):
        return None
    calls = [CallRecord(function, outcome) for function, outcome in zip(functions, outcomes)]
    return CollectionRun(Outcome(OK), calls=calls)


def _unwritten(function) -> Outcome | None:
    """NOT_IMPLEMENTED when ``function``'s body (past its docstring) is only ``raise NotImplementedError``."""
    import ast
    import inspect
    import textwrap

    try:
        lines, first = inspect.getsourcelines(function)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError):
        return None
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) == 1 and isinstance(body[0], ast.Raise) and "NotImplementedError" in ast.unparse(body[0]):
        where = f"{os.path.basename(inspect.getsourcefile(function) or '')}, line {first + body[0].lineno - 1}"
        return Outcome(NOT_IMPLEMENTED, error="NotImplementedError", raised="NotImplementedError", where=where)
    return None


def inspect_frame(value) -> FrameInspection:
    """The returned frame's kind and partitions, and its rows, computed by the harness (not by the learner's code)."""
    import dask
    import pandas as pd

    kind = f"{type(value).__module__.split('.')[0]}.{type(value).__name__}"
    inspection = FrameInspection(kind, dask_collection=dask.is_dask_collection(value))
    rows = value
    try:
        if inspection.dask_collection:
            inspection.partitions = len(value.__dask_keys__())
            rows = value.compute()
        if isinstance(rows, pd.Series):
            rows = rows.to_frame()
        if not isinstance(rows, pd.DataFrame):
            inspection.error = f"its rows are {describe(rows)}, not a DataFrame"
            return inspection
        inspection.rows = len(rows)
        inspection.columns = [str(c) for c in rows.columns]
        if "I" in rows.columns:
            inspection.row_kinds = sorted({str(v) for v in rows["I"].dropna().unique()})
        if "SCADAVALUE" in rows.columns:
            inspection.value_sum = float(pd.to_numeric(rows["SCADAVALUE"], errors="coerce").sum())
        if "SETTLEMENTDATE" in rows.columns:
            inspection.dates = int(rows["SETTLEMENTDATE"].nunique())
    except Exception as exc:  # noqa: BLE001 - whatever computing the learner's graph raised
        inspection.error = learner.one_line(exc) + _root_cause(exc)
    return inspection
