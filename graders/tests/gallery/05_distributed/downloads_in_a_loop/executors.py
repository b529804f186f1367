"""Gallery entry, appended to solutions/05_distributed/executors.py: the downloads in a plain loop, each waiting for the previous one."""


def download_all(urls, folder, workers):
    results, failures = {}, {}
    for url in urls:
        try:
            results[url] = download(url, folder)
        except Exception as error:
            failures[url] = describe_failure(error)
    return results, failures
