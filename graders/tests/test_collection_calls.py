"""Exercise 07's harness: what it counts at the client's entry points, and what the scheduler's records show.

The sizes and the walks over Client.get's and Client.gather's results are tested on plain values;
the rest in sandboxes with a real cluster (a few seconds each), with learner modules written to show
one thing each: a compute per item, two results in one compute, futures fetched with result(), the
same graph computed by two calls, a Dask object returned, and the reference solution of part 1.
"""
from __future__ import annotations

import io
import shutil
import textwrap
import types
import zipfile

import pandas as pd
import pytest

from graders.harnesses.collection_calls import (
    COMPUTE,
    RESULT,
    CallRecord,
    DaskCall,
    FileOpenWatch,
    _future_leaves,
    _key_leaves,
    _root_cause,
    bags_on_cluster,
    describe,
    frames_on_cluster,
    size_of,
)
from graders.harnesses.dask_calls import TaskRecord
from graders.sandbox import calls as c
from graders.sandbox.parent import run_calls
from graders.tests.conftest import PROJECT

pytest.importorskip("distributed", reason="exercise 07 needs the distributed extra: pip install -e .[distributed]")
pytest.importorskip("pyarrow", reason="dask.dataframe needs pyarrow: pip install -e .[distributed]")


# What came back, in items ------------------------------------------------------------------------------


def test_sizes_count_rows_and_items_and_one_for_anything_else():
    frame = pd.DataFrame({"mean": [1.0, 2.0, 3.0]})
    assert [size_of(v) for v in (frame, frame["mean"], [1, 2], {"a": 1}, {1, 2, 3}, 4.5, "text", None)] == [3, 3, 2, 1, 3, 1, 1, 1]
    assert describe(frame) == "a DataFrame of 3 rows"
    assert describe([{"name": "Oslo"}] * 40) == "a list of 40 items"
    assert describe(0.0) == "a float"
    assert describe(__import__("numpy").float64(2.5)) == "a float64"
    assert describe(frame.iloc[:1]) == "a DataFrame of 1 row"


def test_client_get_results_are_walked_key_by_key_where_a_tuple_is_a_key():
    keys = [[("sum-aggregate", 0)], [("count-aggregate", 0)]]
    assert _key_leaves(keys, ([45], [10])) == [45, 10]
    # One key whose value is a list: the list is the value, not a structure of keys.
    assert _key_leaves(("finalize", 0), [1, 2, 3]) == [[1, 2, 3]]
    assert _key_leaves([("a", 0), ("a", 1)], [[1, 2], [3]]) == [[1, 2], [3]]


def test_gathered_results_are_walked_future_by_future():
    one, two = object(), object()
    assert _future_leaves([one, two], ["x", [1, 2]]) == ["x", [1, 2]]
    assert _future_leaves({"a": one, "b": two}, {"a": 1, "b": [2, 3]}) == [1, [2, 3]]
    assert _future_leaves(one, [1, 2, 3]) == [[1, 2, 3]]


def test_an_error_dask_wrapped_names_the_one_underneath():
    try:
        try:
            raise ValueError("Usecols do not match columns")
        except ValueError as inner:
            raise ValueError("An error occurred while calling the read_csv method") from inner
    except ValueError as outer:
        wrapped = outer
    assert _root_cause(wrapped) == " (from ValueError: Usecols do not match columns)"
    assert _root_cause(TypeError("plain")) == ""


def test_files_opened_in_the_folder_are_noted_while_active_only(tmp_path):
    import builtins

    data = tmp_path / "scada"
    data.mkdir()
    (data / "one.CSV").write_text("a\n1\n")
    (data / "two.CSV").write_text("a\n2\n")
    (tmp_path / "elsewhere.txt").write_text("x")
    original = builtins.open
    with FileOpenWatch(str(data)) as watch:
        open(data / "one.CSV").close()  # not active yet
        watch.active = True
        pd.read_csv(data / "two.CSV")
        open(tmp_path / "elsewhere.txt").close()
        with open(str(data / "one.CSV"), "rb"):
            pass
        watch.active = False
        assert watch.take() == ["two.CSV", "one.CSV"]
        assert watch.take() == []
    assert builtins.open is original


def _task(key: str, worker: str | None, dependencies: tuple[str, ...] = ()) -> TaskRecord:
    return TaskRecord(key, key.split("-")[0], state="memory" if worker else "released", worker=worker, dependencies=dependencies)


def test_a_call_record_counts_computes_lines_roots_and_workers():
    record = CallRecord(
        "summarise",
        c.Outcome(c.OK),
        dask_calls=[
            DaskCall(COMPUTE, "scada.py, line 9", 100, "a DataFrame of 100 rows"),
            DaskCall(COMPUTE, "scada.py, line 9", 50, "a DataFrame of 50 rows"),
            DaskCall(COMPUTE, "scada.py, line 12", 1, "a float"),
            DaskCall(RESULT, "scada.py, line 13", 7, "a list of 7 items"),
        ],
        tasks=[
            _task("read-1", "tcp://w1"),
            _task("read-2", "tcp://w2"),
            _task("agg-1", "tcp://w1", ("read-1", "read-2")),
            _task("read-3", None),  # released after the call, never run during it
        ],
    )
    assert len(record.computes) == 3
    assert record.repeated_lines() == {"scada.py, line 9": 2}
    assert record.received == 158
    assert [t.key for t in record.roots] == ["read-1", "read-2"]
    assert record.workers_used == ["tcp://w1", "tcp://w2"]


def test_functions_not_written_yet_are_reported_without_starting_a_cluster(tmp_path):
    source = tmp_path / "cities_bag.py"
    source.write_text(textwrap.dedent('''
        def names_above(cities, population):
            """Doc."""
            # TODO: write it.
            raise NotImplementedError


        def average_by_continent(cities):
            raise NotImplementedError("not yet")
    '''))
    module = types.ModuleType("cities_bag")
    module.__file__ = str(source)
    exec(compile(source.read_text(), str(source), "exec"), module.__dict__)
    run = bags_on_cluster(module, [("names_above", ([], 1.0)), ("average_by_continent", ([],)), ("continent_population", ([], "eu"))], 2)
    assert run.outcome.ok and run.workers == [] and run.cluster_start_s == 0.0
    statuses = [(r.function, r.outcome.status, r.outcome.where) for r in run.calls]
    assert statuses == [
        ("names_above", c.NOT_IMPLEMENTED, "cities_bag.py, line 5"),
        ("average_by_continent", c.NOT_IMPLEMENTED, "cities_bag.py, line 9"),
        ("continent_population", c.MISSING_FUNCTION, ""),
    ]


# Real clusters in sandboxes -------------------------------------------------------------------------

BAG_LEARNER = '''
import dask
import dask.bag as db
from distributed import get_client


def per_item(numbers):
    return [db.from_sequence([n]).map(lambda v: v * 2).compute()[0] for n in numbers]


def two_at_once(numbers):
    bag = db.from_sequence(numbers)
    return dask.compute(bag.sum(), bag.count())


def via_futures(numbers):
    future = get_client().compute(db.from_sequence(numbers).map(lambda v: v + 1))
    return future.result()


def total(numbers):
    return db.from_sequence(numbers).sum().compute()


def lazy(numbers):
    return db.from_sequence(numbers)


def not_written(numbers):
    raise NotImplementedError
'''


def _line_of(source: str, text: str) -> int:
    return next(number for number, line in enumerate(source.splitlines(), start=1) if text in line)


def test_bag_calls_are_counted_at_the_clients_entry_points_with_the_learners_line(tmp_path):
    folder = tmp_path / "learner"
    folder.mkdir()
    (folder / "cities_bag.py").write_text(BAG_LEARNER)
    numbers = list(range(10))
    calls = [("per_item", ([1, 2, 3],)), ("two_at_once", (numbers,)), ("via_futures", (numbers[:6],)),
             ("total", (numbers,)), ("total", (numbers,)), ("lazy", (numbers,)), ("not_written", (numbers,))]
    sandbox = run_calls(folder, "cities_bag", [c.Call(bags_on_cluster, (calls, 2))], timeout=60)
    outcome = sandbox.outcomes[0]
    assert outcome.ok, outcome.error
    assert not outcome.leftovers
    run = outcome.value
    assert run.cluster_closed and len(run.workers) == 2 and run.network == []
    per_item, two, futures, first, second, lazy, unwritten = run.calls

    assert per_item.outcome.value == [2, 4, 6]
    line = f"cities_bag.py, line {_line_of(BAG_LEARNER, 'def per_item') + 1}"
    assert [(d.kind, d.where, d.items) for d in per_item.dask_calls] == [(COMPUTE, line, 1)] * 3
    assert per_item.repeated_lines() == {line: 3}

    assert two.outcome.value == (45, 10)
    assert [(d.kind, d.items) for d in two.dask_calls] == [(COMPUTE, 2)]  # one graph, two results, Client.get's gather unseen

    assert futures.outcome.value == [1, 2, 3, 4, 5, 6]
    assert [(d.kind, d.items) for d in futures.dask_calls] == [(COMPUTE, 0), (RESULT, 6)]
    assert futures.received == 6 and len(futures.computes) == 1

    # The same graph in two calls: the second's tasks ran again and are its own (the harness waited
    # for the scheduler to forget the first call's keys).
    assert first.outcome.value == second.outcome.value == 45
    assert len(first.roots) == len(second.roots) == 10
    assert {t.worker for t in second.ran} <= set(run.workers)

    assert lazy.outcome.status == c.BAD_RETURN and "Dask objects" in lazy.outcome.error
    assert lazy.dask_calls == [] and lazy.ran == []
    assert unwritten.outcome.status == c.NOT_IMPLEMENTED


def _small_files() -> tuple[list[tuple[str, bytes]], pd.DataFrame]:
    """Two one-day months as three SCADA files (the first cut in two) and a file of another name."""
    from fixtures import aemo

    months = [aemo.make_archive(month=month, days=1) for month in (1, 2)]
    texts = []
    for month in months:
        with zipfile.ZipFile(io.BytesIO(month.data)) as archive:
            texts.append(archive.read(archive.namelist()[0]).decode("ascii"))
    lines = texts[0].splitlines(keepends=True)
    rows = [line for line in lines if line.startswith("D,")]
    halves = [rows[:1000], rows[1000:]]
    files = [
        (f"PUBLIC_DVD_DISPATCH_UNIT_SCADA_202101010000_FILE0{i}.CSV", "".join([*lines[:2], *half, 'C,"END OF REPORT",9\n']).encode())
        for i, half in enumerate(halves, start=1)
    ]
    files.append(("PUBLIC_DVD_DISPATCH_UNIT_SCADA_202102010000_FILE01.CSV", texts[1].encode()))
    files.append(("NOTES.txt", b"not a SCADA file\n"))
    return files, pd.concat([m.summary for m in months])


def test_reference_frames_are_inspected_and_recorded(tmp_path):
    folder = tmp_path / "solution"
    shutil.copytree(PROJECT / "solutions" / "07_dask_collections", folder)
    files, summary = _small_files()
    sandbox = run_calls(folder, "scada", [c.Call(frames_on_cluster, (files, 2))], timeout=60)
    outcome = sandbox.outcomes[0]
    assert outcome.ok, outcome.error
    assert not outcome.leftovers
    run = outcome.value
    assert run.cluster_closed and run.network == []
    assert run.folder.endswith("/scada_files")
    inspection = run.inspection
    assert (inspection.dask_collection, inspection.partitions, inspection.row_kinds) == (True, 3, ["D"])
    assert inspection.rows == 2 * 288 * 28 and inspection.dates == len(summary)
    assert "SCADAVALUE" in inspection.columns and not inspection.error
    read, summarise = run.calls
    assert read.outcome.ok and read.outcome.value is None  # described by the inspection instead
    assert read.dask_calls == [] and read.ran == []  # nothing computed while read_scada ran
    assert set(read.opened) == {files[0][0]}  # dd.read_csv's sample of the first file; the workers read the rest
    source = (folder / "scada.py").read_text()
    where = f"scada.py, line {_line_of(source, 'return summary.compute()')}"
    assert [(d.kind, d.where, d.items) for d in summarise.dask_calls] == [(COMPUTE, where, len(summary))]
    assert len(summarise.roots) == 3  # one read-csv task per file
    assert set(summarise.workers_used) <= set(run.workers)
    pd.testing.assert_frame_equal(summarise.outcome.value, summary, check_index_type=False, check_names=False, rtol=1e-9)
    assert "distributed" not in sandbox.output, sandbox.output
