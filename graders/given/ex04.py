"""The grader's own copies of what exercise 04 gives the learner in pipeline.py.

The grader's serial baseline and reference pipeline use these, never the learner's module: a learner
who changes process_archive or run_serial changes neither the work the grader times against nor
the answer it expects. graders/tests/test_given.py keeps each copied function identical to the stub's.
"""
import io
import zipfile

import httpx
import pandas as pd

STUB_FUNCTIONS = {"pipeline": ("archive_name", "process_archive", "run_serial")}

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
