"""Gallery entry, appended to solutions/05_distributed/cluster.py: ignores DASK_SCHEDULER_ADDRESS and starts a cluster of its own."""

from distributed import LocalCluster


def run_on_cluster(urls):
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            return pd.concat(client.gather(client.map(process_archive, client.map(download, urls))))
