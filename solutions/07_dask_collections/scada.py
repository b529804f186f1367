"""Part 1: the monthly SCADA files as one Dask DataFrame, summarised by a cluster.

In exercises 04 and 05 you summarised one archive per task with pandas and stitched the months
together yourself. A Dask DataFrame keeps that bookkeeping for you: it is one table made of many
pandas DataFrames, its partitions (here at least one per file), and its methods (selecting rows,
groupby, mean, std...) only build a graph of tasks: one per partition and step, plus the tasks that
combine the partitions' partial results. Nothing runs until .compute() (or dask.compute) hands the
whole graph to the scheduler, which runs it on the workers of the cluster the Client is connected to
and sends back only the result.

The grader connects a Client to a cluster of its own before it calls your functions, so .compute()
runs there. `python scada.py FOLDER` uses the cluster at DASK_SCHEDULER_ADDRESS, or starts a local one.
"""
import glob
import os
import sys

import dask.dataframe as dd
import pandas as pd

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
# A large month comes in parts (..._FILE01.CSV, ..._FILE02.CSV) cut wherever the size limit fell, so
# the rows of one 5-minute interval may begin in one file and end in the next.
PATTERN = "PUBLIC_DVD_DISPATCH_UNIT_SCADA_*.CSV"
# How every file is read: row 1 is a "C" comment, the "I" row below it names the columns, and the
# closing "C,END OF REPORT" row leaves the data columns empty.
READ_OPTIONS = {
    "skiprows": 1,
    "usecols": ["I", "SETTLEMENTDATE", "DUID", "SCADAVALUE"],
    "dtype": {"I": "str", "SETTLEMENTDATE": "str", "DUID": "str", "SCADAVALUE": "float64"},
}


def monthly_files(folder):
    """The files of `folder` whose names match PATTERN, sorted."""
    return sorted(glob.glob(os.path.join(folder, PATTERN)))


def read_month(path):
    """One file's data rows ("D"), read with pandas: the serial way."""
    frame = pd.read_csv(path, **READ_OPTIONS)
    return frame[frame["I"] == "D"]


def summarise_with_pandas(folder):
    """The serial summary: every file read with pandas in this process, then one groupby."""
    frame = pd.concat([read_month(path) for path in monthly_files(folder)])
    return frame.groupby("SETTLEMENTDATE")["SCADAVALUE"].agg(["mean", "std"])


def read_scada(folder):
    """The data rows ("D") of every file of `folder` matching PATTERN, read with READ_OPTIONS, as one Dask DataFrame.

    Other files may be in the folder. At least one partition per file, and nothing computed yet:
    no .compute() and no pandas reading here, only the graph that will read the files.
    """
    # TODO: dd.read_csv over the matching files (a glob pattern, or the list monthly_files gives) with
    # READ_OPTIONS, then keep the rows whose "I" column is "D".
    ### BEGIN SOLUTION
    frame = dd.read_csv(os.path.join(folder, PATTERN), **READ_OPTIONS)
    return frame[frame["I"] == "D"]
    ### END SOLUTION


def summarise(folder):
    """The same table as summarise_with_pandas(folder), computed by the cluster's workers from read_scada(folder).

    SCADAVALUE's mean and standard deviation (pandas' std, ddof=1) per SETTLEMENTDATE over all the
    files, rows sorted by SETTLEMENTDATE. One compute for the whole result: the groupby runs on the
    workers and only the summary comes back.
    """
    # TODO: group read_scada(folder) by SETTLEMENTDATE, aggregate SCADAVALUE with ["mean", "std"],
    # compute it once, and sort the rows by SETTLEMENTDATE.
    ### BEGIN SOLUTION
    summary = read_scada(folder).groupby("SETTLEMENTDATE")["SCADAVALUE"].agg(["mean", "std"])
    return summary.compute().sort_index()
    ### END SOLUTION


def main(folder):
    """Summarise `folder` on the cluster at $DASK_SCHEDULER_ADDRESS, or on a local one when it is unset."""
    from distributed import Client, LocalCluster

    address = os.environ.get(SCHEDULER_ENV)
    if address:
        with Client(address):
            return summarise(folder)
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        print(f"no {SCHEDULER_ENV}: started a local cluster, dashboard at {client.dashboard_link}")
        return summarise(folder)


if __name__ == "__main__":
    print(main(sys.argv[1] if len(sys.argv) > 1 else "."))
