"""Gallery entry, appended to solutions/05_distributed/cluster.py: a correct alternative: Client() configured from the environment, one dask.compute of delayed calls."""

import dask


def run_on_cluster(urls):
    with Client():  # no address: DASK_SCHEDULER_ADDRESS, through Dask's configuration
        summaries = [dask.delayed(process_archive)(dask.delayed(download)(url)) for url in urls]
        return pd.concat(dask.compute(*summaries))
