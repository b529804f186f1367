import threading


def _in_threads(function, argument_lists, workers):
    """function(*arguments) for each list of arguments, by `workers` threading.Thread objects, in order."""
    results = [None] * len(argument_lists)

    def work(positions):
        for position in positions:
            results[position] = function(*argument_lists[position])

    shares = [range(index, len(argument_lists), workers) for index in range(workers)]
    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def fetch_all(urls, workers):
    return _in_threads(fetch, [(url,) for url in urls], workers)


def largest_entry_all(seeds, size, workers):
    return _in_threads(largest_entry, [(seed, size) for seed in seeds], workers)
