"""Gallery entry, appended to solutions/05_distributed/executors.py: the thread pool sized by its default, not by workers."""


def download_all(urls, folder, workers):
    with ThreadPoolExecutor() as executor:
        return collect(executor, functools.partial(download, folder=folder), urls)
