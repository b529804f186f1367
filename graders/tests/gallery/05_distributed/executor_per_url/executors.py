"""Gallery entry, appended to solutions/05_distributed/executors.py: a new one-thread executor for every URL, never shut down."""


def download_all(urls, folder, workers):
    futures = {ThreadPoolExecutor(1).submit(download, url, folder): url for url in urls}
    results, failures = {}, {}
    for future in as_completed(futures):
        try:
            results[futures[future]] = future.result()
        except Exception as error:
            failures[futures[future]] = describe_failure(error)
    return results, failures
