"""Part 2: the same pipeline on a Dask cluster, one machine or many.

A Dask cluster is a scheduler and some workers: separate processes, on this machine or on others,
that talk over the network. A `Client` connects to the scheduler's address; `client.submit(f, x)`
and `client.map(f, xs)` return Futures at once, and the scheduler runs each task on a worker.

The key idea: a Future can be the argument of another task. `client.map(process_archive,
downloads)`, where `downloads` are the download tasks' futures, tells the scheduler "process each
archive once its download is done", and the archive's bytes then go from worker to worker (usually
they stay where they were downloaded) without ever passing through your program. Only what you
`gather` at the end, the small monthly summaries, travels to the client.

The scheduler's address comes from the environment variable DASK_SCHEDULER_ADDRESS, so this file
runs unchanged against a cluster on this machine (what the grader starts) or on many machines
(see README.md).
"""
import io
import os
import sys
import zipfile

import httpx
import pandas as pd
from distributed import Client

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
TIMEOUT_S = 30.0
# The tutorial's archives: four months of 2021 from AEMO's NEMweb (large files, real network).
NEMWEB = "https://nemweb.com.au/Data_Archive/Wholesale_Electricity/MMSDM"
TUTORIAL_URLS = [
    f"{NEMWEB}/2021/MMSDM_2021_{month:02d}/MMSDM_Historical_Data_SQLLoader/DATA/"
    f"PUBLIC_DVD_DISPATCH_UNIT_SCADA_2021{month:02d}010000.zip"
    for month in range(1, 5)
]


def scheduler_address():
    """The address of the Dask scheduler to use, from the environment."""
    address = os.environ.get(SCHEDULER_ENV)
    if not address:
        raise RuntimeError(
            f"{SCHEDULER_ENV} is not set: set it to a Dask scheduler's address, e.g. tcp://10.0.0.5:8786"
        )
    return address


def download(url):
    """The archive's bytes (IO-bound: mostly waiting for the network)."""
    response = httpx.get(url, timeout=TIMEOUT_S)
    response.raise_for_status()
    return response.content


def process_archive(data):
    """SCADAVALUE's mean and standard deviation per SETTLEMENTDATE, from one zipped MMSDM CSV file (CPU-bound)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        with archive.open(archive.namelist()[0]) as csv_file:
            # Row 1 is a "C" comment; the "I" row below it names the columns.
            frame = pd.read_csv(csv_file, skiprows=1)
    frame = frame[frame["I"] == "D"]  # data rows only: drops the closing "C,END OF REPORT" row
    return frame.groupby("SETTLEMENTDATE")["SCADAVALUE"].agg(["mean", "std"])


def run_serial(urls):
    """The serial pipeline: download one archive, process it, then the next."""
    return pd.concat([process_archive(download(url)) for url in urls])


def run_on_cluster(urls):
    """The same result as run_serial, computed by the workers of the cluster at scheduler_address().

    Every download and every processing step is a task of its own, processing each archive starts
    as soon as its download is done, and the archives stay on the workers: only the summaries come
    back. The summaries are concatenated in the order of urls, whichever download finishes first.
    One Client for the whole call, closed before returning; no cluster of its own.
    """
    # TODO: in `with Client(scheduler_address()) as client:`, map download over the urls, map
    # process_archive over the resulting futures (not over their results), then gather the
    # summaries and concatenate them in the order of urls.
    raise NotImplementedError


def main(urls):
    """Run the pipeline on the cluster at $DASK_SCHEDULER_ADDRESS, or on a local one when it is unset."""
    if os.environ.get(SCHEDULER_ENV):
        return run_on_cluster(urls)
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster:
        print(f"no {SCHEDULER_ENV}: started a local cluster, dashboard at {cluster.dashboard_link}")
        os.environ[SCHEDULER_ENV] = cluster.scheduler_address
        try:
            return run_on_cluster(urls)
        finally:
            del os.environ[SCHEDULER_ENV]


if __name__ == "__main__":
    print(main(sys.argv[1:] or TUTORIAL_URLS))
