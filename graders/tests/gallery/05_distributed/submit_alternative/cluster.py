"""Gallery entry, appended to solutions/05_distributed/cluster.py: a correct alternative, client.submit per URL and per download future, one gather at the end."""


def run_on_cluster(urls):
    with Client(scheduler_address()) as client:
        summaries = [client.submit(process_archive, client.submit(download, url)) for url in urls]
        return pd.concat(client.gather(summaries))
