"""Gallery entry, appended to solutions/05_distributed/executors.py: collect renamed; the message must list the functions really found."""

collect_all = collect
del collect


def download_all(urls, folder, workers):
    with ThreadPoolExecutor(workers) as executor:
        return collect_all(executor, functools.partial(download, folder=folder), urls)
