"""The closing exercise: download monthly market-data archives and summarise each one.

Each archive is a zip holding one month of AEMO DISPATCH_UNIT_SCADA data: the output (SCADAVALUE,
in MW) of every generating unit, every 5 minutes. `process_archive` reads one with pandas and
summarises it: the mean and standard deviation of SCADAVALUE per 5-minute interval
(SETTLEMENTDATE).

`run_serial` downloads an archive, processes it, then moves on to the next. But the two halves
are different kinds of work: downloading is waiting (IO-bound: asyncio lets many waits overlap),
processing is computing (CPU-bound: only several processes compute at once). Write
`run_pipeline`, which downloads all the archives concurrently with asyncio and hands each one to
a pool of `processes` worker processes as soon as it has arrived.

Both versions return the monthly summaries concatenated in the order of `urls`, and raise
ArchiveError, naming the archive's file, when an archive cannot be read.

`archive_name`, `process_archive` and `run_serial` are given: the grader times your pipeline
against its own copy of `run_serial`, and checks your result against the months it generated.
"""
import asyncio
import io
import zipfile
from concurrent.futures import ProcessPoolExecutor

import httpx
import pandas as pd

TIMEOUT_S = 30.0


class ArchiveError(Exception):
    """An archive that could not be read; the message names its file."""


def archive_name(url):
    """The archive's file name: the last part of its URL."""
    return url.rsplit("/", 1)[-1]


def process_archive(data):
    """SCADAVALUE's mean and standard deviation per SETTLEMENTDATE, from one zipped MMSDM CSV file."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        with archive.open(archive.namelist()[0]) as csv_file:
            # Row 1 is a "C" comment; the "I" row below it names the columns.
            frame = pd.read_csv(csv_file, skiprows=1)
    frame = frame[frame["I"] == "D"]  # data rows only: drops the closing "C,END OF REPORT" row
    return frame.groupby("SETTLEMENTDATE")["SCADAVALUE"].agg(["mean", "std"])


def run_serial(urls):
    """The serial pipeline: download one archive, process it, then the next one."""
    summaries = []
    with httpx.Client(timeout=TIMEOUT_S) as client:
        for url in urls:
            response = client.get(url)
            response.raise_for_status()
            try:
                summaries.append(process_archive(response.content))
            except Exception as error:
                raise ArchiveError(f"{archive_name(url)} could not be read: {error}") from error
    return pd.concat(summaries)


async def run_pipeline(urls, processes):
    """The same result as run_serial: downloads overlap, and each archive is processed as soon as it arrives.

    Every download starts at once, on one httpx.AsyncClient shared by the whole call and created
    with timeout=TIMEOUT_S (httpx's own default gives up after 5 s). Each archive goes to
    process_archive, as soon as it has arrived, in one ProcessPoolExecutor of exactly `processes`
    workers, created once for the call. The summaries keep the order of `urls`, whatever order the
    downloads finish in. An archive that cannot be read raises ArchiveError, whose message names
    its file (archive_name(url)). Nothing is left running when the function returns: close the
    pool and the client (`with`, `async with`).
    """
    # TODO: in one ProcessPoolExecutor(processes) and one httpx.AsyncClient(timeout=TIMEOUT_S), run a
    # task per URL that downloads the archive, then awaits loop.run_in_executor(pool, process_archive, ...)
    # (turning a failure into an ArchiveError that names the file). Gather the tasks, keep the order of urls.
    raise NotImplementedError
