"""Gallery entry, appended to solutions/05_distributed/executors.py: a ThreadPoolExecutor for the CPU-bound summaries."""


def summarise_all(paths, workers):
    with ThreadPoolExecutor(workers) as executor:
        return collect(executor, summarise_file, paths)
