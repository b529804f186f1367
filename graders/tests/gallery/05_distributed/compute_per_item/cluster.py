"""Gallery entry, appended to solutions/05_distributed/cluster.py: one small graph per URL, computed and waited for before the next one is built."""

import dask


def run_on_cluster(urls):
    with Client(scheduler_address()):
        summaries = []
        for url in urls:
            summaries.append(dask.delayed(process_archive)(dask.delayed(download)(url)).compute())
        return pd.concat(summaries)
