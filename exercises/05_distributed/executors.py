"""Part 1: the standard library's executors, with futures you submit and collect as they complete.

`summarise_all_with_pool` is how exercise 02 would do it: `Pool.map` hands every path to a pool of
processes and returns the summaries in order. It has two weaknesses. The results only come back
all together, once the last one is ready. And one failing task (a damaged archive) makes `map`
raise: the results of all the others are lost, and the error does not say which input failed.

`concurrent.futures` offers another interface over the same pools. `executor.submit(function,
item)` returns a Future at once; `as_completed(futures)` yields each future as soon as it is done,
and `future.result()` returns its value or raises its exception, so each task can succeed or fail
on its own. The interface is the same for threads and processes, so one `collect` serves both:
- downloading is IO-bound (waiting for the network): threads, a `ThreadPoolExecutor`;
- summarising is CPU-bound (pandas parsing and grouping): processes, a `ProcessPoolExecutor`.
"""
import functools
import os
import zipfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from multiprocessing import Pool

import httpx
import pandas as pd

TIMEOUT_S = 30.0


def archive_name(url):
    """The archive's file name: the last part of its URL."""
    return url.rsplit("/", 1)[-1]


def describe_failure(error):
    """How a failure is reported: the exception's type and message."""
    return f"{type(error).__name__}: {error}"


def download(url, folder):
    """Download one archive into `folder`; returns the path of the file written."""
    response = httpx.get(url, timeout=TIMEOUT_S)
    response.raise_for_status()
    path = os.path.join(folder, archive_name(url))
    with open(path, "wb") as file:
        file.write(response.content)
    return path


def summarise_file(path):
    """SCADAVALUE's mean and standard deviation per SETTLEMENTDATE, from one zipped MMSDM CSV file."""
    with zipfile.ZipFile(path) as archive:
        with archive.open(archive.namelist()[0]) as csv_file:
            # Row 1 is a "C" comment; the "I" row below it names the columns.
            frame = pd.read_csv(csv_file, skiprows=1)
    frame = frame[frame["I"] == "D"]  # data rows only: drops the closing "C,END OF REPORT" row
    return frame.groupby("SETTLEMENTDATE")["SCADAVALUE"].agg(["mean", "std"])


def summarise_all_with_pool(paths, processes):
    """The pool-based version: {path: summary}, but one damaged archive loses every result."""
    with Pool(processes) as pool:
        return dict(zip(paths, pool.map(summarise_file, paths)))


def collect(executor, function, items):
    """Run function(item) for every item on `executor`; returns (results, failures).

    Every task is submitted before any result is awaited, so the tasks run at the same time.
    results: {item: function(item)} for the items whose task succeeded, whatever the value (0 and
    None included);
    failures: {item: describe_failure(error)} for those whose task raised.
    The tasks finish in any order: each result or failure goes under its own item.
    A failing task must not stop the others, nor lose their results.
    """
    # TODO: submit one task per item (remember which item each future belongs to), then take the
    # futures with as_completed and put each one's result, or its failure, under its item.
    raise NotImplementedError


def download_all(urls, folder, workers):
    """IO-bound: download every URL into `folder` with `workers` threads; returns collect's (results, failures).

    One ThreadPoolExecutor of exactly `workers` threads for the whole call, shut down before returning.
    results: {url: path of the file written}; failures: {url: describe_failure(error)}.
    """
    # TODO: collect on a ThreadPoolExecutor(workers); functools.partial(download, folder=folder)
    # is a function of the URL alone.
    raise NotImplementedError


def summarise_all(paths, workers):
    """CPU-bound: summarise every file with `workers` processes; returns collect's (results, failures).

    One ProcessPoolExecutor of exactly `workers` processes for the whole call, shut down before returning.
    results: {path: summarise_file(path)}; failures: {path: describe_failure(error)}.
    """
    # TODO: the same collect, on a ProcessPoolExecutor(workers) this time.
    raise NotImplementedError
