"""Gallery entry, appended to solutions/05_distributed/cluster.py: every archive comes back to the client, then goes out again to be processed."""


def run_on_cluster(urls):
    with Client(scheduler_address()) as client:
        archives = client.gather(client.map(download, urls))
        return pd.concat(client.gather(client.map(process_archive, archives)))
