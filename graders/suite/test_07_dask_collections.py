"""Grader for 07_dask_collections: the SCADA files as a Dask DataFrame, the cities warm-up as a Dask Bag.

Each part runs once, in one sandbox, on one LocalCluster the grader starts there
(graders.harnesses.collection_calls): worker processes on loopback, a Client connected to it as
Dask's default before the learner's functions are called, the scheduler's records of every task
(which worker ran it, on which other tasks' results) and, in the learner's process, the calls of the
client's public entry points (``.compute()``, ``dask.compute``, ``client.compute``, ``.result()``,
``client.gather``) with the line that made each and how much came back.

So the structural checks read the graph as it ran, not the code: a task that takes no other task's
result is a partition the graph starts from; tasks on two workers mean the cluster shared the work;
two computes from one line of the learner's mean a compute in a loop; a compute that brings back
the rows (or the cities) instead of the answer means the reduction ran in the learner's program;
more than one data file opened in the learner's process while read_scada ran means pandas read them
there (dd.read_csv opens the first only, for a sample of its columns).

Part 1's files are made by fixtures.aemo (three months of unequal length, two of them cut into
two parts in the middle of an interval, beside two files of other names); the expected summary is
the fixture's own, and the expected rows are counted with the grader's copy of read_month
(graders.given.ex07). Part 2's expected values come from the grader's own loops over fixed edge
cases and seeded random city lists.
"""
from __future__ import annotations

import importlib.util
import io
import math
import random
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd
import pytest

from fixtures import aemo
from fixtures.cities import load_cities
from graders.given import ex07 as given
from graders.grading.feedback import fail, mismatch, show, value_of
from graders.grading.specification import README, Requirement
from graders.grading.target import GradedTarget
from graders.harnesses.collection_calls import bags_on_cluster, frames_on_cluster
from graders.sandbox.calls import Call

FRAMES = "scada"
BAGS = "cities_bag"
RUN_TIMEOUT_S = 45.0
# Part 1: (month, days, parts). Unequal lengths; five files in all, a count two workers do not divide.
MONTHS = ((1, 2, 2), (2, 3, 2), (3, 1, 1))
UNITS = aemo.UNITS  # rows per 5-minute interval
OTHER_FILES = ("PUBLIC_DVD_DISPATCH_PRICE_202101010000.CSV", "README.txt")
# A compute may bring back this many times the summary's rows (mean and std as two Series, say).
RECEIVED_FACTOR = 2
# Part 2
CONTINENTS = ("eu", "pac", "asia", "af", "am")
BIG_CITIES = 40
RANDOM_LISTS = 8
SYLLABLES = ["ber", "lin", "auck", "land", "lon", "don", "shef", "field", "christ", "church", "wel", "ton", "os", "lo"]
BAG_FUNCTIONS = ("names_above", "continent_population", "average_by_continent")


SPECIFICATION = (
    Requirement(
        source="scada.py:read_scada",
        quote='The data rows ("D") of every file of `folder` matching PATTERN, read with READ_OPTIONS, as one Dask DataFrame.',
        checks=("read_rows", "read_lazy"),
        edges="five files of unequal sizes (three months of 2, 3 and 1 days, two cut in two parts in the middle of "
        "an interval); rows counted by the grader's copy of read_month; the comment, header and END rows must be gone",
    ),
    Requirement(
        source="scada.py:read_scada",
        quote="Other files may be in the folder.",
        checks=("read_rows", "summary_results"),
        edges="a DISPATCH_PRICE CSV of other columns (sorted before the SCADA files) and a README.txt: a *.CSV glob fails",
    ),
    Requirement(
        source="scada.py:read_scada",
        quote="At least one partition per file, and nothing computed yet: no .compute() and no pandas reading here, "
        "only the graph that will read the files.",
        checks=("read_lazy", "read_partitions"),
        edges="partitions counted with len(frame.__dask_keys__()) against the five files; computes, tasks and the "
        "files opened in the learner's process recorded during the call (a pandas frame, dd.from_pandas of frames "
        "read here, or from_delayed without meta=, shows)",
    ),
    Requirement(
        source="scada.py:summarise",
        quote="The same table as summarise_with_pandas(folder), computed by the cluster's workers from read_scada(folder).",
        checks=("summary_results", "summary_workers"),
        edges="expected summary from fixtures.aemo; the scheduler's records must show tasks on two workers",
    ),
    Requirement(
        source="scada.py:summarise",
        quote="SCADAVALUE's mean and standard deviation (pandas' std, ddof=1) per SETTLEMENTDATE over all the files, "
        "rows sorted by SETTLEMENTDATE.",
        checks=("summary_results",),
        edges="intervals split between two files (a per-file groupby gives them twice); 28 rows per interval, so "
        "ddof=0 differs from ddof=1 by a factor sqrt(27/28); rows compared in order (Dask's groupby over more than 8 "
        "partitions, a small blocksize, comes back unsorted)",
    ),
    Requirement(
        source="scada.py:summarise",
        quote="One compute for the whole result: the groupby runs on the workers and only the summary comes back.",
        checks=("summary_one_compute", "summary_on_cluster", "summary_workers"),
        edges="computes counted at the client's entry points with the learner's line; rows sent back compared with "
        "the summary's; the partitions the graph started from counted against the files",
    ),
    Requirement(
        source="scada.py:monthly_files",
        quote="The files of `folder` whose names match PATTERN, sorted.",
        checks=("read_rows",),
        edges="given; the folder also holds two files of other names",
    ),
    Requirement(
        source="scada.py:read_month",
        quote='One file\'s data rows ("D"), read with pandas: the serial way.',
        checks=("read_rows",),
        edges="given; the grader's own copy (graders.given.ex07) counts the expected rows",
    ),
    Requirement(
        source="scada.py:summarise_with_pandas",
        quote="The serial summary: every file read with pandas in this process, then one groupby.",
        checks=("summary_results", "summary_workers"),
        edges="given, as the contrast: returning it gives the right table, with no task on the cluster",
    ),
    Requirement(
        source="scada.py:main",
        quote="Summarise `folder` on the cluster at $DASK_SCHEDULER_ADDRESS, or on a local one when it is unset.",
        checks=("summary_workers",),
        edges="given and not called by the grader, which connects its own Client as main would",
    ),
    Requirement(
        source="cities_bag.py",
        quote="A list of cities may be empty, and two cities may have the same name or the same population.",
        checks=BAG_FUNCTIONS,
        edges="[] for every function; a city listed twice and one name on two continents; all-equal populations",
    ),
    Requirement(
        source="cities_bag.py",
        quote='Each city is a record {"name": "Berlin", "population": 3.7, "continent": "eu"} (millions).',
        checks=BAG_FUNCTIONS,
        edges="the tutorial's five cities first; records with extra fields",
    ),
    Requirement(
        source="cities_bag.py:names_above",
        quote="The names of the cities with more than `population` millions, stripped and lower-cased, in order: filter, then map.",
        checks=("names_above", "bags_work_on_cluster"),
        edges="names padded with spaces, tabs and newlines, in mixed case, with an inner space ('  new york ')",
    ),
    Requirement(
        source="cities_bag.py:names_above",
        quote="A city with exactly `population` millions is not kept; repeated names are all kept.",
        checks=("names_above",),
        edges="the five cities at 3.7 (Berlin's), every other random list at one of its own populations; a name "
        "listed twice",
    ),
    Requirement(
        source="cities_bag.py:continent_population",
        quote="Total population of one continent's cities, with map and fold: 0.0 when it has none, or there are no cities.",
        checks=("continent_population", "bags_work_on_cluster"),
        edges="'af' of the five cities (none there), [] with 'eu' (a fold without initial= raises on it), random "
        "lists with absent continents (a fold after a filter that leaves nothing raises, initial= or not)",
    ),
    Requirement(
        source="cities_bag.py",
        quote="One difference from functools.reduce: a Dask fold skips the partitions that are empty, so when a "
        "filter leaves no item at all in a bag of several partitions, its last step has nothing to combine and "
        "raises, initial= or not.",
        checks=("continent_population",),
        edges="the five cities with 'af', and random lists with a continent they lack, in every seed",
    ),
    Requirement(
        source="cities_bag.py:average_by_continent",
        quote="Average population per continent, {continent: average}, folded on the cluster (foldby); {} for no cities.",
        checks=("average_by_continent", "bags_work_on_cluster"),
        edges="the five cities, [], one city, all-equal lists, random lists",
    ),
    Requirement(
        source="cities_bag.py:average_by_continent",
        quote="One key per continent that has cities, no other.",
        checks=("average_by_continent",),
        edges="lists on one or two continents only",
    ),
    Requirement(
        source="cities_bag.py:main",
        quote="The three functions on the tutorial's five cities, on a local cluster.",
        checks=BAG_FUNCTIONS,
        edges="given and not called by the grader; the five cities are the first input of every results check",
    ),
    Requirement(
        source=README,
        quote="Return the Dask DataFrame itself: at least one partition per file, and nothing computed yet.",
        checks=("read_lazy", "read_partitions"),
        edges="see read_scada's docstring",
    ),
    Requirement(
        source=README,
        quote="compute it once, and sort the rows by SETTLEMENTDATE (Dask's groupby does not promise pandas' order). "
        "The result must equal summarise_with_pandas(folder).",
        checks=("summary_results", "summary_one_compute"),
        edges="see summarise's docstring",
    ),
    Requirement(
        source=README,
        quote="Compute everything you need at once (one .compute(), or dask.compute(mean, std)).",
        checks=("summary_one_compute",),
        edges="gallery: mean and std computed apart fail, dask.compute(mean, std) passes",
    ),
    Requirement(
        source=README,
        quote="read_scada(folder).compute() followed by a pandas groupby brings every row to your program",
        checks=("summary_on_cluster",),
        edges="every file holds more than twice the summary's rows, so computing any file's rows shows",
    ),
    Requirement(
        source=README,
        quote="A fold over no cities at all needs a start value: fold(add, initial=0.0).",
        checks=("continent_population",),
        edges="[] with 'eu' in every seed",
    ),
    Requirement(
        source=README,
        quote="Each function computes once, and the fold runs on the cluster: what comes back is the answer (a total, "
        "one pair per continent), not the cities.",
        checks=("bags_one_compute", "bags_work_on_cluster", "bags_on_workers"),
        edges="40 cities on five continents, one item per partition by default; the continent asked for has at "
        "least eight of them, the threshold keeps about a quarter",
    ),
    Requirement(
        source=README,
        quote="| names_above(cities, population) | names of the cities with more than population millions, stripped and "
        "lower-cased, in order | filter, map |",
        checks=("names_above",),
        edges="see the docstring of names_above",
    ),
    Requirement(
        source=README,
        quote="| continent_population(cities, continent) | one continent's total, 0.0 when it has no cities | map, fold |",
        checks=("continent_population",),
        edges="see the docstring of continent_population",
    ),
    Requirement(
        source=README,
        quote="| average_by_continent(cities) | {continent: average}, {} for no cities | foldby (or fold, reduction) |",
        checks=("average_by_continent",),
        edges="gallery: fold and reduction alternatives pass",
    ),
)


# ---------------------------------------------------------------- part 1: the files and what they hold


@dataclass(frozen=True)
class ScadaData:
    files: tuple[tuple[str, bytes], ...]  # every file written to the folder, the other two included
    scada_files: int
    summary: pd.DataFrame  # what summarise must return
    rows: int
    value_sum: float


def _parts(month: aemo.MonthlyArchive, parts: int) -> list[tuple[str, bytes]]:
    """The month's CSV, cut into ``parts`` files in the middle of an interval (each with its own head and END row)."""
    with zipfile.ZipFile(io.BytesIO(month.data)) as archive:
        text = archive.read(archive.namelist()[0]).decode("ascii")
    lines = text.splitlines(keepends=True)
    head, rows = lines[:2], [line for line in lines if line.startswith("D,")]
    stem = month.name.removesuffix(".zip")
    if parts == 1:
        return [(f"{stem}_FILE01.CSV", text.encode("ascii"))]
    # 45% of the rows, rounded down to a whole interval, plus 13 rows: the cut falls inside an interval.
    cut = len(rows) * 9 // 20 // UNITS * UNITS + 13
    pieces = [rows[:cut], rows[cut:]]
    return [
        (f"{stem}_FILE{index:02d}.CSV", "".join([*head, *piece, f'C,"END OF REPORT",{len(piece) + 3}\n']).encode("ascii"))
        for index, piece in enumerate(pieces, start=1)
    ]


def _other_files() -> list[tuple[str, bytes]]:
    price = (
        "C,NEMP.WORLD,DVD_DISPATCHPRICE,AEMO,PUBLIC,2021/01/15,09:21:59,0000000202101010001,DVD_DISPATCHPRICE,0000000202101010001\n"
        "I,DISPATCH,PRICE,1,SETTLEMENTDATE,RUNNO,REGIONID,RRP\n"
        'D,DISPATCH,PRICE,1,"2021/01/01 00:05:00",1,NSW1,41.5\n'
        'D,DISPATCH,PRICE,1,"2021/01/01 00:05:00",1,VIC1,38.25\n'
        'C,"END OF REPORT",5\n'
    )
    return [(OTHER_FILES[0], price.encode("ascii")), (OTHER_FILES[1], b"The SCADA files of the first quarter.\n")]


@lru_cache(maxsize=1)
def scada_data() -> ScadaData:
    months = [aemo.make_archive(aemo.YEAR, month, days=days) for month, days, _ in MONTHS]
    scada = [part for archive, (_, _, parts) in zip(months, MONTHS) for part in _parts(archive, parts)]
    frames = [given.read_month(io.BytesIO(data)) for _, data in scada]
    return ScadaData(
        files=tuple(_other_files() + scada),
        scada_files=len(scada),
        summary=pd.concat([archive.summary for archive in months]),
        rows=sum(len(frame) for frame in frames),
        value_sum=float(sum(frame["SCADAVALUE"].sum() for frame in frames)),
    )


def require_dask() -> None:
    missing = [name for name in ("distributed", "pyarrow") if importlib.util.find_spec(name) is None]
    if missing:
        fail(
            f"Dask's dataframe and cluster parts are not installed ({', '.join(missing)} missing): run "
            'pip install -e ".[distributed]" (or pip install "dask[dataframe,distributed]"), then grade again'
        )


def frames_run(target: GradedTarget):
    """The one part-1 run, shared by its checks: (call, CollectionRun)."""
    require_dask()
    data = scada_data()
    call = Call(
        frames_on_cluster, (list(data.files), target.workers),
        label=f"read_scada(folder) and summarise(folder), folder holding {data.scada_files} SCADA files and 2 others",
    )

    def compute():
        outcome = target.run(FRAMES, [call], timeout=RUN_TIMEOUT_S).outcomes[0]
        run = value_of(outcome, call.describe(), FRAMES)
        if run.workers:
            target.record(f"part 1: cluster of {len(run.workers)} workers started in {run.cluster_start_s:.2f} s")
        return run

    run = target.once("frames", compute)
    value_of(run.outcome, call.describe(), FRAMES)
    if run.network:
        fail(f"called {call.describe()}: it tried to reach the real network: {run.network[0]}", cause="network")
    return call, run


def learner_call(run, function: str):
    record = next((r for r in run.calls if r.function == function), None)
    assert record is not None, f"the harness made no call of {function}"
    return record


def read_record(target: GradedTarget):
    _, run = frames_run(target)
    record = learner_call(run, "read_scada")
    if not record.outcome.ok and "usecols" in record.outcome.error.lower():
        fail(
            f"read_scada(folder) raised {record.outcome.error}"
            f"{f' ({record.outcome.where})' if record.outcome.where else ''}: a file of other columns was read. The folder holds "
            f"other files ({', '.join(OTHER_FILES)}): read only those matching PATTERN",
            cause="read_failed",
        )
    value_of(record.outcome, "read_scada(folder)", FRAMES)
    return record, run.inspection


def summary_record(target: GradedTarget, judge_tasks: bool = False):
    """summarise's record; a call that raised is judged on its records only by the checks that ask (judge_tasks)."""
    _, run = frames_run(target)
    record = learner_call(run, "summarise")
    if not record.outcome.ok and not (judge_tasks and (record.tasks or record.dask_calls)):
        value_of(record.outcome, "summarise(folder)", FRAMES)
    return record


@pytest.mark.points(1)
def test_read_lazy(target):
    record, inspection = read_record(target)
    if not inspection.dask_collection:
        fail(
            f"read_scada(folder) returned a {inspection.kind}, not a Dask DataFrame: the files were read in your "
            "program. Return dd.read_csv(...)'s frame (with the \"D\" rows selected), uncomputed",
            cause="not_lazy",
        )
    if not inspection.kind.endswith("DataFrame"):
        fail(f"read_scada(folder) returned a {inspection.kind}, expected a Dask DataFrame", cause="not_a_dataframe")
    scada_opened = sorted({name for name in record.opened if name not in OTHER_FILES})
    if len(scada_opened) > 1:
        fail(
            f"read_scada(folder) read {len(scada_opened)} of the {scada_data().scada_files} files in your program "
            "while it ran (dd.read_csv opens the first one only, for a sample of its columns): the rows were read "
            "here, not by the workers. Let dd.read_csv (or delayed read_month calls) read them when the graph runs",
            cause="read_in_program",
        )
    if record.computes or record.ran:
        what = f"{len(record.computes)} compute(s)" if record.computes else f"{len(record.ran)} task(s) on the cluster"
        where = f" ({record.computes[0].where})" if record.computes and record.computes[0].where else ""
        fail(
            f"read_scada(folder) computed something before returning: {what}{where}. It only builds the graph; "
            "summarise computes it once (dd.from_delayed needs meta=, or it computes the first file to learn the columns)",
            cause="computed_in_read",
        )


@pytest.mark.points(1)
def test_read_partitions(target):
    _, inspection = read_record(target)
    files = scada_data().scada_files
    if not inspection.dask_collection:
        fail(
            f"read_scada(folder) returned a {inspection.kind}, which has no partitions: a Dask DataFrame with at "
            f"least one partition per file ({files} files) is asked for",
            cause="not_lazy",
        )
    if inspection.partitions is None or inspection.partitions < files:
        fail(
            f"read_scada(folder) returned a Dask DataFrame of {inspection.partitions} partition(s) for {files} files: "
            "one partition per file at least (dd.read_csv over the files gives that; a frame made from one pandas "
            "frame, or npartitions=1, is one block that one worker must process alone)",
            cause="too_few_partitions",
        )
    target.record(f"read_scada: {inspection.partitions} partitions for {files} files")


@pytest.mark.points(1)
def test_read_rows(target):
    _, inspection = read_record(target)
    data = scada_data()
    if inspection.error:
        fail(
            f"computing the frame read_scada(folder) returned raised {inspection.error}: read only the files that "
            "match PATTERN (the folder holds others), with READ_OPTIONS",
            cause="read_failed",
        )
    missing = [column for column in ("SETTLEMENTDATE", "SCADAVALUE") if column not in inspection.columns]
    if missing:
        fail(f"the frame read_scada(folder) returned has columns {inspection.columns}, without {missing}", cause="rows_wrong")
    others = [kind for kind in inspection.row_kinds if kind != "D"]
    if others:
        fail(
            f"the frame read_scada(folder) returned still holds rows whose I column is {show(others)}: keep the "
            "data rows only, frame[frame[\"I\"] == \"D\"]",
            cause="other_rows_kept",
        )
    if inspection.rows != data.rows or not math.isclose(inspection.value_sum or 0.0, data.value_sum, rel_tol=1e-9):
        fail(
            f"the frame read_scada(folder) returned has {inspection.rows} rows (SCADAVALUE summing to "
            f"{inspection.value_sum}), expected the {data.rows} data rows of the {data.scada_files} SCADA files "
            f"(summing to {data.value_sum:.3f}): read every file matching PATTERN, each once",
            cause="rows_wrong",
        )


def frame_problem(got, expected: pd.DataFrame) -> tuple[str, str] | None:
    """(what differs, cause) between the summary returned and the expected one, or None."""
    if not isinstance(got, pd.DataFrame):
        return f"got {show(got)} (a {type(got).__name__}), expected a pandas DataFrame", "summary_type"
    if [str(c) for c in got.columns] != list(expected.columns):
        return f"got columns {[str(c) for c in got.columns]}, expected {list(expected.columns)}", "summary_columns"
    got_dates, expected_dates = list(map(str, got.index)), list(map(str, expected.index))
    if len(got) != len(expected) or set(got_dates) != set(expected_dates):
        repeated = len(got_dates) - len(set(got_dates))
        detail = (
            f" ({repeated} SETTLEMENTDATEs appear more than once: an interval split between two files must be "
            "grouped as one, so group the whole frame, not each file or partition)"
            if repeated
            else ""
        )
        return f"got {len(got)} rows, expected {len(expected)}, one per SETTLEMENTDATE{detail}", "summary_rows"
    if got_dates != expected_dates:
        return "the rows are not sorted by SETTLEMENTDATE: sort the computed summary (sort_index())", "summary_not_sorted"
    try:
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-6, check_index_type=False,
                                      check_names=False, check_dtype=False, check_column_type=False)
    except AssertionError:
        population_std = expected["std"] * math.sqrt((UNITS - 1) / UNITS)
        if got["mean"].sub(expected["mean"]).abs().max() < 1e-6 * expected["mean"].abs().max() + 1e-9 and (
            (got["std"] - population_std).abs().max() <= 1e-6 * population_std.abs().max() + 1e-9
        ):
            return "the standard deviations are the population's (ddof=0); pandas' std, the one expected, is ddof=1", "std_ddof"
        return "the means or standard deviations differ from pandas' (groupby SETTLEMENTDATE, SCADAVALUE's mean and std)", "summary_values"
    return None


@pytest.mark.points(2)
def test_summary_results(target):
    record = summary_record(target)
    problem = frame_problem(record.outcome.value, scada_data().summary)
    if problem:
        fail(f"called summarise(folder): {problem[0]}", cause=problem[1])


def lines_of(computes) -> str:
    return ", ".join(sorted({c.where for c in computes if c.where})) or "lines outside your files"


@pytest.mark.points(2)
def test_summary_one_compute(target):
    record = summary_record(target, judge_tasks=True)
    repeated = record.repeated_lines()
    if repeated:
        where, count = max(repeated.items(), key=lambda item: item[1])
        fail(
            f"summarise(folder) computed {len(record.computes)} times, {count} of them from {where}: a compute in a "
            "loop, once per file or partition, runs them one after another. Build the whole computation lazily "
            "and compute it once",
            cause="compute_in_loop",
        )
    if len(record.computes) > 1:
        fail(
            f"summarise(folder) computed {len(record.computes)} times ({lines_of(record.computes)}): each compute "
            "runs its graph from the files up, so the files were read again for each. Compute everything at once: "
            "agg([\"mean\", \"std\"]) and one .compute(), or dask.compute(mean, std)",
            cause="computed_twice",
        )
    target.record(f"summarise: {len(record.computes)} compute(s)")


@pytest.mark.points(1)
def test_summary_on_cluster(target):
    record = summary_record(target, judge_tasks=True)
    expected = len(scada_data().summary)
    largest = max(record.dask_calls, key=lambda c: c.items, default=None)
    if largest is not None and largest.items > RECEIVED_FACTOR * expected:
        where = f" at {largest.where}" if largest.where else ""
        fail(
            f"a {largest.kind}{where} during summarise(folder) brought {largest.received} back to your program, "
            f"the summary has {expected} rows: the rows came back and the groupby ran in your program. Group and "
            "aggregate the Dask DataFrame, then compute the summary",
            cause="rows_came_back",
        )
    if largest is not None:
        target.record(f"summarise: at most {largest.items} rows came back per compute (the summary has {expected})")


@pytest.mark.points(2)
def test_summary_workers(target):
    record = summary_record(target, judge_tasks=True)
    files = scada_data().scada_files
    if not record.ran:
        fail(
            "no task ran on the cluster during summarise(folder): the summary was computed in your program (pandas, "
            "or a local scheduler such as scheduler=\"threads\"). Build it from read_scada(folder) and call "
            ".compute() without a scheduler argument: the grader's Client is the default",
            cause="no_tasks",
        )
    if len(record.roots) < files:
        fail(
            f"according to the scheduler, the computation started from {len(record.roots)} partition(s) for "
            f"{files} files: read the files as separate partitions (dd.read_csv over them), so that the workers "
            "can read and group them at the same time",
            cause="too_few_partitions",
        )
    workers = record.workers_used
    if len(workers) < 2:
        fail(
            f"according to the scheduler, all {len(record.ran)} task(s) of summarise(folder) ran on one worker "
            f"({workers[0]}), of the cluster's {len(frames_run(target)[1].workers)}",
            cause="one_worker",
        )
    target.record(
        f"summarise: {len(record.roots)} partitions read, {len(record.ran)} tasks on {len(workers)} workers "
        f"in {record.seconds:.2f} s"
    )


# ---------------------------------------------------------------- part 2: the cities as a bag


def _random_name(rng: random.Random) -> str:
    """One or two words of syllables in any case, sometimes padded with spaces, a tab or a newline."""
    words = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(rng.choice((1, 1, 2)))]
    name = rng.choice([str.capitalize, str.upper, str.lower, str.title])(" ".join(words))
    return rng.choice(["", "", " ", "\t"]) + name + rng.choice(["", "", "  ", "\n"])


def _random_city(rng: random.Random) -> dict:
    return {"name": _random_name(rng), "population": round(rng.uniform(0.05, 30.0), 2), "continent": rng.choice(CONTINENTS)}


def _fixed_lists() -> list[list[dict]]:
    """The edges every seed asks, the tutorial's five cities first."""
    return [
        load_cities(),
        [],
        [{"name": "Wellington", "population": 0.21, "continent": "pac"}],
        # All equal.
        [{"name": "Os", "population": 3.0, "continent": "eu"}, {"name": "Lo", "population": 3.0, "continent": "pac"},
         {"name": "Oslo", "population": 3.0, "continent": "eu"}],
        # The same city twice, and one name on two continents.
        [{"name": "London", "population": 8.9, "continent": "eu"}, {"name": "Sheffield", "population": 0.5, "continent": "eu"},
         {"name": "London", "population": 8.9, "continent": "eu"}, {"name": "London", "population": 0.4, "continent": "am"}],
        # Names with spaces and mixed case, records with extra fields.
        [{"name": "  new york ", "population": 8.3, "continent": "am", "id": 2},
         {"name": "SAN josé", "population": 0.98, "continent": "am", "country": "US"},
         {"name": "\tLagos\n", "population": 15.4, "continent": "af", "tags": ["coast"]}],
    ]


def big_cities(seed) -> list[dict]:
    """40 cities on every continent, so each function's bag has many partitions (one city each, by default)."""
    rng = random.Random(f"{seed}-bag-big")
    cities = [_random_city(rng) for _ in range(BIG_CITIES)]
    for index, continent in enumerate(CONTINENTS):
        cities[index]["continent"] = continent
    return cities


def _biggest_continent(cities: list[dict]) -> str:
    counts = {continent: sum(c["continent"] == continent for c in cities) for continent in CONTINENTS}
    return max(CONTINENTS, key=lambda continent: counts[continent])


def expected_names_above(cities, population):
    return [city["name"].strip().lower() for city in cities if city["population"] > population]


def expected_continent_population(cities, continent):
    total = 0.0
    for city in cities:
        if city["continent"] == continent:
            total += city["population"]
    return total


def expected_average_by_continent(cities):
    groups: dict[str, list[float]] = {}
    for city in cities:
        groups.setdefault(city["continent"], []).append(city["population"])
    return {continent: sum(values) / len(values) for continent, values in groups.items()}


EXPECTED = {
    "names_above": expected_names_above,
    "continent_population": expected_continent_population,
    "average_by_continent": expected_average_by_continent,
}


@lru_cache(maxsize=4)
def bag_cases(seed) -> dict[str, list[tuple]]:
    """Arguments per function: fixed edges, seeded random lists, and last the 40 cities (the structural checks' input)."""
    rng = random.Random(f"{seed}-bag-cases")
    fixed = _fixed_lists()
    randoms = [[_random_city(rng) for _ in range(rng.randint(1, 12))] for _ in range(RANDOM_LISTS)]
    big = big_cities(seed)
    sorted_big = sorted(city["population"] for city in big)
    names = [(fixed[0], 1.0), (fixed[0], 3.7), (fixed[0], 100.0), ([], 1.0), (fixed[3], 3.0), (fixed[4], 0.45), (fixed[5], 0.5)]
    for index, cities in enumerate(randoms):
        threshold = rng.choice(cities)["population"] if index % 2 == 0 else round(rng.uniform(0, 20), 2)
        names.append((cities, threshold))
    names.append((big, sorted_big[3 * len(big) // 4]))
    populations = [(fixed[0], "pac"), (fixed[0], "eu"), (fixed[0], "af"), ([], "eu"), (fixed[4], "am"), (fixed[5], "af")]
    populations += [(cities, rng.choice(CONTINENTS)) for cities in randoms]
    populations.append((big, _biggest_continent(big)))
    averages = [(cities,) for cities in fixed + randoms] + [(big,)]
    return {"names_above": names, "continent_population": populations, "average_by_continent": averages}


def bags_run(target: GradedTarget):
    require_dask()
    cases = bag_cases(target.settings.seed)
    calls = [(function, args) for function in BAG_FUNCTIONS for args in cases[function]]
    call = Call(
        bags_on_cluster, (calls, target.workers),
        label=f"names_above, continent_population and average_by_continent on {len(calls)} city lists",
    )

    def compute():
        outcome = target.run(BAGS, [call], timeout=RUN_TIMEOUT_S).outcomes[0]
        run = value_of(outcome, call.describe(), BAGS)
        if run.workers:
            target.record(f"part 2: cluster of {len(run.workers)} workers started in {run.cluster_start_s:.2f} s")
        return run

    run = target.once("bags", compute)
    value_of(run.outcome, call.describe(), BAGS)
    if run.network:
        fail(f"called {call.describe()}: it tried to reach the real network: {run.network[0]}", cause="network")
    return run


def describe_call(function: str, args: tuple) -> str:
    shown = []
    for arg in args:
        if isinstance(arg, list):
            names = ", ".join(repr(city["name"]) for city in arg[:4])
            shown.append(f"<{len(arg)} cities{': ' + names if arg else ''}{', ...' if len(arg) > 4 else ''}>")
        else:
            shown.append(show(arg))
    return f"{function}({', '.join(shown)})"


def same(got: Any, expected: Any) -> bool:
    if isinstance(expected, float):
        return isinstance(got, (int, float)) and not isinstance(got, bool) and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, dict):
        return isinstance(got, dict) and got.keys() == expected.keys() and all(same(got[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(same(g, e) for g, e in zip(got, expected))
    return type(got) is type(expected) and got == expected


def diagnose(function: str, args: tuple, got: Any) -> tuple[str, str | None]:
    """(detail, cause) of a wrong result, when the grader can tell which rule it broke."""
    if function == "names_above" and isinstance(got, list):
        cities, threshold = args
        if same(got, [c["name"].strip().lower() for c in cities if c["population"] >= threshold]):
            return "a city whose population equals the threshold is not more than it", "not_strict"
        if len(got) == len(expected_names_above(cities, threshold)):
            return "each name stripped of its spaces and lower-cased: city[\"name\"].strip().lower()", "names_not_cleaned"
    if function == "continent_population" and args[1] not in {c["continent"] for c in args[0]}:
        return f"no city is on {args[1]!r}, so its total is 0.0", "empty_fold"
    if function == "average_by_continent" and isinstance(got, dict) and set(got) - {c["continent"] for c in args[0]}:
        return "only continents that have cities are keys", "absent_continent"
    return "", None


def bag_records(target: GradedTarget, function: str) -> list[tuple[tuple, Any]]:
    run = bags_run(target)
    cases = bag_cases(target.settings.seed)[function]
    records = run.named(function)
    assert len(records) == len(cases), f"{len(records)} records of {function} for {len(cases)} cases"
    return list(zip(cases, records))


def check_bag_results(target: GradedTarget, function: str) -> None:
    for args, record in bag_records(target, function):
        call = describe_call(function, args)
        outcome = record.outcome
        if not outcome.ok and "reduce() of empty" in outcome.error:
            filtered = args[0] and args[1] not in {city["continent"] for city in args[0]}
            fail(
                f"{call} raised {outcome.error}: "
                + (
                    "no city is on that continent, and a Dask fold skips empty partitions, so after a filter that "
                    "left nothing its last step had nothing to combine (initial= or not)"
                    if filtered
                    else "a fold over no cities has nothing to start from"
                ),
                cause="fold_after_empty_filter" if filtered else "fold_without_initial",
            )
        got = value_of(outcome, call, BAGS)
        wanted = EXPECTED[function](*args)
        if not same(got, wanted):
            detail, cause = diagnose(function, args, got)
            fail(mismatch(call, got, wanted, detail), cause=cause)


@pytest.mark.points(1)
def test_names_above(target):
    check_bag_results(target, "names_above")


@pytest.mark.points(1)
def test_continent_population(target):
    check_bag_results(target, "continent_population")


@pytest.mark.points(1)
def test_average_by_continent(target):
    check_bag_results(target, "average_by_continent")


def big_records(target: GradedTarget, judge_tasks: bool = False):
    """(function, call text, record, expected answer) of each function's call on the 40 cities."""
    found = []
    for function in BAG_FUNCTIONS:
        args, record = bag_records(target, function)[-1]
        call = describe_call(function, args)
        if not record.outcome.ok and not (judge_tasks and (record.tasks or record.dask_calls)):
            value_of(record.outcome, call, BAGS)
        found.append((function, call, record, EXPECTED[function](*args)))
    return found


@pytest.mark.points(1)
def test_bags_on_workers(target):
    figures = []
    for function, call, record, _ in big_records(target, judge_tasks=True):
        if not record.ran:
            fail(
                f"no task ran on the cluster during {call}: the work was done in your program (a list, or a local "
                "scheduler such as scheduler=\"threads\"). Build a bag with db.from_sequence(cities) and call "
                ".compute() without a scheduler argument",
                cause="no_tasks",
            )
        if len(record.roots) < 2:
            fail(
                f"according to the scheduler, {call} started from {len(record.roots)} partition: one block that one "
                "worker processes alone. Let db.from_sequence(cities) split the cities (or give npartitions of 2 or more)",
                cause="one_partition",
            )
        if len(record.workers_used) < 2:
            fail(
                f"according to the scheduler, all {len(record.ran)} task(s) of {call} ran on one worker",
                cause="one_worker",
            )
        figures.append(f"{function}: {len(record.roots)} partitions, {len(record.workers_used)} workers")
    target.record("; ".join(figures))


@pytest.mark.points(1)
def test_bags_one_compute(target):
    """Every call that computed is judged; one that raised before computing is its results check's to charge."""
    unjudged = []
    for function in BAG_FUNCTIONS:
        for args, record in bag_records(target, function):
            call = describe_call(function, args)
            if not record.outcome.ok and not record.dask_calls:
                unjudged.append((call, record.outcome))
                continue
            repeated = record.repeated_lines()
            if repeated:
                where, count = max(repeated.items(), key=lambda item: item[1])
                fail(
                    f"{call} computed {len(record.computes)} times, {count} of them from {where}: a compute per "
                    "item (or in a loop) runs the items one after another. Build one bag of all the cities, chain "
                    "filter/map/fold, and compute once",
                    cause="compute_per_item",
                )
            if len(record.computes) > 1:
                fail(
                    f"{call} computed {len(record.computes)} times ({lines_of(record.computes)}): chain the steps "
                    "on the bag and compute once",
                    cause="computed_twice",
                )
    total = sum(len(bag_records(target, function)) for function in BAG_FUNCTIONS)
    if len(unjudged) == total:
        call, outcome = unjudged[0]
        value_of(outcome, call, BAGS)


@pytest.mark.points(1)
def test_bags_work_on_cluster(target):
    figures = []
    for function, call, record, expected in big_records(target, judge_tasks=True):
        answer = max(1, len(expected) if isinstance(expected, (list, dict)) else 1)
        largest = max(record.dask_calls, key=lambda c: c.items, default=None)
        if largest is not None and largest.items > RECEIVED_FACTOR * answer:
            where = f" at {largest.where}" if largest.where else ""
            fail(
                f"a {largest.kind}{where} during {call} brought {largest.received} back to your program, the answer "
                f"has {answer}: the cities came back and the rest ran in a Python loop in your program. Chain "
                "filter, map and fold (or foldby) on the bag, and compute the answer",
                cause="items_came_back",
            )
        figures.append(f"{function}: {largest.items if largest else 0} item(s) came back")
    target.record("; ".join(figures))
