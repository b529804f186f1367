"""Gallery entry, appended to solutions/05_distributed/cluster.py: a correct alternative, handing each download on with submit as it completes."""

from distributed import as_completed


def run_on_cluster(urls):
    with Client(scheduler_address()) as client:
        downloads = [client.submit(download, url) for url in urls]
        position = {future.key: index for index, future in enumerate(downloads)}
        summaries = [None] * len(urls)
        for future in as_completed(downloads):
            summaries[position[future.key]] = client.submit(process_archive, future)
        return pd.concat(client.gather(summaries))
