"""Gallery entry, appended to solutions/05_distributed/cluster.py: the whole serial pipeline submitted as one task."""


def run_on_cluster(urls):
    with Client(scheduler_address()) as client:
        return client.submit(run_serial, urls).result()
