"""Gallery entry, appended to solutions/05_distributed/cluster.py: the Client is never closed."""


def run_on_cluster(urls):
    client = Client(scheduler_address())
    downloads = client.map(download, urls)
    summaries = client.map(process_archive, downloads)
    return pd.concat(client.gather(summaries))
