"""Gallery entry, appended to solutions/05_distributed/cluster.py: a cluster of its own, kept for later calls and never closed."""
from distributed import LocalCluster

CLUSTER = None


def run_on_cluster(urls):
    global CLUSTER
    if CLUSTER is None:
        CLUSTER = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
    with Client(CLUSTER) as client:
        return pd.concat(client.gather(client.map(process_archive, client.map(download, urls))))
